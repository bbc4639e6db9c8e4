"""What the API shows of each row, and the bodies it accepts. Raters appear only as salted ids."""

from __future__ import annotations

from typing import Any, cast

from django.urls import reverse
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from annotate.models import Comparison, Criterion, Judgment, Track
from exports.models import ExportRun
from exports.options import DEFAULT_SPLIT, JOINT_RULES, MEDIA_MODES
from exports.read import rater_public_id
from generation.errors import GenerationError
from generation.models import GenerationItem, Identity, Method, Prompt, Video
from generation.selectors import JobProgress
from generation.services import settings_overrides_check
from studies.models import Study


class IdentitySerializer(serializers.ModelSerializer):
    class Meta:
        model = Identity
        fields = ["id", "slug", "name", "description", "consent_note", "created_at"]


class PromptSerializer(serializers.ModelSerializer):
    class Meta:
        model = Prompt
        fields = [
            "id",
            "slug",
            "task",
            "subject",
            "shot",
            "hairstyle",
            "clothing",
            "accessories",
            "expression",
            "action",
            "setting",
            "full_text",
            "differential_text",
            "omitted_aspects",
            "created_at",
        ]


class MethodSerializer(serializers.ModelSerializer):
    class Meta:
        model = Method
        fields = [
            "id",
            "name",
            "role",
            "backend",
            "checkpoint",
            "revision",
            "lora_path",
            "lora_sha256",
            "settings",
            "description",
            "created_at",
        ]


class VideoSerializer(serializers.ModelSerializer):
    class Meta:
        model = Video
        fields = [
            "id",
            "method",
            "identity",
            "prompt",
            "seed",
            "sha256",
            "bytes",
            "width",
            "height",
            "num_frames",
            "fps",
            "duration",
            "codec",
            "settings",
            "origin",
            "created_at",
        ]


class ComparisonSerializer(serializers.ModelSerializer):
    class Meta:
        model = Comparison
        fields = ["id", "video_a", "video_b", "identity", "prompt", "created_at"]


class TrackSerializer(serializers.ModelSerializer):
    class Meta:
        model = Track
        fields = [
            "id",
            "name",
            "kind",
            "votes_needed",
            "allow_tie",
            "allow_both_bad",
            "min_watch_fraction",
            "is_paused",
            "created_at",
        ]


class StudySerializer(serializers.ModelSerializer):
    class Meta:
        model = Study
        fields = [
            "id",
            "name",
            "public_title",
            "status",
            "preset",
            "format",
            "ours",
            "baselines",
            "identities",
            "prompts",
            "matchups_per_participant",
            "created_at",
            "opened_at",
            "closed_at",
        ]


class JudgmentSerializer(serializers.ModelSerializer):
    rater = serializers.SerializerMethodField(help_text="Salted id of the rater, the same as in exports.")
    # The serializer's metaclass moves declared fields into _declared_fields, so this does not replace
    # Field.source; the stubs type the class body as if it did.
    source = serializers.SerializerMethodField()  # type: ignore[assignment]
    source_id = serializers.SerializerMethodField()

    class Meta:
        model = Judgment
        fields = [
            "id",
            "comparison",
            "criterion",
            "choice",
            "shown_left",
            "rater",
            "source",
            "source_id",
            "response_ms",
            "watched_a",
            "watched_b",
            "selection_policy",
            "selection_probability",
            "created_at",
        ]

    def get_rater(self, judgment: Judgment) -> str:
        return rater_public_id(judgment.rater_id)

    @extend_schema_field(serializers.ChoiceField(choices=["track", "study"]))
    def get_source(self, judgment: Judgment) -> str:
        return "track" if judgment.track_id else "study"

    @extend_schema_field(serializers.IntegerField(allow_null=True))
    def get_source_id(self, judgment: Judgment) -> int | None:
        if judgment.track_id:
            return judgment.track_id
        participant = getattr(judgment.rater, "study_participant", None)
        return participant.study_id if participant else None


# --- exports ------------------------------------------------------------------------------------


class ExportOptionsSerializer(serializers.Serializer):
    """The body of POST /api/exports/: the options of ``manage.py export_preferences``."""

    name = serializers.CharField(default="preferences", max_length=80)
    # Ids within the bigint primary keys: one beyond them would reach the database's lookup.
    tracks = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=2**63 - 1), default=list
    )
    studies = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=2**63 - 1), default=list
    )
    criteria = serializers.ListField(child=serializers.ChoiceField(choices=Criterion.choices), default=list)
    min_votes = serializers.IntegerField(min_value=1, max_value=2**31 - 1, default=1)
    min_majority = serializers.FloatField(min_value=0, max_value=1, default=0.0)
    keep_ties = serializers.BooleanField(default=True)
    exclude_raters = serializers.ListField(
        child=serializers.CharField(),
        default=list,
        help_text="Rater ids, usernames, or salted ids from an earlier export.",
    )
    split = serializers.ListField(
        child=serializers.FloatField(min_value=0, max_value=1),
        min_length=3,
        max_length=3,
        default=lambda: list(DEFAULT_SPLIT),
        help_text="Train, validation and test fractions, adding up to 1.",
    )
    split_seed = serializers.IntegerField(min_value=-(2**63), max_value=2**63 - 1, default=0)
    media = serializers.ChoiceField(choices=list(MEDIA_MODES), default="none")
    joint_criteria = serializers.ListField(
        child=serializers.ChoiceField(choices=Criterion.choices), default=list
    )
    joint_rule = serializers.ChoiceField(choices=list(JOINT_RULES), default="all")


class ExportRunSerializer(serializers.ModelSerializer):
    download_url = serializers.SerializerMethodField()

    class Meta:
        model = ExportRun
        fields = [
            "id",
            "status",
            "progress",
            "progress_message",
            "options",
            "counts",
            "error",
            "archive_bytes",
            "archive_sha256",
            "download_url",
            "created_at",
            "started_at",
            "finished_at",
        ]

    @extend_schema_field(serializers.URLField(allow_null=True))
    def get_download_url(self, run: ExportRun) -> str | None:
        if run.status != ExportRun.Status.DONE:
            return None
        path = reverse("api:export-download", args=[run.pk])
        request = self.context.get("request")
        return request.build_absolute_uri(path) if request else path


# --- generation jobs ----------------------------------------------------------------------------


class GenerationJobCreateSerializer(serializers.Serializer):
    method = serializers.PrimaryKeyRelatedField(queryset=Method.objects.all())
    identities = serializers.PrimaryKeyRelatedField(queryset=Identity.objects.all(), many=True)
    prompts = serializers.PrimaryKeyRelatedField(queryset=Prompt.objects.all(), many=True)
    seeds = serializers.JSONField(
        help_text="A count (seeds 0…N-1, the same for every method) or a list of seeds.",
    )
    settings = serializers.DictField(default=dict, help_text="Overrides of the method's sampling settings.")

    def validate_seeds(self, value: Any) -> int | list[int]:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, list) and all(isinstance(s, int) and not isinstance(s, bool) for s in value):
            return value
        raise serializers.ValidationError("a number of seeds or a list of integer seeds")

    def validate_settings(self, value: dict[str, Any]) -> dict[str, Any]:
        try:
            settings_overrides_check(value)
        except GenerationError as error:
            raise serializers.ValidationError(str(error)) from error
        return value


class GenerationItemSerializer(serializers.ModelSerializer):
    class Meta:
        model = GenerationItem
        fields = ["id", "identity", "prompt", "seed", "status", "step", "steps_total", "video", "error"]


class GenerationJobSerializer(serializers.Serializer):
    """A job with its progress (generation.selectors.JobProgress)."""

    id = serializers.IntegerField(source="job.pk")
    method = serializers.IntegerField(source="job.method_id")
    status = serializers.CharField(source="job.status")
    seeds = serializers.ListField(child=serializers.IntegerField(), source="job.seeds")
    settings = serializers.DictField(source="job.settings")
    cancel_requested = serializers.BooleanField(source="job.cancel_requested")
    error = serializers.CharField(source="job.error")
    total = serializers.IntegerField()
    done = serializers.IntegerField()
    failed = serializers.IntegerField()
    cancelled = serializers.IntegerField()
    running = serializers.IntegerField()
    queued = serializers.IntegerField()
    percent = serializers.IntegerField()
    seconds_left = serializers.FloatField(allow_null=True)
    created_at = serializers.DateTimeField(source="job.created_at")
    started_at = serializers.DateTimeField(source="job.started_at", allow_null=True)
    finished_at = serializers.DateTimeField(source="job.finished_at", allow_null=True)


class GenerationJobDetailSerializer(GenerationJobSerializer):
    items = serializers.SerializerMethodField()

    @extend_schema_field(GenerationItemSerializer(many=True))
    def get_items(self, progress: JobProgress) -> list[dict[str, Any]]:
        items = GenerationItemSerializer(progress.job.items.order_by("id"), many=True)
        # many=True makes a ListSerializer, whose data is a list; the stubs type it as one item's.
        return cast(list[dict[str, Any]], items.data)


class TokenCredentialsSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(max_length=4096, trim_whitespace=False, style={"input_type": "password"})


class TokenSerializer(serializers.Serializer):
    token = serializers.CharField()
    expires = serializers.DateTimeField(allow_null=True, help_text="When the token stops being accepted.")
