"""Forms of the study admin pages and the participant pages. They parse; services decide."""

from __future__ import annotations

from typing import Any

from django import forms

from generation.models import Identity, Method, Prompt, Story
from studies import presets, selectors
from studies.models import Study, return_code_validator, return_url_validator
from studies.power import DEFAULT_HALF_WIDTH, DEFAULT_RATE


class MethodChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Method) -> str:
        return f"{obj.name} ({obj.get_role_display().split(' (')[0].lower()})"


class MethodsChoiceField(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj: Method) -> str:
        return obj.name


class PromptsChoiceField(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj: Prompt) -> str:
        keeps = " · keeps hair/clothing/accessories" if obj.keeps_elements else ""
        return f"{obj.slug}: “{obj.shown_text}”{keeps}"


class IdentitiesChoiceField(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj: Identity) -> str:
        return obj.name


class StoriesChoiceField(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj: Story) -> str:
        shots = obj.shots.count()
        return f"{obj.slug}: {obj.title or 'untitled'} ({obj.identity.name}, {shots} shots)"


# The form field's own check says "Enter a valid URL." for every refusal; this says what is wanted.
URL_ERRORS = {"invalid": return_url_validator.message}

PRESET_CHOICES = [(key, spec.title) for key, spec in presets.PRESETS.items()]


class StudyForm(forms.Form):
    """The study's design, crowd settings and (when editing) its texts, in the admin's words."""

    name = forms.CharField(max_length=200, help_text="Seen by study admins only, in the lists and results.")
    public_title = forms.CharField(
        max_length=200, required=False, label="Title for participants",
        help_text="What participants read as the study's title; leave empty to show the name. "
        "Say nothing that tells which method is studied.",
    )  # fmt: skip
    preset = forms.ChoiceField(
        choices=PRESET_CHOICES,
        widget=forms.RadioSelect,
        initial=presets.DEFAULT_PRESET,
        label="Kind of study",
        help_text="Sets the questions and how the videos are shown. Question texts can be edited after.",
    )
    ours = MethodChoiceField(queryset=Method.objects.all(), label="Studied method (“ours”)", empty_label=None)
    baselines = MethodsChoiceField(
        queryset=Method.objects.all(),
        widget=forms.CheckboxSelectMultiple,
        help_text="Each participant meets every baseline equally often.",
    )
    # A clip study's cases are identities x prompts, a narrative study's are stories: clean() asks for
    # the ones its kind of study needs.
    identities = IdentitiesChoiceField(
        queryset=Identity.objects.all(),
        widget=forms.CheckboxSelectMultiple,
        label="People (identities) to draw cases from",
        required=False,
    )
    prompts = PromptsChoiceField(
        queryset=Prompt.objects.all(),
        widget=forms.CheckboxSelectMultiple,
        label="Prompts to draw cases from",
        required=False,
    )
    stories = StoriesChoiceField(
        queryset=Story.objects.select_related("identity").prefetch_related("shots"),
        widget=forms.CheckboxSelectMultiple,
        label="Stories to draw cases from (sequential narrative only)",
        help_text="Each matchup shows ours' and a baseline's rendering of one story, played shot after shot.",
        required=False,
    )
    matchups_per_participant = forms.IntegerField(
        min_value=1, max_value=500, initial=40, label="Matchups per participant",
        help_text="Each takes about 30–45 seconds, more with long videos.",
    )  # fmt: skip
    element_policy = forms.ChoiceField(
        choices=Study.ElementPolicy.choices,
        initial=Study.ElementPolicy.WHERE_APPLIES,
        widget=forms.RadioSelect,
        label="Ask element consistency",
        help_text="It applies where the prompt leaves hairstyle, clothing or accessories unmentioned "
        "(they must stay as in the reference). Other matchups never ask it.",
    )
    element_percent = forms.IntegerField(
        min_value=0, max_value=100, initial=50, label="Share of those matchups (%)",
        help_text="Used only with “on a share of the matchups where it applies”.",
    )  # fmt: skip
    # A fraction of each video, as on tracks: the server records at most one full play of each, so a
    # rule above 1 could never be met and would lock the answer buttons for good.
    min_watch_fraction = forms.FloatField(
        min_value=0.0, max_value=1.0, initial=1.0, label="Watch before answering",
        help_text="How much of each video must have played before a matchup can be answered: "
        "1 = all of it, 0.5 = half, 0 = no rule.",
        error_messages={
            "min_value": "The watch rule cannot be below 0: use 0 for no rule.",
            "max_value": "The watch rule cannot be above 1: it is the fraction of each video that must "
            "have played, and 1 already means all of it.",
        },
    )  # fmt: skip
    gold_matchups_per_participant = forms.IntegerField(
        min_value=0, max_value=125, initial=2, label="Gold matchups per participant",
        help_text="Matchups whose answer is known on one of the questions, shown like any other: at most a "
        "quarter of the matchups; 0 = none.",
        error_messages={"min_value": "Use 0 for no gold matchups; a negative number means nothing."},
    )  # fmt: skip
    repeat_matchups_per_participant = forms.IntegerField(
        min_value=0, max_value=125, initial=2, label="Repeated matchups per participant",
        help_text="Earlier matchups shown again later with the sides swapped, to measure self-consistency: "
        "at most a quarter of the matchups; 0 = none.",
        error_messages={"min_value": "Use 0 for no repeated matchups; a negative number means nothing."},
    )  # fmt: skip
    screen_out_after_failed_gold = forms.IntegerField(
        min_value=0, max_value=125, initial=2, label="Screen out after failed gold matchups",
        help_text="Crowd participants (joined with a crowd id) who fail this many gold matchups are thanked "
        "and shown no more; their answers count nowhere. 0 = never.",
        error_messages={
            "min_value": "Use 0 to turn the screen-out rule off; a negative number means nothing.",
        },
    )  # fmt: skip
    target_participants = forms.IntegerField(
        # The most the column (a PositiveIntegerField) holds; a larger value must not reach it.
        min_value=1, max_value=2**31 - 1, required=False, label="Target number of participants",
        help_text="New participants are turned away politely once this many have completed.",
    )  # fmt: skip
    public_join = forms.BooleanField(
        required=False, initial=True, label="Anyone with the public link may join",
        help_text="Untick to admit only people with a personal link.",
    )  # fmt: skip
    completion_code = forms.CharField(
        max_length=100, required=False, validators=[return_code_validator],
        help_text="Shown on the thank-you page, e.g. for Prolific. Letters, digits, “-” and “_”.",
    )  # fmt: skip
    screened_out_code = forms.CharField(
        max_length=100, required=False, label="Screened-out completion code",
        validators=[return_code_validator],
        help_text="Shown instead to a screened-out crowd participant, so the platform can tell them apart.",
    )  # fmt: skip
    redirect_url = forms.URLField(
        max_length=500, required=False, label="Redirect after finishing", assume_scheme="https",
        validators=[return_url_validator], error_messages=URL_ERRORS,
        help_text="Where the thank-you page sends participants, e.g. the crowd platform's completion URL.",
    )  # fmt: skip
    screened_out_redirect_url = forms.URLField(
        max_length=500, required=False, label="Redirect when screened out", assume_scheme="https",
        validators=[return_url_validator], error_messages=URL_ERRORS,
        help_text="Where a screened-out participant is sent back to the crowd platform; empty: no redirect.",
    )  # fmt: skip
    withdrawn_code = forms.CharField(
        max_length=100, required=False, label="Withdrawal code", validators=[return_code_validator],
        help_text="Shown to a participant who withdraws, so the platform can tell them apart "
        "(e.g. Prolific's “returned” code).",
    )  # fmt: skip
    withdrawn_redirect_url = forms.URLField(
        max_length=500, required=False, label="Redirect after withdrawing", assume_scheme="https",
        validators=[return_url_validator], error_messages=URL_ERRORS,
        help_text="Where a participant who withdraws is sent back to the crowd platform; empty: no redirect.",
    )  # fmt: skip
    contact = forms.CharField(
        max_length=300, required=False, label="Contact for participants",
        help_text="Fills {contact} in the instructions, e.g. an e-mail address of the research team.",
    )  # fmt: skip

    design_fields = (
        "preset", "ours", "baselines", "identities", "prompts", "stories", "matchups_per_participant",
        "element_policy", "element_percent", "min_watch_fraction", "gold_matchups_per_participant",
        "repeat_matchups_per_participant", "screen_out_after_failed_gold",
    )  # fmt: skip

    def __init__(self, *args: Any, study: Study | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.study = study
        if study is None:
            self.initial.setdefault("ours", Method.objects.filter(role=Method.Role.OURS).first())
            self.initial.setdefault("baselines", list(Method.objects.filter(role=Method.Role.BASELINE)))
            self.initial.setdefault("identities", list(Identity.objects.all()))
            self.initial.setdefault("prompts", list(Prompt.objects.all()))
            self.initial.setdefault("stories", list(Story.objects.all()))
            return
        self.initial.update({name: getattr(study, name) for name in self.base_fields if hasattr(study, name)})
        self.fields["matchups_per_participant"].help_text = (
            f"This study's {study.matchups_per_participant} take about "
            f"{selectors.study_minutes(study=study)} minutes, with its videos' length; "
            "participants read that estimate in the instructions."
        )
        self.initial.update(
            baselines=list(study.baselines.all()),
            identities=list(study.identities.all()),
            prompts=list(study.prompts.all()),
            stories=list(study.stories.all()),
            element_percent=round(study.element_fraction * 100),
        )
        self.fields["instructions"] = forms.CharField(
            widget=forms.Textarea(attrs={"rows": 16}), initial=study.instructions,
            help_text="{matchups}, {minutes}, {questions} and {contact} are filled in from the study.",
        )  # fmt: skip
        self.fields["consent_text"] = forms.CharField(
            widget=forms.Textarea(attrs={"rows": 8}), initial=study.consent_text, label="Consent text",
            help_text="Participants must tick “I agree” below this text before the first matchup.",
        )  # fmt: skip
        for question in study.questions.all():
            self.fields[f"q_{question.criterion}_text"] = forms.CharField(
                max_length=300, initial=question.text, label=question.get_criterion_display()
            )
            self.fields[f"q_{question.criterion}_hint"] = forms.CharField(
                max_length=500, initial=question.hint, required=False, label="Hint below the question"
            )
        if study.design_frozen:
            for name in self.design_fields:
                self.fields[name].disabled = True

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        ours, baselines = data.get("ours"), data.get("baselines")
        if ours is not None and baselines is not None and ours in baselines:
            self.add_error("baselines", "The studied method cannot also be a baseline.")
        preset = data.get("preset")
        if preset in presets.PRESETS and not self.fields["preset"].disabled:
            if presets.PRESETS[preset].kind == Study.Kind.NARRATIVE:
                if not data.get("stories"):
                    self.add_error("stories", "A sequential narrative study needs at least one story.")
            else:
                for name, what in (("identities", "person"), ("prompts", "prompt")):
                    if not data.get(name):
                        self.add_error(name, f"Choose at least one {what} to draw cases from.")
        matchups = data.get("matchups_per_participant")
        for name, what in (
            ("gold_matchups_per_participant", "gold matchups"),
            ("repeat_matchups_per_participant", "repeated matchups"),
        ):
            count = data.get(name)
            if matchups is not None and count is not None and count * 4 > matchups:
                self.add_error(
                    name,
                    f"{count} {what} are more than a quarter of the {matchups} matchups per participant "
                    f"(at most {matchups // 4}): use fewer, or 0 to turn them off.",
                )
        return data

    @property
    def question_fields(self) -> list[tuple[forms.BoundField, forms.BoundField]]:
        names = [name[2:-5] for name in self.fields if name.startswith("q_") and name.endswith("_text")]
        return [(self[f"q_{c}_text"], self[f"q_{c}_hint"]) for c in names]

    def service_arguments(self) -> dict[str, Any]:
        data = {name: value for name, value in self.cleaned_data.items() if not name.startswith("q_")}
        # A frozen design is not sent at all: a percentage rounded for the form must not read as a change.
        for name in self.design_fields:
            if self.fields[name].disabled:
                data.pop(name, None)
        if "element_percent" in data:
            data["element_fraction"] = data.pop("element_percent") / 100
        for name in ("completion_code", "screened_out_code", "withdrawn_code"):
            data[name] = data[name].strip()
        return data

    def question_texts(self) -> dict[str, tuple[str, str]]:
        texts = {}
        for name, value in self.cleaned_data.items():
            if name.startswith("q_") and name.endswith("_text"):
                criterion = name[2:-5]
                texts[criterion] = (value, self.cleaned_data.get(f"q_{criterion}_hint", ""))
        return texts


class InvitationsForm(forms.Form):
    count = forms.IntegerField(min_value=1, max_value=1000, initial=10, label="Number of personal links")


class ConsentForm(forms.Form):
    agree = forms.BooleanField(
        required=True,
        label="I have read the information above and agree to take part in this study.",
        error_messages={"required": "Please tick the box to confirm your consent before you start."},
    )


class MatchupForm(forms.Form):
    """The picks of one matchup page: one radio group per question, plus where to go next."""

    matchup = forms.IntegerField(widget=forms.HiddenInput)
    go = forms.ChoiceField(choices=[("previous", "Previous"), ("next", "Next"), ("finish", "Finish")])
    elapsed_ms = forms.IntegerField(required=False, min_value=0, widget=forms.HiddenInput)

    def __init__(self, *args: Any, criteria: list[str], choices: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.criteria = criteria
        for criterion in criteria:
            self.fields[f"q_{criterion}"] = forms.TypedChoiceField(
                choices=[(k, k) for k in range(choices)], coerce=int, required=False
            )

    def picks(self) -> dict[str, int]:
        return {
            c: self.cleaned_data[f"q_{c}"]
            for c in self.criteria
            if self.cleaned_data.get(f"q_{c}") not in (None, "")
        }


class PowerPlanForm(forms.Form):
    """The power planner's inputs; blank rate or half-width take the defaults, a blank correlation is
    estimated from the study's answers (or the default when it has too few)."""

    rate = forms.FloatField(
        required=False, label="Expected win rate", widget=forms.NumberInput({"step": "0.01"})
    )
    half_width = forms.FloatField(
        required=False, label="Wanted half-width", widget=forms.NumberInput({"step": "0.005"})
    )
    icc = forms.FloatField(
        required=False, label="Intra-participant correlation", widget=forms.NumberInput({"step": "0.01"})
    )

    def clean_rate(self) -> float:
        rate = self.cleaned_data["rate"]
        if rate is None:
            return DEFAULT_RATE
        if not 0 < rate < 1:
            raise forms.ValidationError("The expected win rate must lie between 0 and 1, both excluded.")
        return float(rate)

    def clean_half_width(self) -> float:
        half_width = self.cleaned_data["half_width"]
        if half_width is None:
            return DEFAULT_HALF_WIDTH
        if not 0 < half_width < 0.5:
            raise forms.ValidationError("The half-width must lie between 0 and 0.5, both excluded.")
        return float(half_width)

    def clean_icc(self) -> float | None:
        icc = self.cleaned_data["icc"]
        if icc is not None and not 0 <= icc < 1:
            raise forms.ValidationError("The correlation must be at least 0 and below 1.")
        return icc
