from __future__ import annotations

from typing import TYPE_CHECKING

from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html

from generation.models import Identity, Method, Prompt, Reference, Video

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


class ReferenceInline(MediaAdminMixin, admin.TabularInline):
    model = Reference
    extra = 0
    fields = ("preview_thumbnail", "kind", "is_primary", "position", "note", "width", "height", "duration")
    readonly_fields = ("preview_thumbnail", "kind", "width", "height", "duration")
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
    list_display = ("preview_thumbnail", "identity", "kind", "is_primary", "width", "height", "duration")
    list_filter = ("kind", "is_primary", "identity")
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
    fields = ("media_preview", "identity", "kind", "is_primary", "position", "note", *readonly_fields[1:])


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
    )
    fields = readonly_fields

    def has_add_permission(self, request) -> bool:
        # Videos are generated by workers or imported with their probed metadata, never typed in.
        return False
