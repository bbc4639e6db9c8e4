"""Forms of the People page: a list of people to add, a person's tracks, their standing."""

from __future__ import annotations

from typing import Any

from django import forms

from annotate.models import Track


class _TrackChoiceField(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj: Track) -> str:
        return obj.name


def _tracks_field(help_text: str) -> _TrackChoiceField:
    return _TrackChoiceField(
        queryset=Track.objects.order_by("name"),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=help_text,
    )


class PeopleAddForm(forms.Form):
    people = forms.CharField(
        label="E-mail addresses or usernames",
        widget=forms.Textarea(attrs={"rows": 6, "placeholder": "ada@example.org\ngrace, linus@example.org"}),
        help_text="One per line, or separated by commas. An e-mail address becomes the username too.",
        error_messages={"required": "Give at least one e-mail address or username."},
        strip=False,
    )
    tracks = _tracks_field("They can vote on these tracks as soon as they have set their password.")


class PersonTracksForm(forms.Form):
    tracks = _tracks_field("Taking someone off a track keeps the votes they gave there.")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["tracks"].label = "Seated on"


class PersonSwitchForm(forms.Form):
    """One yes/no decision on a person: active or not, in the ML team or not."""

    on = forms.TypedChoiceField(choices=[("1", "Yes"), ("0", "No")], coerce=lambda v: v == "1")
