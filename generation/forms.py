"""Forms of the generation pages: launching a job, uploading a baseline video."""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.db.models import Count

from generation import signals
from generation.backends.base import setting_bounds_text
from generation.errors import GenerationError
from generation.models import Identity, Method, Prompt, Story, StoryRendering
from generation.services import MAX_SEEDS, match_cases, settings_overrides_check


class _MethodField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Method) -> str:
        return f"{obj.name} · {obj.get_backend_display()}"


class _PromptsField(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj: Prompt) -> str:
        return f"{obj.slug} · {obj.shown_text[:80]}"


class _StoriesField(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj: Story) -> str:
        shots = getattr(obj, "shot_count", None)
        return " · ".join(
            part
            for part in (obj.slug, obj.identity.name, obj.title, f"{shots} shots" if shots else "")
            if part
        )


class JobLaunchForm(forms.Form):
    method = _MethodField(queryset=Method.objects.exclude(backend=Method.Backend.IMPORTED))
    match_method = _MethodField(
        queryset=Method.objects.all(),
        required=False,
        label="Same identities, prompts and seeds as method",
        error_messages={"invalid_choice": "No such method to match: choose one from the list."},
        help_text=(
            "Renders exactly the identity, prompt and seed of each of that method's videos, instead of the "
            "identities, prompts and seeds below (leave identities and prompts unticked). With a track, "
            "each new video is paired with that method's video of the same identity, prompt and seed, and "
            "with the track's videos of the same identity and prompt."
        ),
    )
    identities = forms.ModelMultipleChoiceField(
        queryset=Identity.objects.all(), widget=forms.CheckboxSelectMultiple, required=False
    )
    prompts = _PromptsField(
        queryset=Prompt.objects.all(), widget=forms.CheckboxSelectMultiple, required=False
    )
    stories = _StoriesField(
        queryset=Story.objects.select_related("identity").annotate(shot_count=Count("shots")),
        widget=forms.CheckboxSelectMultiple,
        required=False,
        help_text=(
            "Instead of identities and prompts: each story × seed is one rendering of all its shots, in "
            "order, with the story's identity."
        ),
    )
    story_mode = forms.ChoiceField(
        choices=[("", "— choose with stories —"), *StoryRendering.Mode.choices],
        required=False,
        label="Story mode",
    )
    seeds = forms.CharField(
        initial="2",
        max_length=2000,
        required=False,
        help_text=(
            "A count N (seeds 0…N-1, the same for every method) or a list: 3, 17, 42. Not used when "
            "matching a method."
        ),
    )
    settings = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 3, "placeholder": '{"num_inference_steps": 30}'}),
        help_text=(
            "Optional JSON overrides of the method's sampling settings for this job. "
            f"Upper bounds: {setting_bounds_text()}."
        ),
    )
    extend_track = forms.TypedChoiceField(
        required=False,
        coerce=int,
        empty_value=None,
        label="Add comparisons to track",
        help_text=(
            "When the job finishes, its videos are paired with the track's videos of the same case; the "
            "job's page then warns if they differ from the track's in size, frame rate or duration."
        ),
    )
    extend_same_method_pairs = forms.BooleanField(
        required=False,
        label="Also pair this method's videos with each other",
        help_text="Videos of one method for the same case differ only by seed: off, they are not compared.",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        extend_track = self.fields["extend_track"]
        assert isinstance(extend_track, forms.TypedChoiceField)
        extend_track.choices = [("", "— none —"), *signals.track_choices()]

    def clean_seeds(self) -> int | list[int] | None:
        if self.data.get("match_method"):
            return None  # the matched method's seeds
        text = self.cleaned_data["seeds"].strip()
        try:
            parts = [int(part) for part in text.replace(",", " ").split()]
        except ValueError as error:
            raise forms.ValidationError("Give a count or whole-number seeds separated by commas.") from error
        if not parts:
            raise forms.ValidationError("Give a count or a list of seeds.")
        if len(parts) == 1 and "," not in text:
            if not 1 <= parts[0] <= MAX_SEEDS:
                raise forms.ValidationError(f"The count must be from 1 to {MAX_SEEDS}.")
            return parts[0]
        return parts

    def clean_settings(self) -> dict[str, Any]:
        text = self.cleaned_data["settings"].strip()
        if not text:
            return {}
        try:
            value = json.loads(text)
        except ValueError as error:
            raise forms.ValidationError(f"Not valid JSON: {error}") from error
        if not isinstance(value, dict):
            raise forms.ValidationError('Give a JSON object, e.g. {"num_inference_steps": 30}.')
        try:
            settings_overrides_check(value)
        except GenerationError as error:
            raise forms.ValidationError(str(error)) from error
        return value

    def clean(self) -> dict[str, Any] | None:
        data = super().clean()
        assert data is not None
        method, match = data.get("method"), data.get("match_method")
        if data.get("stories"):
            self._clean_stories(data)
        elif data.get("story_mode"):
            self.add_error("stories", "Choose at least one story for the story mode, or no story mode.")
        elif "match_method" in self.errors:
            pass  # the identities and prompts are asked for once the method to match is settled
        elif match is None:
            for name in ("identities", "prompts"):
                if name in data and not data[name]:
                    self.add_error(name, f"Choose at least one of the {name}, or a method to match.")
        elif data.get("identities") or data.get("prompts"):
            self.add_error(
                "match_method",
                f"Either match {match.name}'s identities, prompts and seeds or choose them: untick the "
                "identities and prompts, or choose no method to match.",
            )
        elif method is not None:
            try:
                match_cases(method=method, match_method=match)
            except GenerationError as error:
                self.add_error("match_method", f"{str(error)[:1].upper()}{str(error)[1:]}.")
        return data

    def _clean_stories(self, data: dict[str, Any]) -> None:
        if not data.get("story_mode"):
            self.add_error("story_mode", "Choose how the stories' shots are made.")
        chosen = [
            name for name in ("identities", "prompts", "match_method", "extend_track") if data.get(name)
        ]
        if chosen:
            self.add_error(
                "stories",
                "Stories are rendered with their own identity and shot prompts, and join no track here: "
                f"leave {', '.join(name.replace('_', ' ') for name in chosen)} empty.",
            )

    def job_options(self) -> dict[str, Any]:
        data = self.cleaned_data
        if data["stories"]:
            return {
                "method": data["method"],
                "stories": data["stories"],
                "story_mode": data["story_mode"],
                "seeds": data["seeds"],
                "settings_overrides": data["settings"],
            }
        matching = data["match_method"] is not None
        return {
            "method": data["method"],
            "match_method": data["match_method"],
            "identities": () if matching else data["identities"],
            "prompts": () if matching else data["prompts"],
            "seeds": None if matching else data["seeds"],
            "settings_overrides": data["settings"],
            "extend_track_id": data["extend_track"],
            "extend_same_method_pairs": data["extend_same_method_pairs"],
        }


class VideoUploadForm(forms.Form):
    file = forms.FileField(help_text="H.264 MP4 (yuv420p), as browsers play it.")
    method = _MethodField(queryset=Method.objects.all())
    identity = forms.ModelChoiceField(queryset=Identity.objects.all())
    prompt = forms.ModelChoiceField(queryset=Prompt.objects.all())
    seed = forms.IntegerField(min_value=0, max_value=2**63 - 1, initial=0)
