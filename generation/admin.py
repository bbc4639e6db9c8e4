from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from generation.models import (
    STORY_SHOTS_MAX,
    STORY_SHOTS_MIN,
    Identity,
    Method,
    Prompt,
    Reference,
    Story,
    StoryShot,
    Video,
)
from generation.services import three_view_check

if TYPE_CHECKING:
    from typing import TypedDict

    from django_stubs_ext import WithAnnotations

    class _IdentityRow(TypedDict):
        """What IdentityAdmin.get_queryset adds to each identity."""

        n_references: int
        n_videos: int
        primary: list[Reference]

    class _MethodRow(TypedDict):
        """What MethodAdmin.get_queryset adds to each method."""

        n_videos: int

    class _StoryRow(TypedDict):
        """What StoryAdmin.get_queryset adds to each story."""

        n_shots: int


def _media_url(name: str) -> str:
    return reverse("media", args=[name])


def _thumbnail(image_name: str | None) -> str:
    if not image_name:
        return "—"
    return format_html('<img class="thumb" src="{}" alt="" loading="lazy">', _media_url(image_name))


def _player(video_name: str, poster_name: str | None) -> str:
    return format_html(
        '<video class="admin-player" src="{}" poster="{}" controls loop muted playsinline preload="auto">'
        "</video>",
        _media_url(video_name),
        _media_url(poster_name) if poster_name else "",
    )


class MediaAdminMixin:
    """Posters in lists and a player on the change page, all through the permission-checked media URL."""

    @admin.display(description="preview")
    def preview_thumbnail(self, obj: Video | Reference) -> str:
        return _thumbnail(obj.poster.name or ("" if getattr(obj, "is_video", True) else obj.file.name))

    @admin.display(description="media")
    def media_preview(self, obj: Video | Reference) -> str:
        file_name = obj.file.name
        if not obj.pk or not file_name:  # unsaved (a saved row always has its file)
            return "—"
        if isinstance(obj, Video) or obj.is_video:
            return _player(file_name, obj.poster.name)
        return format_html('<img class="admin-player" src="{}" alt="">', _media_url(file_name))


class ReferenceForm(forms.ModelForm):
    """A reference's framing may change between the still framings; a clip stays a clip (its file is)."""

    class Meta:
        model = Reference
        fields = ("identity", "kind", "viewpoint", "in_three_view", "is_primary", "position", "note")

    def clean_kind(self) -> str:
        kind = self.cleaned_data["kind"]
        if self.instance.pk and (kind == Reference.Kind.VIDEO) != self.instance.is_video:
            if self.instance.is_video:
                raise ValidationError("The file is a video: its framing stays a clip.")
            raise ValidationError("The file is a still image: its framing cannot be a clip.")
        return kind


def _sentences(problems: list[str]) -> list[str]:
    return [problem[:1].upper() + problem[1:] + "." for problem in problems]


class ReferenceAdminForm(ReferenceForm):
    """One reference's page: its identity's three-view set (and the one it leaves) must keep the rule."""

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or self.cleaned_data
        identity = cleaned.get("identity")
        if identity is None or self.errors:
            return cleaned
        changed = Reference(
            pk=self.instance.pk,
            identity=identity,
            kind=cleaned.get("kind", ""),
            viewpoint=cleaned.get("viewpoint", ""),
            in_three_view=cleaned.get("in_three_view", False),
        )
        problems = three_view_check(
            [*identity.references.exclude(pk=self.instance.pk), changed], identity=identity.slug
        )
        left = (
            self.instance.identity if self.instance.pk and self.instance.identity_id != identity.pk else None
        )
        if left is not None:
            problems += three_view_check(left.references.exclude(pk=self.instance.pk), identity=left.slug)
        if problems:
            raise ValidationError(_sentences(problems))
        return cleaned


class ReferenceInlineFormSet(forms.BaseInlineFormSet):
    """The identity's references as edited together: its three-view set must keep the rule."""

    def clean(self) -> None:
        super().clean()
        if any(self.errors):
            return
        kept = [
            form.instance for form in self.forms if form.cleaned_data and not form.cleaned_data.get("DELETE")
        ]
        # Rows not on the page (none today: the inline lists them all) count as they are.
        others = Reference.objects.filter(identity=self.instance).exclude(
            pk__in=[form.instance.pk for form in self.forms if form.instance.pk]
        )
        problems = three_view_check([*others, *kept], identity=self.instance.slug)
        if problems:
            raise ValidationError(_sentences(problems))


class ReferenceInline(MediaAdminMixin, admin.TabularInline):
    model = Reference
    form = ReferenceForm
    formset = ReferenceInlineFormSet
    extra = 0
    fields = (
        "preview_thumbnail",
        "kind",
        "viewpoint",
        "in_three_view",
        "is_primary",
        "position",
        "note",
        "width",
        "height",
        "duration",
    )
    readonly_fields = ("preview_thumbnail", "width", "height", "duration")
    show_change_link = True
    can_delete = True

    def has_add_permission(self, request, obj=None) -> bool:
        # New media enter through import_catalog, which probes and hashes them.
        return False


@admin.register(Identity)
class IdentityAdmin(admin.ModelAdmin):
    list_display = ("name", "slug", "primary_thumbnail", "reference_count", "video_count")
    search_fields = ("name", "slug", "description")
    prepopulated_fields = {"slug": ("name",)}
    inlines = [ReferenceInline]

    def get_queryset(self, request):
        from django.db.models import Count, Prefetch

        primary = Prefetch(
            "references", queryset=Reference.objects.filter(is_primary=True), to_attr="primary"
        )
        return (
            super()
            .get_queryset(request)
            .annotate(
                n_references=Count("references", distinct=True), n_videos=Count("videos", distinct=True)
            )
            .prefetch_related(primary)
        )

    @admin.display(description="primary reference")
    def primary_thumbnail(self, obj: WithAnnotations[Identity, _IdentityRow]) -> str:
        primary = obj.primary[0] if getattr(obj, "primary", None) else None
        if primary is None:
            return "—"
        return _thumbnail(primary.poster.name or primary.file.name)

    @admin.display(description="references", ordering="n_references")
    def reference_count(self, obj: WithAnnotations[Identity, _IdentityRow]) -> int:
        return obj.n_references

    @admin.display(description="videos", ordering="n_videos")
    def video_count(self, obj: WithAnnotations[Identity, _IdentityRow]) -> int:
        return obj.n_videos


@admin.register(Reference)
class ReferenceAdmin(MediaAdminMixin, admin.ModelAdmin):
    form = ReferenceAdminForm
    list_display = (
        "preview_thumbnail",
        "identity",
        "kind",
        "viewpoint",
        "in_three_view",
        "is_primary",
        "width",
        "height",
        "duration",
    )
    list_filter = ("kind", "viewpoint", "in_three_view", "is_primary", "identity")
    search_fields = ("identity__name", "identity__slug", "note", "sha256")
    list_select_related = ("identity",)
    readonly_fields = (
        "media_preview",
        "file",
        "poster",
        "sha256",
        "bytes",
        "width",
        "height",
        "duration",
        "fps",
        "num_frames",
        "created_at",
    )
    fields = (
        "media_preview",
        "identity",
        "kind",
        "viewpoint",
        "in_three_view",
        "is_primary",
        "position",
        "note",
        *readonly_fields[1:],
    )


@admin.register(Prompt)
class PromptAdmin(admin.ModelAdmin):
    list_display = ("slug", "task", "subject", "differential_text", "keeps_elements")
    list_filter = ("task", "subject")
    search_fields = ("slug", "full_text", "differential_text")
    fieldsets = (
        (None, {"fields": ("slug", "task", "subject")}),
        (
            "The seven aspects",
            {"fields": ("shot", "hairstyle", "clothing", "accessories", "expression", "action", "setting")},
        ),
        ("Texts", {"fields": ("full_text", "differential_text", "omitted_aspects")}),
    )

    @admin.display(boolean=True, description="element consistency applies")
    def keeps_elements(self, obj: Prompt) -> bool:
        return obj.keeps_elements


class StoryShotInlineFormSet(forms.BaseInlineFormSet):
    """A story has 2 to 5 shots, numbered 1 to n in the order they play."""

    def clean(self) -> None:
        super().clean()
        if any(self.errors):
            return
        positions = sorted(
            form.cleaned_data["position"]
            for form in self.forms
            if form.cleaned_data and not form.cleaned_data.get("DELETE")
        )
        if not STORY_SHOTS_MIN <= len(positions) <= STORY_SHOTS_MAX:
            raise ValidationError(
                f"A story has {STORY_SHOTS_MIN} to {STORY_SHOTS_MAX} shots; this one has {len(positions)}."
            )
        expected = list(range(1, len(positions) + 1))
        if positions != expected:
            given = ", ".join(str(position) for position in positions)
            raise ValidationError(
                f"Number the shots {', '.join(map(str, expected))} in the order they play (given: {given})."
            )


class StoryShotInline(admin.TabularInline):
    model = StoryShot
    formset = StoryShotInlineFormSet
    extra = 0
    fields = ("position", "prompt")
    ordering = ("position",)
    autocomplete_fields = ("prompt",)

    def get_extra(self, request, obj=None, **kwargs) -> int:
        # A new story starts with the usual three shots to fill in.
        return 3 if obj is None else 0


@admin.register(Story)
class StoryAdmin(admin.ModelAdmin):
    list_display = ("slug", "title", "identity", "shot_count")
    list_filter = ("identity",)
    search_fields = ("slug", "title", "identity__slug", "identity__name")
    list_select_related = ("identity",)
    autocomplete_fields = ("identity",)
    inlines = [StoryShotInline]

    def get_queryset(self, request):
        from django.db.models import Count

        return super().get_queryset(request).annotate(n_shots=Count("shots"))

    @admin.display(description="shots", ordering="n_shots")
    def shot_count(self, obj: WithAnnotations[Story, _StoryRow]) -> int:
        return obj.n_shots


@admin.register(Method)
class MethodAdmin(admin.ModelAdmin):
    list_display = ("name", "role", "backend", "checkpoint", "video_count")
    list_filter = ("role", "backend")
    search_fields = ("name", "checkpoint", "revision", "description")
    fieldsets = (
        (None, {"fields": ("name", "role", "description")}),
        (
            "How it renders",
            {
                "fields": ("backend", "checkpoint", "revision", "lora_path", "lora_sha256", "settings"),
                "description": (
                    "Saving checks what a job launch checks: for a diffusers method, a model folder that "
                    "holds a Wan pipeline (model_index.json), num_frames of the form 4k+1, width and height "
                    "multiples of the model's patch (32 for Wan2.2 TI2V), and a LoRA whose sha256 is the "
                    "one given (make_tiny_model prints it for its LoRA). Settings override the backend's "
                    "defaults."
                ),
            },
        ),
    )

    def get_queryset(self, request):
        from django.db.models import Count

        return super().get_queryset(request).annotate(n_videos=Count("videos"))

    @admin.display(description="videos", ordering="n_videos")
    def video_count(self, obj: WithAnnotations[Method, _MethodRow]) -> int:
        return obj.n_videos


# What made a video. Read-only: changed, it would make comparisons, votes and exports describe a video
# that was never made that way.
VIDEO_PROVENANCE = ("method", "identity", "prompt", "seed", "settings")


@admin.register(Video)
class VideoAdmin(MediaAdminMixin, admin.ModelAdmin):
    list_display = (
        "preview_thumbnail",
        "identity",
        "prompt",
        "method",
        "seed",
        "width",
        "height",
        "num_frames",
        "fps",
        "origin",
    )
    list_filter = ("method", "origin", "identity", "prompt__task")
    search_fields = (
        "identity__name",
        "identity__slug",
        "prompt__slug",
        "method__name",
        "sha256",
        "original_sha256",
    )
    list_select_related = ("identity", "prompt", "method")
    list_per_page = 50
    readonly_fields = (
        "media_preview",
        *VIDEO_PROVENANCE,
        "file",
        "poster",
        "sha256",
        "bytes",
        "width",
        "height",
        "num_frames",
        "fps",
        "duration",
        "codec",
        "origin",
        "original_sha256",
        "original_metadata",
        "created_at",
        "automatic_metrics",
    )
    fields = readonly_fields

    def has_add_permission(self, request) -> bool:
        # Videos are generated by workers or imported with their probed metadata, never typed in.
        return False

    @admin.display(description="Automatic metrics")
    def automatic_metrics(self, obj: Video) -> str:
        """Every stored metric of the video, under each definition it was computed with."""
        rows = list(obj.metrics.order_by("name", "-computed_at"))
        if not rows:
            return "None yet (the Metrics page computes what is missing)."
        return format_html(
            "<table><thead><tr><th>Metric</th><th>Version</th><th>Status</th><th>Value</th><th>Note</th>"
            "<th>Computed</th></tr></thead><tbody>{}</tbody></table>",
            format_html_join(
                "",
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                (
                    (
                        row.name,
                        row.version,
                        row.get_status_display(),
                        "—" if row.value is None else f"{row.value:.4g}",
                        row.note,
                        f"{row.computed_at:%Y-%m-%d %H:%M}",
                    )
                    for row in rows
                ),
            ),
        )
