"""Query-parameter filters, each a serializer: a bad value or an unknown name is a 400 naming the field.

Plain serializers rather than django-filter (not a dependency): every list names its filters here, and
``filter_queryset`` turns the validated values into ORM filters.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Exists, OuterRef, Q, QuerySet
from rest_framework import serializers

from annotate.models import Choice, Criterion, JudgmentQuerySet, Rater, Track
from exports.models import ExportRun
from exports.read import rater_public_id
from generation.metrics.definitions import METRICS
from generation.models import GenerationStatus, Method, Prompt, Video
from lib.converters import BIGINT_MAX
from studies.models import Answer, Study

# Parameters of the pagination and of DRF's format negotiation, allowed beside any filter.
PAGING_PARAMS = {"cursor", "page_size", "format"}


class WholeNumberField(serializers.IntegerField):
    """An integer written as one: DRF's own field also takes "1.0", which the schema's integer does not."""

    def to_internal_value(self, data: Any) -> int:
        if not (
            isinstance(data, str) and data.removeprefix("-").isascii() and data.removeprefix("-").isdigit()
        ):
            self.fail("invalid")
        return super().to_internal_value(data)


class Filters(serializers.Serializer):
    """Base: ``apply`` filters a queryset with the validated values; fields map to lookups by default."""

    lookups: dict[str, str] = {}

    def apply(self, queryset: QuerySet, values: dict[str, Any]) -> QuerySet:
        for name, value in values.items():
            queryset = queryset.filter(**{self.lookups.get(name, name): value})
        return queryset


class IdentityFilters(Filters):
    slug = serializers.SlugField(required=False)
    search = serializers.CharField(required=False, help_text="Part of the name or slug.")

    def apply(self, queryset: QuerySet, values: dict[str, Any]) -> QuerySet:
        search = values.pop("search", None)
        if search:
            queryset = queryset.filter(Q(name__icontains=search) | Q(slug__icontains=search))
        return super().apply(queryset, values)


class PromptFilters(Filters):
    slug = serializers.SlugField(required=False)
    task = serializers.ChoiceField(choices=Prompt.Task.choices, required=False)
    subject = serializers.ChoiceField(choices=Prompt.Subject.choices, required=False)


class MethodFilters(Filters):
    name = serializers.CharField(required=False)
    role = serializers.ChoiceField(choices=Method.Role.choices, required=False)
    backend = serializers.ChoiceField(choices=Method.Backend.choices, required=False)


class StoryFilters(Filters):
    slug = serializers.SlugField(required=False)
    identity = WholeNumberField(required=False, min_value=1, max_value=BIGINT_MAX)
    lookups = {"identity": "identity_id"}


class VideoFilters(Filters):
    identity = WholeNumberField(required=False, min_value=1, max_value=BIGINT_MAX)
    prompt = WholeNumberField(required=False, min_value=1, max_value=BIGINT_MAX)
    method = WholeNumberField(required=False, min_value=1, max_value=BIGINT_MAX)
    seed = WholeNumberField(required=False, min_value=-BIGINT_MAX - 1, max_value=BIGINT_MAX)
    origin = serializers.ChoiceField(choices=Video.Origin.choices, required=False)
    lookups = {"identity": "identity_id", "prompt": "prompt_id", "method": "method_id"}


class ComparisonFilters(Filters):
    identity = WholeNumberField(required=False, min_value=1, max_value=BIGINT_MAX)
    prompt = WholeNumberField(required=False, min_value=1, max_value=BIGINT_MAX)
    track = WholeNumberField(required=False, min_value=1, max_value=BIGINT_MAX)
    lookups = {"identity": "identity_id", "prompt": "prompt_id"}

    def apply(self, queryset: QuerySet, values: dict[str, Any]) -> QuerySet:
        values = dict(values)
        track = values.pop("track", None)
        if track is not None:
            # The track's work: a gold comparison handed out as a check is not one of its comparisons.
            queryset = queryset.filter(track_items__track_id=track, track_items__is_check=False)
        return super().apply(queryset, values)


class TrackFilters(Filters):
    kind = serializers.ChoiceField(choices=Track.Kind.choices, required=False)
    # Not nullable: DRF would read an empty value as null and so not filter at all.
    is_paused = serializers.BooleanField(required=False)


class StudyFilters(Filters):
    status = serializers.ChoiceField(choices=Study.Status.choices, required=False)


class JudgmentFilters(Filters):
    track = WholeNumberField(required=False, min_value=1, max_value=BIGINT_MAX)
    study = WholeNumberField(required=False, min_value=1, max_value=BIGINT_MAX)
    comparison = WholeNumberField(required=False, min_value=1, max_value=BIGINT_MAX)
    criterion = serializers.ChoiceField(choices=Criterion.choices, required=False)
    choice = serializers.ChoiceField(choices=Choice.choices, required=False)
    # The serializer's metaclass moves declared fields into _declared_fields, so this does not replace
    # Field.source; the stubs type the class body as if it did.
    source = serializers.ChoiceField(  # type: ignore[assignment]
        choices=[("track", "track"), ("study", "study")], required=False
    )
    rater = serializers.RegexField(
        r"^[0-9a-f]{20}$", required=False, help_text="A salted rater id, as judgments and exports show it."
    )
    created_after = serializers.DateTimeField(required=False)
    created_before = serializers.DateTimeField(required=False)
    lookups = {
        "track": "track_id",
        "study": "rater__study_participant__study_id",
        "comparison": "comparison_id",
        "created_after": "created_at__gte",
        "created_before": "created_at__lt",
    }

    def apply(self, queryset: QuerySet, values: dict[str, Any]) -> QuerySet:
        source = values.pop("source", None)
        if source is not None:
            queryset = queryset.filter(track__isnull=source == "study")
        salted = values.pop("rater", None)
        if salted is not None:
            # Salted ids cannot be reversed: hash the raters (thousands, not millions) and compare.
            pks = [pk for pk in Rater.objects.values_list("pk", flat=True) if rater_public_id(pk) == salted]
            queryset = queryset.filter(rater_id__in=pks)
        return super().apply(queryset, values)


def judgments_visible(queryset: JudgmentQuerySet) -> JudgmentQuerySet:
    """Judgments that count: the dataset's votes (``Judgment.objects.dataset()``: no gold or repeat check,
    never an excluded rater's, an excluded seat's or a withdrawn participant's), and study answers only
    while an answer links them (the same rule as the export)."""
    linked = Exists(Answer.judgments.through.objects.filter(judgment_id=OuterRef("pk")))
    return (
        queryset.dataset()
        .exclude(rater__study_participant__status="withdrawn")
        .filter(Q(track__isnull=False) | linked)
    )


class ExportRunFilters(Filters):
    status = serializers.ChoiceField(choices=ExportRun.Status.choices, required=False)


class GenerationJobFilters(Filters):
    status = serializers.ChoiceField(choices=GenerationStatus.choices, required=False)
    method = WholeNumberField(required=False, min_value=1, max_value=BIGINT_MAX)
    lookups = {"method": "method_id"}


class VideoMetricFilters(Filters):
    video = WholeNumberField(required=False, min_value=1, max_value=BIGINT_MAX)
    name = serializers.ChoiceField(choices=sorted(METRICS), required=False)
    # Not nullable: DRF would read an empty value as null.
    current = serializers.BooleanField(
        required=False, default=True, help_text="Only rows of each metric's current definition (default)."
    )
