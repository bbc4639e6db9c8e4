"""Forms of annotation: what a study admin may set on a track."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Q, QuerySet

from annotate.models import Track
from generation.models import Identity, Method, Prompt
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


class TrackCreateForm(forms.Form):
    name = forms.CharField(max_length=120)
    kind = forms.ChoiceField(choices=Track.Kind.choices, widget=forms.RadioSelect)
    identities = forms.ModelMultipleChoiceField(
        queryset=Identity.objects.all(), widget=forms.CheckboxSelectMultiple
    )
    prompts = _PromptChoiceField(queryset=Prompt.objects.all(), widget=forms.CheckboxSelectMultiple)
    methods = _MethodChoiceField(
        queryset=Method.objects.all(),
        widget=forms.CheckboxSelectMultiple,
        help_text="Methods or checkpoints to compare. Annotators never see these names.",
    )
    votes_needed = forms.IntegerField(
        min_value=1, max_value=50, initial=3, help_text="Votes each comparison needs (1–50)."
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
    lease_minutes = forms.IntegerField(
        min_value=1,
        max_value=24 * 60,
        initial=10,
        help_text="A comparison not answered within this time goes back to the pool.",
    )
    annotators = _UserChoiceField(queryset=None, required=False, widget=forms.CheckboxSelectMultiple)
    instructions = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text="Shown to annotators before their first comparison.",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        annotators = self.fields["annotators"]
        assert isinstance(annotators, forms.ModelMultipleChoiceField)
        annotators.queryset = annotator_choices()
        # The whole catalog by default: most tracks cover everything, and narrowing is unticking.
        for name in ("identities", "prompts", "methods"):
            field = self.fields[name]
            assert isinstance(field, forms.ModelMultipleChoiceField) and field.queryset is not None
            self.initial.setdefault(name, list(field.queryset.values_list("pk", flat=True)))
        self.initial.setdefault("kind", Track.Kind.IDENTITY_FIDELITY)

    def clean_name(self) -> str:
        name = self.cleaned_data["name"].strip()
        if Track.objects.filter(name__iexact=name).exists():
            raise forms.ValidationError("A track with this name already exists.")
        return name

    def track_options(self) -> dict[str, Any]:
        """The cleaned data in ``track_create``'s terms."""
        data = self.cleaned_data
        return {
            "name": data["name"],
            "kind": data["kind"],
            "identities": data["identities"],
            "prompts": data["prompts"],
            "methods": data["methods"],
            "annotators": data["annotators"],
            "votes_needed": data["votes_needed"],
            "allow_tie": data["allow_tie"],
            "allow_both_bad": data["allow_both_bad"],
            "min_watch_fraction": data["min_watch_fraction"],
            "lease_seconds": data["lease_minutes"] * 60,
            "instructions": data["instructions"],
        }


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


class RaterExcludeForm(forms.Form):
    reason = forms.CharField(
        max_length=500,
        strip=True,
        error_messages={"required": "Give a reason for excluding this annotator."},
        help_text="Why, in a sentence: shown on the quality page with your name and the time.",
    )


class RaterIncludeForm(forms.Form):
    reason = forms.CharField(max_length=500, strip=True, required=False)
