"""Forms of annotation: what a study admin may set on a track."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Q, QuerySet
from django.http import QueryDict

from annotate.adaptive import MAX_VOTES_LIMIT, StoppingRule, VoteMode, VotePlan
from annotate.models import NARRATIVE_KINDS, QUALITY_RATE_MAX, STOPPING_RULES, VOTE_MODES, Comparison, Track
from generation.models import Identity, Method, Prompt, Video
from lib.roles import ANNOTATORS_GROUP


def annotator_choices(*, also: QuerySet | None = None) -> QuerySet:
    """Who can be seated: members of the annotators group or any active non-staff user.

    ``also`` keeps people already seated selectable, so saving the form never drops them silently.
    """
    eligible = Q(is_active=True) & (Q(groups__name=ANNOTATORS_GROUP) | Q(is_staff=False))
    if also is not None:
        eligible |= Q(pk__in=also.values("pk"))
    return get_user_model().objects.filter(eligible).distinct().order_by("username")


class _UserChoiceField(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj: AbstractBaseUser) -> str:
        return obj.get_username()


class _MethodChoiceField(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj: Method) -> str:
        # The admin picks checkpoints: show what the ML team needs to tell them apart.
        details = ["studied method" if obj.role == Method.Role.OURS else "baseline"]
        if obj.checkpoint:
            details.append(obj.checkpoint)
        return " · ".join([obj.name, *details])


class _PromptChoiceField(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj: Prompt) -> str:
        return f"{obj.slug} · {obj.task}"


def _rate_percent_field(what: str, help_text: str) -> forms.FloatField:
    """A share of handouts, entered in percent (0 to 50)."""
    most = round(QUALITY_RATE_MAX * 100)
    message = f"{what} rate must be between 0 and {most} %."
    # The range's messages are formatted with the limit: their % is written %%.
    bounded = message.replace("%", "%%")
    return forms.FloatField(
        min_value=0,
        max_value=most,
        initial=5,
        label=f"{what} rate (%)",
        help_text=help_text,
        error_messages={"min_value": bounded, "max_value": bounded, "invalid": message},
    )


class TrackChecksForm(forms.Form):
    """The track's quality checks, in percent of the comparisons handed out to each annotator."""

    gold_rate = _rate_percent_field(
        "Gold", "Share of comparisons that are gold (known answer), 0 to 50 % (0 = none)."
    )
    repeat_rate = _rate_percent_field(
        "Repeat", "Share of comparisons shown again later with sides swapped, 0 to 50 % (0 = none)."
    )

    def rates(self) -> dict[str, float]:
        """The cleaned rates as the track stores them: fractions (an empty one on a new track: 5 %)."""
        return {
            name: (5 if self.cleaned_data[name] is None else self.cleaned_data[name]) / 100
            for name in ("gold_rate", "repeat_rate")
        }


class _TrackSettingsForm(forms.Form):
    """What a track asks of its annotators, set when it is made and editable after: its name and
    instructions, votes per comparison, choices, watch rule and team."""

    name = forms.CharField(max_length=120)
    votes_needed = forms.IntegerField(
        min_value=1,
        max_value=50,
        initial=3,
        label="Fixed: votes per comparison",
        help_text="Votes each comparison gets when the number is fixed (1–50).",
    )
    vote_mode = forms.ChoiceField(
        choices=VOTE_MODES,
        initial=VoteMode.FIXED,
        required=False,  # not given: fixed, as tracks were before adaptive votes
        widget=forms.RadioSelect,
        label="Mode",
        help_text="Fixed: every comparison gets the same number. Until decided: a clear comparison stops "
        "early, a split one gets more, up to the maximum.",
    )
    min_votes = forms.IntegerField(
        min_value=1, max_value=MAX_VOTES_LIMIT, initial=2, label="Until decided: at least", required=False
    )
    max_votes = forms.IntegerField(
        min_value=1,
        max_value=MAX_VOTES_LIMIT,
        initial=9,
        label="Until decided: at most",
        required=False,
        help_text="9 by default; where ties are allowed, 6 saves more votes (bench/README.md).",
    )
    stopping_rule = forms.ChoiceField(
        choices=STOPPING_RULES, initial=StoppingRule.POSTERIOR, widget=forms.RadioSelect, required=False
    )
    error_target = forms.FloatField(
        initial=0.2,
        required=False,
        label="Error target",
        help_text="Posterior rule: stop once the other side keeps less than this probability (0 to 0.5).",
    )
    decision_margin = forms.IntegerField(
        min_value=1,
        max_value=MAX_VOTES_LIMIT,
        initial=2,
        required=False,
        label="Margin δ",
        help_text="Margin rule: stop once one side leads by this many votes.",
    )
    allow_tie = forms.BooleanField(required=False, label="Allow “tie”")
    allow_both_bad = forms.BooleanField(required=False, label="Allow “both bad”")
    # A fraction of each video: the server records at most one full play of each (a second loop adds
    # nothing), so a rule above 1 could never be met and would lock the vote buttons for good.
    min_watch_fraction = forms.FloatField(
        min_value=0.0,
        max_value=1.0,
        initial=1.0,
        label="Watch before voting",
        help_text="How much of each video must have played: 1 = all of it, 0.5 = half, 0 = no rule.",
        error_messages={
            "max_value": (
                "Ensure this value is less than or equal to 1: it is the fraction of each video that "
                "must have played, and 1 already means all of it."
            ),
        },
    )
    annotators = _UserChoiceField(queryset=None, required=False, widget=forms.CheckboxSelectMultiple)
    instructions = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text="Shown to annotators before their first comparison.",
    )
    track: Track | None = None  # the track edited, if any: its own name is no clash

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        annotators = self.fields["annotators"]
        assert isinstance(annotators, forms.ModelMultipleChoiceField)
        annotators.queryset = annotator_choices(also=self.track.annotators.all() if self.track else None)

    def clean_name(self) -> str:
        name = self.cleaned_data["name"].strip()
        same = Track.objects.filter(name__iexact=name)
        if self.track is not None:
            same = same.exclude(pk=self.track.pk)
        if same.exists():
            raise forms.ValidationError("A track with this name already exists.")
        return name

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if "votes_needed" in data:
            for problem in self.vote_plan().problems():
                self.add_error(None, problem)
        return data

    def vote_plan(self) -> VotePlan:
        """The votes per comparison as asked: an empty adaptive setting takes its default."""
        data, defaults = self.cleaned_data, VotePlan()

        def given(name: str, default: Any) -> Any:
            value = data.get(name)
            return default if value in (None, "") else value

        return VotePlan(
            mode=VoteMode(given("vote_mode", VoteMode.FIXED)),
            fixed_votes=data["votes_needed"],
            min_votes=given("min_votes", defaults.min_votes),
            max_votes=given("max_votes", defaults.max_votes),
            rule=StoppingRule(given("stopping_rule", defaults.rule)),
            error_target=given("error_target", defaults.error_target),
            margin=given("decision_margin", defaults.margin),
        )

    def settings(self) -> dict[str, Any]:
        """The cleaned settings in ``track_create``'s and ``track_edit``'s terms."""
        data = self.cleaned_data
        return {
            "name": data["name"],
            "instructions": data["instructions"],
            "plan": self.vote_plan(),
            "allow_tie": data["allow_tie"],
            "allow_both_bad": data["allow_both_bad"],
            "min_watch_fraction": data["min_watch_fraction"],
            "annotators": data["annotators"],
        }


class TrackEditForm(_TrackSettingsForm):
    """A track's settings after it was made (the catalog slice, the kind and the checks stay)."""

    def __init__(self, *args: Any, track: Track, **kwargs: Any) -> None:
        self.track = track
        plan = track.vote_plan
        kwargs.setdefault(
            "initial",
            {
                "name": track.name,
                "instructions": track.instructions,
                "vote_mode": plan.mode,
                "votes_needed": plan.fixed_votes,
                "min_votes": plan.min_votes,
                "max_votes": plan.max_votes,
                "stopping_rule": plan.rule,
                "error_target": plan.error_target,
                "decision_margin": plan.margin,
                "allow_tie": track.allow_tie,
                "allow_both_bad": track.allow_both_bad,
                "min_watch_fraction": track.min_watch_fraction,
                "annotators": list(track.annotators.values_list("pk", flat=True)),
            },
        )
        super().__init__(*args, **kwargs)


class TrackCreateForm(TrackChecksForm, _TrackSettingsForm):
    kind = forms.ChoiceField(
        choices=Track.Kind.choices,
        widget=forms.RadioSelect,
        help_text="Identity fidelity and prompt controllability compare two clips of one identity and "
        "prompt. The narrative kinds compare two renderings of one story (its shots played one after the "
        "other, in lockstep shot by shot) and ask one question each: the same person in every shot, face "
        "and body (identity consistency); build, clothing and hair held under viewpoint changes (body "
        "consistency); each shot doing what its prompt asks, in order (narrative adherence); no jump "
        "between shots the story does not ask for (continuity).",
    )
    identities = forms.ModelMultipleChoiceField(
        queryset=Identity.objects.all(), widget=forms.CheckboxSelectMultiple
    )
    prompts = _PromptChoiceField(
        queryset=Prompt.objects.all(),
        widget=forms.CheckboxSelectMultiple,
        required=False,  # a narrative track takes stories, not prompts: required for clip kinds (clean)
        help_text="Clip tracks only: a narrative track takes every story of the chosen identities.",
    )
    methods = _MethodChoiceField(
        queryset=Method.objects.all(),
        widget=forms.CheckboxSelectMultiple,
        help_text="Methods or checkpoints to compare. Annotators never see these names.",
    )
    weight_by_reliability = forms.BooleanField(
        required=False,
        label="Weight votes by reliability",
        help_text="Until decided: each vote counts its annotator's reliability from the quality page's last "
        "table (a rater at chance counts nothing, a careful one 1, a better one up to 1.5).",
    )
    lease_minutes = forms.IntegerField(
        min_value=1,
        max_value=24 * 60,
        initial=10,
        help_text="A comparison not answered within this time goes back to the pool.",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # The whole catalog by default: most tracks cover everything, and narrowing is unticking.
        for name in ("identities", "prompts", "methods"):
            field = self.fields[name]
            assert isinstance(field, forms.ModelMultipleChoiceField) and field.queryset is not None
            self.initial.setdefault(name, list(field.queryset.values_list("pk", flat=True)))
        self.initial.setdefault("kind", Track.Kind.IDENTITY_FIDELITY)
        for name in ("gold_rate", "repeat_rate"):
            self.fields[name].required = False

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if (
            not data.get("prompts")
            and data.get("kind") not in NARRATIVE_KINDS
            and "prompts" not in self.errors
        ):
            self.add_error("prompts", "Choose at least one prompt.")
        return data

    def catalog_slice(self) -> dict[str, Any]:
        """The kind, identities, prompts and methods chosen so far (for the preview: unchecked data)."""
        kind = self.data.get("kind") if self.is_bound else self.initial["kind"]
        found: dict[str, Any] = {"kind": kind if kind in Track.Kind.values else ""}
        for name in ("identities", "prompts", "methods"):
            field = self.fields[name]
            assert isinstance(field, forms.ModelMultipleChoiceField)
            try:
                data = self.data
                chosen = data.getlist(name) if isinstance(data, QueryDict) else self.initial[name]
                found[name] = field.clean(chosen)
            except forms.ValidationError:
                found[name] = []
        return found

    def track_options(self) -> dict[str, Any]:
        """The cleaned data in ``track_create``'s terms."""
        data = self.cleaned_data
        return {
            **self.settings(),
            "kind": data["kind"],
            "identities": data["identities"],
            "prompts": data["prompts"],
            "methods": data["methods"],
            "weight_by_reliability": data["weight_by_reliability"],
            "lease_seconds": data["lease_minutes"] * 60,
            **self.rates(),
        }


class TrackExtendForm(forms.Form):
    """Videos of the catalog to add to a track: those of these methods, identities and prompts."""

    methods = _MethodChoiceField(
        queryset=Method.objects.all(),
        widget=forms.CheckboxSelectMultiple,
        help_text="Their videos are paired with the track's videos of the same identity and prompt.",
    )
    identities = forms.ModelMultipleChoiceField(
        queryset=Identity.objects.all(), widget=forms.CheckboxSelectMultiple
    )
    prompts = _PromptChoiceField(queryset=Prompt.objects.all(), widget=forms.CheckboxSelectMultiple)
    same_method_pairs = forms.BooleanField(
        required=False,
        label="Also pair a method's videos with each other",
        help_text="Two videos of one method, identity and prompt differ only by seed: "
        "usually not a question worth a vote.",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name in ("identities", "prompts"):
            field = self.fields[name]
            assert isinstance(field, forms.ModelMultipleChoiceField) and field.queryset is not None
            self.initial.setdefault(name, list(field.queryset.values_list("pk", flat=True)))

    def videos(self) -> QuerySet[Video]:
        data = self.cleaned_data
        return Video.objects.of_methods().filter(
            identity__in=data["identities"], prompt__in=data["prompts"], method__in=data["methods"]
        )


class TrackAnnotatorsForm(forms.Form):
    annotators = _UserChoiceField(queryset=None, required=False, widget=forms.CheckboxSelectMultiple)

    def __init__(self, *args: Any, track: Track, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        annotators = self.fields["annotators"]
        assert isinstance(annotators, forms.ModelMultipleChoiceField)
        annotators.queryset = annotator_choices(also=track.annotators.all())
        self.initial.setdefault("annotators", list(track.annotators.values_list("pk", flat=True)))


class TrackPauseForm(forms.Form):
    paused = forms.TypedChoiceField(choices=[("1", "Pause"), ("0", "Resume")], coerce=lambda v: v == "1")


class GoldMarkForm(forms.Form):
    """Mark a comparison gold for the track's criterion: its known answer, in its own A/B order."""

    comparison = forms.IntegerField(
        min_value=1,
        label="Comparison id",
        error_messages={
            "invalid": "The comparison id is a whole number.",
            "min_value": "No such comparison.",
        },
    )
    answer = forms.ChoiceField(
        choices=[("A", "A (the video with the smaller id)"), ("B", "B")],
        error_messages={
            "invalid_choice": "The known answer is A or B: a tie or both bad is no known answer."
        },
    )
    note = forms.CharField(required=False, max_length=300, help_text="Why this is the answer (optional).")

    def clean_comparison(self) -> Comparison:
        comparison = Comparison.objects.filter(pk=self.cleaned_data["comparison"]).first()
        if comparison is None:
            raise forms.ValidationError(f"No comparison {self.cleaned_data['comparison']}.")
        return comparison


class RaterExcludeForm(forms.Form):
    reason = forms.CharField(
        max_length=500,
        strip=True,
        error_messages={"required": "Give a reason for excluding this annotator."},
        help_text="Why, in a sentence: shown on the quality page with your name and the time.",
    )


class RaterIncludeForm(forms.Form):
    reason = forms.CharField(max_length=500, strip=True, required=False)
