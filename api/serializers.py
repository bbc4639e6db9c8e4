"""What the API shows of each row, and the bodies it accepts. Raters appear only as salted ids."""

from __future__ import annotations

import math
from typing import Any, cast

from django.urls import reverse
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from annotate.models import Comparison, Criterion, Judgment, QualityReport, Rater, Track
from exports.models import ExportRun
from exports.options import DEFAULT_SCHEMA, DEFAULT_SPLIT, JOINT_RULES, MEDIA_MODES, SCHEMAS
from exports.read import rater_public_id
from generation.errors import GenerationError
from generation.models import (
    GenerationItem,
    Identity,
    Method,
    MetricRun,
    Prompt,
    Reference,
    Story,
    StoryShot,
    Video,
    VideoMetric,
)
from generation.selectors import JobProgress, MetricRunProgress, MetricSummary
from generation.services import settings_overrides_check
from studies.models import Study


class ReferenceSerializer(serializers.ModelSerializer):
    # The model's field is ``kind``; its name in the catalog's words is the framing.
    framing = serializers.ChoiceField(source="kind", choices=Reference.Kind.choices, read_only=True)

    class Meta:
        model = Reference
        fields = [
            "id",
            "framing",
            "viewpoint",
            "in_three_view",
            "is_primary",
            "position",
            "note",
            "sha256",
            "width",
            "height",
            "duration",
        ]


class IdentitySerializer(serializers.ModelSerializer):
    references = ReferenceSerializer(many=True, read_only=True)

    class Meta:
        model = Identity
        fields = ["id", "slug", "name", "description", "consent_note", "created_at", "references"]


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


class StoryShotSerializer(serializers.ModelSerializer):
    prompt_slug = serializers.SlugField(source="prompt.slug", read_only=True)
    text = serializers.CharField(
        source="prompt.full_text", read_only=True, help_text="The prompt's full text."
    )

    class Meta:
        model = StoryShot
        fields = ["position", "prompt", "prompt_slug", "text"]


class StorySerializer(serializers.ModelSerializer):
    shots = StoryShotSerializer(many=True, read_only=True, help_text="In the order they play.")

    class Meta:
        model = Story
        fields = ["id", "slug", "identity", "title", "created_at", "shots"]


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
            "kind",
            "ours",
            "baselines",
            "identities",
            "prompts",
            "stories",
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


# --- rater quality ------------------------------------------------------------------------------


class FiniteFloatField(serializers.FloatField):
    """A figure that may be undefined (no gold answered, too few votes): null rather than NaN."""

    def to_representation(self, value: Any) -> Any:  # float or None
        number = float(value) if value is not None else None
        return number if number is not None and math.isfinite(number) else None


def _figure() -> FiniteFloatField:
    return FiniteFloatField(allow_null=True, read_only=True)


def _count() -> serializers.IntegerField:
    return serializers.IntegerField(allow_null=True, read_only=True)


class QualityRaterSerializer(serializers.Serializer):
    """One row of a quality report (annotate.quality's figures); the rater only as a salted id."""

    rater_id = serializers.SerializerMethodField(help_text="Salted id of the rater, the same as in exports.")
    excluded = serializers.BooleanField(allow_null=True, read_only=True)
    excluded_reason = serializers.CharField(allow_null=True, read_only=True)
    votes = _count()
    gold_n = _count()
    gold_correct = _count()
    gold_accuracy = _figure()
    gold_low = _figure()
    gold_high = _figure()
    repeats_n = _count()
    repeats_same = _count()
    self_consistency = _figure()
    decisive_n = _count()
    left_n = _count()
    left_share = _figure()
    left_p = _figure()
    left_p_holm = _figure()
    contradiction_votes = _count()
    contradiction_e = _figure()
    ds_reliability = _figure()
    mace_spamming = _figure()
    median_ms = _figure()
    speeder_share = _figure()
    flags = serializers.ListField(child=serializers.CharField(), allow_null=True, read_only=True)
    review = serializers.ListField(child=serializers.CharField(), allow_null=True, read_only=True)

    def get_rater_id(self, row: dict[str, Any]) -> str:
        return rater_public_id(int(row["rater"]))


QUALITY_STATUSES = [*QualityReport.Status.values, "none"]


class QualityReportSerializer(serializers.Serializer):
    """The last stored quality report of a track or study. ``status`` "none": never computed (no rows)."""

    scope = serializers.CharField(read_only=True, help_text='"track:<id>" or "study:<id>"')
    kind = serializers.ChoiceField(
        choices=[c.value for c in Rater.Kind], read_only=True, help_text="What the raters are."
    )
    status = serializers.ChoiceField(
        choices=QUALITY_STATUSES,
        read_only=True,
        help_text="queued or running: a computation is under way (the rows are the last finished one's); "
        "failed: the last computation failed; none: never computed, and the rows are empty.",
    )
    progress = serializers.FloatField(read_only=True)
    computed_at = serializers.DateTimeField(
        allow_null=True, read_only=True, help_text="When the rows were computed."
    )
    judgments = serializers.IntegerField(read_only=True, help_text="Judgments the rows were computed from.")
    raters = QualityRaterSerializer(many=True, read_only=True)

    @classmethod
    def of(cls, *, scope: str, kind: str, report: QualityReport | None) -> QualityReportSerializer:
        if report is None:
            data = {"scope": scope, "kind": kind, "status": "none", "progress": 0.0, "computed_at": None}
            return cls({**data, "judgments": 0, "raters": []})
        return cls(
            {
                "scope": scope,
                "kind": kind,
                "status": report.status,
                "progress": report.progress,
                "computed_at": report.computed_at,
                "judgments": report.judgments,
                "raters": report.raters,
            }
        )


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
    schema = serializers.ChoiceField(
        choices=list(SCHEMAS),
        default=DEFAULT_SCHEMA,
        help_text="Snapshot schema: 2, or 1 for its first readers.",
    )


class ExportRunSerializer(serializers.ModelSerializer):
    download_url = serializers.SerializerMethodField()
    extends: serializers.PrimaryKeyRelatedField[ExportRun] = serializers.PrimaryKeyRelatedField(
        read_only=True,
        allow_null=True,
        help_text="The earlier run with the same options whose snapshot this one extends; null for none.",
    )

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
            "extends",
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
    identities = serializers.PrimaryKeyRelatedField(
        queryset=Identity.objects.all(), many=True, required=False, help_text="Not with match_method."
    )
    prompts = serializers.PrimaryKeyRelatedField(
        queryset=Prompt.objects.all(), many=True, required=False, help_text="Not with match_method."
    )
    seeds = serializers.JSONField(
        required=False,
        help_text="A count (seeds 0…N-1, the same for every method) or a list of seeds; not with "
        "match_method.",
    )
    match_method = serializers.PrimaryKeyRelatedField(
        queryset=Method.objects.all(),
        required=False,
        allow_null=True,
        help_text="Render exactly the (identity, prompt, seed) cases of this method's videos (a rematch of a "
        "new checkpoint against the last one), instead of identities, prompts and seeds.",
    )
    extend_track = serializers.PrimaryKeyRelatedField(
        queryset=Track.objects.all(),
        required=False,
        allow_null=True,
        help_text="Add the new videos' comparisons to this track (with match_method: each new video also "
        "against the matched method's video of the same identity, prompt and seed).",
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
    seconds_per_step = serializers.FloatField(allow_null=True)
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


# --- automatic metrics --------------------------------------------------------------------------


class MetricCountsSerializer(serializers.Serializer):
    """The catalog's videos by the status of their row under the metric's current definition."""

    computed = serializers.IntegerField()
    no_face = serializers.IntegerField()
    unavailable = serializers.IntegerField()
    failed = serializers.IntegerField()
    missing = serializers.IntegerField(help_text="Videos with no row yet.")


class MetricSummarySerializer(serializers.Serializer):
    """One metric as computed now (generation.selectors.MetricSummary)."""

    name = serializers.CharField(source="spec.name")
    # Declared fields move into _declared_fields, so this does not replace Field.label; the stubs type the
    # class body as if it did.
    label = serializers.CharField(source="spec.label")  # type: ignore[assignment]
    version = serializers.CharField(source="spec.version")
    unit = serializers.CharField(source="spec.unit")
    better = serializers.ChoiceField(choices=["lower", "higher"], source="spec.better")
    criterion = serializers.CharField(
        source="spec.criterion", allow_null=True, help_text="The human criterion it stands in for."
    )
    summary = serializers.CharField(source="spec.summary", help_text="What it measures.")
    cannot = serializers.CharField(source="spec.cannot", help_text="What it cannot measure.")
    definition = serializers.CharField(source="definition.digest", help_text="Digest of the definition.")
    model_hash = serializers.CharField(source="definition.model_hash")
    settings = serializers.DictField(source="definition.settings")
    counts = serializers.SerializerMethodField()

    @extend_schema_field(MetricCountsSerializer)
    def get_counts(self, summary: MetricSummary) -> dict[str, int]:
        statuses = ("computed", "no_face", "unavailable", "failed")
        return {status: summary.counts.get(status, 0) for status in statuses} | {"missing": summary.missing}


class MetricOverviewSerializer(serializers.Serializer):
    videos = serializers.IntegerField(help_text="The catalog's videos (no gold copies).")
    metrics = MetricSummarySerializer(many=True)


class VideoMetricSerializer(serializers.ModelSerializer):
    method = serializers.IntegerField(source="video.method_id", read_only=True)
    value = FiniteFloatField(allow_null=True, read_only=True)

    class Meta:
        model = VideoMetric
        fields = [
            "id",
            "video",
            "method",
            "name",
            "version",
            "definition",
            "status",
            "value",
            "details",
            "note",
            "seconds",
            "model_hash",
            "settings",
            "computed_at",
        ]


class MetricRunSerializer(serializers.Serializer):
    """A catalog run with its progress (generation.selectors.MetricRunProgress)."""

    id = serializers.IntegerField(source="run.pk")
    status = serializers.SerializerMethodField()
    video_count = serializers.IntegerField(source="run.video_count", help_text="The catalog's videos then.")
    total = serializers.IntegerField(help_text="The run's videos that still exist.")
    done = serializers.IntegerField(help_text="Of them, those with a row for each of the run's definitions.")
    percent = serializers.IntegerField()
    definitions = serializers.DictField(
        child=serializers.CharField(), source="run.definitions", help_text="Metric name → definition."
    )
    created_at = serializers.DateTimeField(source="run.created_at")
    finished_at = serializers.DateTimeField(source="run.finished_at", allow_null=True)

    @extend_schema_field(serializers.ChoiceField(choices=MetricRun.Status.choices))
    def get_status(self, progress: MetricRunProgress) -> str:
        return MetricRun.Status.DONE if progress.finished else progress.run.status


class TokenCredentialsSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(max_length=4096, trim_whitespace=False, style={"input_type": "password"})


class TokenSerializer(serializers.Serializer):
    token = serializers.CharField()
    expires = serializers.DateTimeField(allow_null=True, help_text="When the token stops being accepted.")


# --- rankings ------------------------------------------------------------------------------------------


class FragilitySerializer(serializers.Serializer):
    removals = serializers.IntegerField(
        allow_null=True, help_text="Judgments whose removal puts runner_up above leader (greedy upper bound)."
    )
    leader = serializers.CharField()
    runner_up = serializers.CharField()


class LeaderboardRowSerializer(serializers.Serializer):
    method = serializers.CharField()
    score = serializers.FloatField(help_text="Bradley–Terry strength on the Elo scale, mean 1000.")
    low = serializers.FloatField(help_text="2.5th percentile of the bootstrap, raters resampled.")
    high = serializers.FloatField(help_text="97.5th percentile.")
    rank_upper = serializers.IntegerField(help_text="1 + the methods whose low is above this one's high.")
    judgments = serializers.IntegerField()


class LeaderboardSerializer(serializers.Serializer):
    """One criterion's leaderboard; the win-rate and count matrices are in ``methods`` order, best first."""

    criterion = serializers.CharField()
    methods = LeaderboardRowSerializer(many=True)
    win_rate = serializers.ListField(
        child=serializers.ListField(child=serializers.FloatField(allow_null=True)),
        help_text="[i][j]: share of i's wins over j, ties half; null without a judgment.",
    )
    pair_counts = serializers.ListField(child=serializers.ListField(child=serializers.IntegerField()))
    fragility = FragilitySerializer(allow_null=True)
    rounds = serializers.IntegerField()
    seed = serializers.IntegerField()
    resample = serializers.CharField()
    raters = serializers.IntegerField()
    total = serializers.IntegerField(help_text="Judgments fitted.")
    tie_rule = serializers.CharField()


class RankingRunSerializer(serializers.Serializer):
    """The stored leaderboard of a set of options: status "queued"/"running" while a worker computes it."""

    status = serializers.CharField()
    progress = serializers.FloatField()
    error = serializers.CharField()
    computed_at = serializers.DateTimeField(allow_null=True)
    seconds = serializers.FloatField(allow_null=True, help_text="How long the computation took.")
    judgments = serializers.IntegerField()
    options = serializers.DictField()
    leaderboards = LeaderboardSerializer(many=True)


IDS_HELP = "Ids, comma separated (none of tracks and studies: every track and study)."


class RankingOptionsSerializer(serializers.Serializer):
    """The options of a leaderboard: a POST body, and (with ``criterion``) the GET's query."""

    tracks = serializers.RegexField(r"^[0-9, ]*$", required=False, allow_blank=True, help_text=IDS_HELP)
    studies = serializers.RegexField(r"^[0-9, ]*$", required=False, allow_blank=True, help_text=IDS_HELP)
    rounds = serializers.IntegerField(
        required=False, min_value=1, max_value=100_000, help_text="Bootstrap rounds (default 1,000)."
    )
    seed = serializers.IntegerField(required=False, min_value=0, max_value=2**32 - 1, help_text="Default 0.")


class RankingQuerySerializer(RankingOptionsSerializer):
    criterion = serializers.ChoiceField(
        choices=["all", *Criterion.values], required=False, help_text='One criterion, or "all" (default).'
    )


class CheckpointQuerySerializer(serializers.Serializer):
    new = serializers.IntegerField(min_value=1, max_value=2**63 - 1, help_text="The new method's id.")
    old = serializers.IntegerField(min_value=1, max_value=2**63 - 1, help_text="The old method's id.")
    half_width = serializers.FloatField(
        required=False, min_value=0.001, max_value=0.499, help_text="Wanted interval half-width (0.05)."
    )
    tracks = serializers.RegexField(r"^[0-9, ]*$", required=False, allow_blank=True, help_text=IDS_HELP)
    studies = serializers.RegexField(r"^[0-9, ]*$", required=False, allow_blank=True, help_text=IDS_HELP)


class CheckpointRowSerializer(serializers.Serializer):
    criterion = serializers.CharField()
    wins = serializers.IntegerField()
    losses = serializers.IntegerField()
    ties = serializers.IntegerField()
    n = serializers.IntegerField()
    raters = serializers.IntegerField()
    rate = serializers.FloatField(help_text="The new method's share of wins, ties half.")
    low = serializers.FloatField(help_text="95 % interval, raters resampled.")
    high = serializers.FloatField()
    p_better = serializers.FloatField(
        help_text="One-sided: the new method is preferred more than half the time."
    )
    design_effect = serializers.FloatField()
    more_needed = serializers.IntegerField(help_text="Further judgments for an interval of ± half_width.")


class CheckpointComparisonSerializer(serializers.Serializer):
    new = serializers.CharField()
    old = serializers.CharField()
    half_width = serializers.FloatField()
    criteria = CheckpointRowSerializer(many=True)


# --- metrics against people ------------------------------------------------------------------------


class MetricAgreementQuerySerializer(serializers.Serializer):
    criterion = serializers.ChoiceField(choices=Criterion.values, help_text="The human criterion.")
    tracks = serializers.RegexField(r"^[0-9, ]*$", required=False, allow_blank=True, help_text=IDS_HELP)
    studies = serializers.RegexField(r"^[0-9, ]*$", required=False, allow_blank=True, help_text=IDS_HELP)
    definition = serializers.RegexField(
        r"^[0-9a-fA-F]{64}$",
        required=False,
        help_text="The metric's definition digest (default: the one with most videos, ties to the newest).",
    )
    bins = serializers.IntegerField(
        required=False, min_value=1, max_value=20, help_text="Quantile bins of the metric's gap (default 4)."
    )


class MetricDefinitionSerializer(serializers.Serializer):
    name = serializers.CharField()
    display_name = serializers.CharField(help_text="The metric's name as pages show it.")
    unit = serializers.CharField()
    better = serializers.ChoiceField(choices=["lower", "higher"])
    version = serializers.CharField()
    definition = serializers.CharField(allow_null=True, help_text="Null: never computed.")
    rows = serializers.IntegerField(help_text="Videos with a row of this definition, any status.")
    computed = serializers.IntegerField(help_text="Videos with a value.")
    statuses = serializers.DictField(child=serializers.IntegerField())


class GapBinSerializer(serializers.Serializer):
    low = serializers.FloatField(help_text="The bin's smallest gap |value_a - value_b|.")
    high = serializers.FloatField()
    n = serializers.IntegerField()
    agree = serializers.IntegerField()
    share = serializers.FloatField()
    ci_low = serializers.FloatField(help_text="95 % Wilson interval.")
    ci_high = serializers.FloatField()


class DisagreementSerializer(serializers.Serializer):
    comparison = serializers.IntegerField()
    video_a = serializers.IntegerField()
    video_b = serializers.IntegerField()
    method_a = serializers.CharField()
    method_b = serializers.CharField()
    n_a = serializers.IntegerField()
    n_b = serializers.IntegerField()
    value_a = serializers.FloatField()
    value_b = serializers.FloatField()
    people = serializers.CharField(help_text="The majority's video: A or B.")
    metric = serializers.CharField(help_text="The video with the better value: A or B.")
    margin = serializers.FloatField(help_text="|n_a - n_b| / (n_a + n_b).")
    gap = serializers.FloatField()
    weight = serializers.FloatField(help_text="margin × gap: the order of the list.")


class AgreementSerializer(serializers.Serializer):
    judged = serializers.IntegerField(help_text="Comparisons with a vote on the criterion.")
    undecided = serializers.IntegerField(help_text="No strict majority of A against B: left out.")
    missing = serializers.IntegerField(help_text="Decided, but a video has no value: left out.")
    metric_ties = serializers.IntegerField(help_text="Decided, equal values: left out.")
    n = serializers.IntegerField(help_text="Comparisons compared.")
    agree = serializers.IntegerField()
    share = serializers.FloatField(allow_null=True)
    low = serializers.FloatField(help_text="95 % Wilson interval.")
    high = serializers.FloatField()
    bins = GapBinSerializer(many=True)
    disagreeing = serializers.IntegerField()
    disagreements = DisagreementSerializer(many=True, help_text="The most striking first, at most 20.")


class MethodOrderRowSerializer(serializers.Serializer):
    method = serializers.CharField()
    score = serializers.FloatField(help_text="Bradley–Terry score, Elo scale.")
    mean = serializers.FloatField(help_text="The metric's mean over the method's judged videos.")
    videos = serializers.IntegerField()


class MethodOrderSerializer(serializers.Serializer):
    tau = serializers.FloatField(
        allow_null=True, help_text="Kendall's tau-b, signed so that 1 is the same order."
    )
    p_value = serializers.FloatField(allow_null=True)
    methods = MethodOrderRowSerializer(many=True)


class MetricAgreementSerializer(serializers.Serializer):
    criterion = serializers.CharField()
    metric = MetricDefinitionSerializer(allow_null=True, help_text="Null: no metric stands in for it.")
    available = serializers.BooleanField()
    reason = serializers.CharField(help_text="Why there are no numbers, when there are none.")
    notes = serializers.ListField(child=serializers.CharField(), help_text="What the numbers cannot say.")
    agreement = AgreementSerializer(allow_null=True)
    method_order = MethodOrderSerializer(allow_null=True)


class MetricTableQuerySerializer(serializers.Serializer):
    methods = serializers.RegexField(
        r"^[0-9, ]*$", required=False, allow_blank=True, help_text="Method ids (default: those judged)."
    )
    tracks = serializers.RegexField(r"^[0-9, ]*$", required=False, allow_blank=True, help_text=IDS_HELP)
    studies = serializers.RegexField(r"^[0-9, ]*$", required=False, allow_blank=True, help_text=IDS_HELP)
    videos = serializers.ChoiceField(
        choices=["judged", "all"], required=False, help_text="The videos behind each mean (default judged)."
    )


class MeanCellSerializer(serializers.Serializer):
    method = serializers.CharField()
    mean = serializers.FloatField()
    low = serializers.FloatField(allow_null=True, help_text="95 % Student t interval; null for one video.")
    high = serializers.FloatField(allow_null=True)
    n = serializers.IntegerField(help_text="Videos.")
    best = serializers.BooleanField()


class TableMetricSerializer(serializers.Serializer):
    name = serializers.CharField()
    display_name = serializers.CharField(help_text="The metric's name as pages show it.")
    unit = serializers.CharField()
    better = serializers.CharField()
    version = serializers.CharField()
    definition = serializers.CharField(allow_null=True)
    cells = serializers.ListField(child=MeanCellSerializer(allow_null=True))


class RateCellSerializer(serializers.Serializer):
    method = serializers.CharField()
    rate = serializers.FloatField(help_text="Share of judgments won against the other methods, ties half.")
    low = serializers.FloatField(help_text="95 % bootstrap interval over raters.")
    high = serializers.FloatField()
    n = serializers.IntegerField(help_text="Judgments.")
    best = serializers.BooleanField()


class TableRatesSerializer(serializers.Serializer):
    criterion = serializers.CharField()
    cells = serializers.ListField(child=RateCellSerializer(allow_null=True))


class MissingMetricSerializer(serializers.Serializer):
    name = serializers.CharField()
    reason = serializers.CharField()


class MetricTableSerializer(serializers.Serializer):
    methods = serializers.ListField(child=serializers.CharField())
    videos = serializers.CharField()
    metrics = TableMetricSerializer(many=True)
    missing = MissingMetricSerializer(many=True)
    win_rates = TableRatesSerializer(many=True)
