"""The export form of the platform's pages: the same options as the command, checked the same way."""

from __future__ import annotations

from typing import Any

from django import forms

from annotate.models import Criterion, Track
from exports.options import (
    DEFAULT_SCHEMA,
    DEFAULT_SPLIT,
    JOINT_RULES,
    MEDIA_MODES,
    ExportOptions,
    ExportOptionsError,
    parse_list,
    parse_split,
)
from exports.read import raters_resolve
from studies.models import Study

_CHECKS = forms.CheckboxSelectMultiple


# The joint rules in plain words (exports/aggregate.py, joint_labels, has them in code).
JOINT_RULE_LABELS = {
    "all": "All agree: every ticked criterion passes and gives the same label; otherwise no joint label.",
    "no_conflict": "No conflict: A when at least one passing criterion says A and none says B (ties and "
    "criteria that did not pass are allowed); B likewise; a tie when every passing criterion says tie.",
    "mean": "Average: the mean share of votes for A over the passing criteria; A above one half, B below, "
    "a tie at exactly one half.",
}


class ExportForm(forms.Form):
    name = forms.CharField(max_length=80, initial="preferences", help_text="Name of the dataset and archive.")
    tracks = forms.ModelMultipleChoiceField(
        queryset=Track.objects.order_by("name"),
        required=False,
        widget=_CHECKS,
        help_text="None ticked, and no study either: every track and every study.",
    )
    studies = forms.ModelMultipleChoiceField(
        queryset=Study.objects.order_by("-created_at", "-id"), required=False, widget=_CHECKS
    )
    criteria = forms.MultipleChoiceField(
        choices=Criterion.choices, required=False, widget=_CHECKS, help_text="None ticked: every judged one."
    )
    min_votes = forms.IntegerField(
        min_value=1, max_value=2**31 - 1, initial=1, label="Minimum votes per comparison"
    )
    min_majority = forms.FloatField(
        min_value=0, max_value=1, initial=0.0, label="Minimum majority share", help_text="0 to 1."
    )
    ties = forms.ChoiceField(
        choices=[("keep", "Keep ties (counted as half a win)"), ("drop", "Drop ties")],
        initial="keep",
        widget=forms.RadioSelect,
    )
    exclude_raters = forms.CharField(
        required=False,
        label="Raters to leave out",
        help_text="Comma-separated usernames, rater ids or salted ids from an earlier export.",
    )
    split = forms.CharField(
        initial=",".join(map(str, DEFAULT_SPLIT)), help_text="Train, validation, test fractions."
    )
    split_seed = forms.IntegerField(min_value=-(2**63), max_value=2**63 - 1, initial=0)
    # The form's metaclass moves declared fields into base_fields, so this does not replace Form.media;
    # django-stubs types the class body as if it did.
    media = forms.ChoiceField(  # type: ignore[assignment]
        choices=[(m, m) for m in MEDIA_MODES],
        initial="none",
        widget=forms.RadioSelect,
        help_text="Copy the videos and references into the archive, link them, or leave them out.",
    )
    joint_criteria = forms.MultipleChoiceField(
        choices=Criterion.choices, required=False, widget=_CHECKS, label="Joint label over",
        help_text="Optional: one more label per comparison, joined from the criteria ticked here. Each "
        "criterion first gets its own label from its votes (A, B or tie) and must pass the filters above; "
        "criteria that do not pass are left out of the joint label.",
    )  # fmt: skip
    joint_rule = forms.ChoiceField(
        choices=[(rule, JOINT_RULE_LABELS[rule]) for rule in JOINT_RULES], initial="all",
        widget=forms.RadioSelect, help_text="How the ticked criteria's labels are joined into one.",
    )  # fmt: skip
    schema = forms.TypedChoiceField(
        choices=[(2, "2: per-criterion folders for each trainer (current)"), (1, "1: the first format")],
        coerce=int, initial=DEFAULT_SCHEMA, required=False, empty_value=None,
        widget=forms.RadioSelect, label="Snapshot schema",
        help_text="Schema 1 only for readers written for it; both are described in the snapshot's card.",
    )  # fmt: skip

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        if self.errors:
            return data
        try:
            tokens = parse_list(data.get("exclude_raters"))
            raters_resolve(tokens)  # an unknown rater is said now, not when the task fails
            self.options = ExportOptions(
                tracks=tuple(t.pk for t in data["tracks"]),
                studies=tuple(s.pk for s in data["studies"]),
                criteria=tuple(data["criteria"]),
                min_votes=data["min_votes"],
                min_majority=data["min_majority"],
                keep_ties=data["ties"] == "keep",
                exclude_raters=tuple(tokens),
                split=parse_split(data["split"]),
                split_seed=data["split_seed"],
                media=data["media"],
                joint_criteria=tuple(data["joint_criteria"]),
                joint_rule=data["joint_rule"],
                name=data["name"],
                schema=data["schema"] or DEFAULT_SCHEMA,  # not posted: the default
            )
        except ExportOptionsError as error:
            self.add_error(error.field if error.field in self.fields else None, error.message)
        return data
