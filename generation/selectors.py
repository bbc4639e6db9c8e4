"""Reads of the catalog and of generation: media owners, counts, jobs with their progress and items."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from statistics import median
from typing import Any

from django.db.models import Avg, Count, F, Prefetch, Q, QuerySet
from django.utils import timezone

from generation import signals
from generation.metrics.compute import metric_definitions
from generation.metrics.definitions import MetricDefinition, MetricSpec
from generation.models import (
    FINISHED_STATUSES,
    GenerationItem,
    GenerationJob,
    GenerationStatus,
    Identity,
    Method,
    MetricRun,
    Prompt,
    Reference,
    Video,
    VideoMetric,
    step_pace,
)

Status = GenerationStatus


# --- the catalog -------------------------------------------------------------------------------------------


def media_owner_get(*, name: str) -> Video | Reference | None:
    """The catalog row that stores ``name`` as its file or poster, if any."""
    if "\x00" in name:
        return None  # no stored name holds one, and PostgreSQL refuses it in a query
    for model in (Video, Reference):
        owner = model.objects.filter(Q(file=name) | Q(poster=name)).first()
        if owner is not None:
            return owner
    return None


def videos_by_file_sha256(*, digests: list[str]) -> dict[str, Video]:
    """The catalog's videos whose file, as imported (original) or as stored, has one of these sha256s.

    An imported video is stored re-encoded, so the file an import names is found by its original's sha256;
    a file that is itself a stored video (one downloaded and imported again) by the stored sha256.
    """
    found: dict[str, Video] = {}
    videos = Video.objects.select_related("method", "identity", "prompt").filter(
        Q(original_sha256__in=digests) | Q(sha256__in=digests)
    )
    for video in videos:
        for digest in (video.sha256, video.original_sha256):
            if digest in digests:
                found[digest] = video
    return found


# Differences smaller than these are not visible to a rater.
FPS_TOLERANCE = 0.05
DURATION_TOLERANCE = 0.1  # seconds


def video_shape_warnings(*, videos: QuerySet[Video], reference_method_id: int | None = None) -> list[str]:
    """What a rater could tell methods apart by, among videos that are compared against one another.

    Re-encoding makes every file alike, but not the picture: each method's width × height, frame rate and
    duration (its median) are compared with those of the reference method (by default the first by name).
    One sentence per method that differs, naming what differs.
    """
    shapes: dict[int, dict[str, Any]] = {}
    for method_id, name, width, height, fps, duration in videos.values_list(
        "method_id", "method__name", "width", "height", "fps", "duration"
    ).order_by():
        shape = shapes.setdefault(method_id, {"name": name, "sizes": Counter(), "fps": [], "durations": []})
        shape["sizes"][(width, height)] += 1
        shape["fps"].append(fps)
        shape["durations"].append(duration)
    if len(shapes) < 2:
        return []
    if reference_method_id not in shapes:
        reference_method_id = min(shapes, key=lambda key: (shapes[key]["name"], key))
    reference = shapes[reference_method_id]
    warnings = []
    for method_id, shape in sorted(shapes.items(), key=lambda item: item[1]["name"]):
        if method_id == reference_method_id:
            continue
        theirs, ours = _shape_differences(shape, reference)
        if theirs:
            warnings.append(
                f"Method {shape['name']}'s videos are {', '.join(theirs)} while method {reference['name']}'s "
                f"are {', '.join(ours)}; a rater can tell them apart by that."
            )
    return warnings


def _shape_differences(shape: dict[str, Any], reference: dict[str, Any]) -> tuple[list[str], list[str]]:
    theirs: list[str] = []
    ours: list[str] = []
    if set(shape["sizes"]) != set(reference["sizes"]):
        theirs.append(_sizes_text(shape["sizes"]))
        ours.append(_sizes_text(reference["sizes"]))
    fps, reference_fps = median(shape["fps"]), median(reference["fps"])
    if abs(fps - reference_fps) > FPS_TOLERANCE:
        theirs.append(f"{fps:g} fps")
        ours.append(f"{reference_fps:g} fps")
    duration, reference_duration = median(shape["durations"]), median(reference["durations"])
    if abs(duration - reference_duration) > DURATION_TOLERANCE:
        theirs.append(f"{duration:.1f} s long")
        ours.append(f"{reference_duration:.1f} s long")
    return theirs, ours


def video_set_shape_warnings(*, videos: QuerySet[Video], reference: QuerySet[Video], what: str) -> list[str]:
    """What sets ``videos`` (``what``, e.g. "The new videos") apart from ``reference`` as a rater sees
    them: size, frame rate, duration (medians), in one sentence; empty when alike or either is empty."""
    shapes = []
    for queryset in (videos, reference):
        rows = list(queryset.values_list("width", "height", "fps", "duration").order_by())
        if not rows:
            return []
        shapes.append(
            {
                "sizes": Counter((width, height) for width, height, _, _ in rows),
                "fps": [fps for _, _, fps, _ in rows],
                "durations": [duration for _, _, _, duration in rows],
            }
        )
    theirs, ours = _shape_differences(shapes[0], shapes[1])
    if not theirs:
        return []
    return [
        f"{what} are {', '.join(theirs)} while the others are {', '.join(ours)}; "
        "a rater can tell them apart by that."
    ]


def _sizes_text(sizes: Counter[tuple[int, int]]) -> str:
    return " or ".join(f"{width}×{height}" for (width, height), _ in sizes.most_common())


def catalog_counts() -> dict[str, int]:
    return {
        "identities": Identity.objects.count(),
        "references": Reference.objects.count(),
        "prompts": Prompt.objects.count(),
        "methods": Method.objects.count(),
        "videos": Video.objects.of_methods().count(),
    }


# --- generation jobs ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class JobProgress:
    job: GenerationJob
    total: int
    done: int
    failed: int
    cancelled: int
    running: int
    queued: int
    step: int  # of the video that has gone furthest among those running
    steps_total: int
    seconds_spent: float | None
    seconds_left: float | None  # None until there is something to estimate from
    # The pace of that video's sampling steps, measured from its first step's end (so without the
    # model's loading and compiling); None until two steps have ended.
    seconds_per_step: float | None = None

    @property
    def settled(self) -> int:
        return self.done + self.failed + self.cancelled

    @property
    def percent(self) -> int:
        """Videos done, plus the running ones' share of their sampling steps."""
        if not self.total:
            return 0
        partial = self.running * (self.step / self.steps_total) if self.steps_total else 0.0
        return min(100, int(100 * (self.settled + partial) / self.total))

    @property
    def spent_text(self) -> str:
        return duration_text(self.seconds_spent)

    @property
    def pace_text(self) -> str:
        if self.seconds_per_step is None:
            return "measuring…" if self.running else "—"
        return f"{self.seconds_per_step:.2f} s"

    @property
    def left_text(self) -> str:
        if self.job.is_finished:
            return "—"
        return duration_text(self.seconds_left) if self.seconds_left is not None else "estimating…"

    def summary(self) -> str:
        what = "story renderings" if self.job.story_mode else "videos"
        parts = [f"job {self.job.pk} {self.job.status}: {self.done}/{self.total} {what} done"]
        if self.failed:
            parts.append(f"{self.failed} failed")
        if self.running and self.steps_total:
            parts.append(f"step {self.step}/{self.steps_total}")
        if self.seconds_per_step is not None:
            parts.append(f"{self.pace_text} a step")
        parts.append(f"{self.spent_text} spent")
        if not self.job.is_finished:
            parts.append(f"{self.left_text} left")
        return ", ".join(parts)


def duration_text(seconds: float | None) -> str:
    """Seconds as people read them on a progress page: "45 s", "3 min 05 s", "2 h 10 min"."""
    if seconds is None:
        return "—"
    whole = round(seconds)
    if whole < 60:
        return f"{whole} s"
    minutes, secs = divmod(whole, 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def _seconds(start: datetime | None, end: datetime | None) -> float | None:
    return (end - start).total_seconds() if start and end else None


def _progress(job: GenerationJob, items: list[dict[str, Any]], now: datetime) -> JobProgress:
    counts: dict[str, int] = defaultdict(int)
    for item in items:
        counts[item["status"]] += 1
    running = [item for item in items if item["status"] == Status.RUNNING]
    lead = max(running, key=lambda item: (item["step"], item["steps_total"]), default=None)

    # Seeds rendered in one call share their start: a batch's time is shared by its videos.
    batches: dict[datetime, list[dict[str, Any]]] = defaultdict(list)
    for item in items:
        if item["status"] == Status.DONE and item["started_at"] and item["finished_at"]:
            batches[item["started_at"]].append(item)
    batch_seconds = sum(
        (max(i["finished_at"] for i in batch) - start).total_seconds() for start, batch in batches.items()
    )
    per_video = batch_seconds / sum(len(batch) for batch in batches.values()) if batches else None

    left: float | None = None
    if not job.is_finished:
        # The running batches at their current pace, then the queued videos at the pace of finished ones,
        # shared among the workers that are busy with this job now.
        current = 0.0
        for item in running:
            elapsed = _seconds(item["started_at"], now) or 0.0
            pace = _pace(item)
            if pace is not None:
                # The measured steps' pace, less the time since the last step was written.
                since = _seconds(item["progress_at"], now) or 0.0
                current = max(current, pace * (item["steps_total"] - item["step"]) - since)
            elif item["step"] and item["steps_total"]:
                # One step so far: its time includes the loading, so this overestimates until the next.
                current = max(current, elapsed / item["step"] * (item["steps_total"] - item["step"]))
            elif per_video is not None:
                current = max(current, per_video - elapsed)
        parallel = max(1, len({item["started_at"] for item in running}))
        queued = counts[Status.QUEUED]
        if not queued:
            left = current if running else None
        elif per_video is not None:
            left = current + queued * per_video / parallel
    return JobProgress(
        job=job,
        total=len(items),
        done=counts[Status.DONE],
        failed=counts[Status.FAILED],
        cancelled=counts[Status.CANCELLED],
        running=len(running),
        queued=counts[Status.QUEUED],
        step=lead["step"] if lead else 0,
        steps_total=lead["steps_total"] if lead else 0,
        seconds_spent=_seconds(job.started_at, job.finished_at or now),
        seconds_left=max(0.0, left) if left is not None else None,
        seconds_per_step=_pace(lead) if lead else None,
    )


def _pace(item: dict[str, Any]) -> float | None:
    return step_pace(step=item["step"], first_step_at=item["first_step_at"], progress_at=item["progress_at"])


def _with_progress(jobs: list[GenerationJob]) -> list[JobProgress]:
    by_job: dict[int, list[dict[str, Any]]] = defaultdict(list)
    fields = (
        "job_id",
        "status",
        "step",
        "steps_total",
        "started_at",
        "first_step_at",
        "progress_at",
        "finished_at",
    )
    for item in GenerationItem.objects.filter(job__in=jobs).values(*fields).order_by():
        by_job[item["job_id"]].append(item)
    now = timezone.now()
    return [_progress(job, by_job[job.pk], now) for job in jobs]


def job_list() -> QuerySet[GenerationJob]:
    return GenerationJob.objects.select_related("method", "match_method", "created_by")


def job_progress_list(*, limit: int = 50) -> list[JobProgress]:
    return _with_progress(list(job_list()[:limit]))


def job_progress_of(*, jobs: list[GenerationJob]) -> list[JobProgress]:
    """The progress of jobs already read (a page of the API's list), in one query for all their items."""
    return _with_progress(jobs)


def job_progress_get(*, job_id: int) -> JobProgress | None:
    job = (
        GenerationJob.objects.select_related("method", "match_method", "created_by").filter(pk=job_id).first()
    )
    return _with_progress([job])[0] if job else None


def job_items(*, job: GenerationJob) -> QuerySet[GenerationItem]:
    """The job's items; a story item with its rendering's videos (shots in order, then the joined file)."""
    shots = Prefetch("rendering__videos", queryset=Video.objects.order_by(F("shot").asc(nulls_last=True)))
    return job.items.select_related("identity", "prompt", "video", "story", "rendering").prefetch_related(
        shots
    )


def job_track_shape_warnings(*, job: GenerationJob) -> list[str]:
    """For a finished job that extends a track: what sets the videos it made apart from the track's others
    (size, frame rate, duration), which a rater could tell them by. Nothing while the job runs: its page
    polls every two seconds, and reading every video of a large track on each poll is not worth it."""
    if job.extend_track_id is None:
        return []
    if not GenerationJob.objects.filter(pk=job.pk, status__in=FINISHED_STATUSES).exists():
        return []  # read here: the caller's row may predate the job's end
    made = Video.objects.filter(generation_items__job=job, generation_items__status=GenerationStatus.DONE)
    track_ids = signals.track_video_ids(job.extend_track_id) - set(made.values_list("pk", flat=True))
    return video_set_shape_warnings(
        videos=made, reference=Video.objects.filter(pk__in=track_ids), what="This job's videos"
    )


def job_match_pairs(*, job: GenerationJob) -> list[tuple[Video, Video]]:
    """For a job that matches another method's videos: each video the job made with that method's video
    of the same identity, prompt and seed (the rematch's pairs), in the job's item order."""
    if job.match_method_id is None:
        return []
    made = list(
        Video.objects.filter(generation_items__job=job, generation_items__status=GenerationStatus.DONE)
        .order_by("identity_id", "prompt_id", "seed", "pk")
        .distinct()
    )
    old: dict[tuple[int, int, int], list[Video]] = defaultdict(list)
    for video in Video.objects.of_methods().filter(
        method_id=job.match_method_id,
        identity__in={video.identity_id for video in made},
        prompt__in={video.prompt_id for video in made},
        seed__in={video.seed for video in made},
    ):
        old[(video.identity_id, video.prompt_id, video.seed)].append(video)
    return [(new, match) for new in made for match in old[(new.identity_id, new.prompt_id, new.seed)]]


# --- automatic metrics -------------------------------------------------------------------------------------


def videos_lacking_metrics(*, digests: Collection[str]) -> QuerySet[Video]:
    """The catalog's videos (no gold copies) without a row for every one of these metric definitions."""
    return (
        Video.objects.of_methods()
        .annotate(present=Count("metrics", filter=Q(metrics__definition__in=list(digests))))
        .filter(present__lt=len(digests))
    )


def metric_run_videos(*, run: MetricRun) -> QuerySet[Video]:
    """The videos a catalog run is about: the catalog's when it was created (later ones are queued as they
    join)."""
    return Video.objects.of_methods().filter(created_at__lte=run.created_at)


@dataclass(frozen=True)
class MetricRunProgress:
    run: MetricRun
    total: int  # the run's videos (as many as it counted, less any deleted since)
    done: int  # of them, those with a row for each of the run's metric definitions

    @property
    def percent(self) -> int:
        return 100 if not self.total else min(100, 100 * self.done // self.total)

    @property
    def finished(self) -> bool:
        # The tasks mark the run done; a run whose last video was deleted meanwhile is finished too.
        return self.run.status == MetricRun.Status.DONE or self.done >= self.total


def metric_run_list() -> QuerySet[MetricRun]:
    return MetricRun.objects.select_related("created_by").order_by("-created_at", "-id")


def metric_run_progress_of(*, runs: Iterable[MetricRun]) -> list[MetricRunProgress]:
    progress = []
    for run in runs:
        videos = metric_run_videos(run=run)
        lacking = videos.filter(pk__in=videos_lacking_metrics(digests=run.definitions.values()).values("pk"))
        total = videos.count()
        progress.append(MetricRunProgress(run=run, total=total, done=total - lacking.count()))
    return progress


def metric_run_progress_get(*, run_id: int) -> MetricRunProgress | None:
    run = metric_run_list().filter(pk=run_id).first()
    return None if run is None else metric_run_progress_of(runs=[run])[0]


@dataclass(frozen=True)
class MetricSummary:
    """One metric as computed now, and how its rows over the catalog's videos stand."""

    definition: MetricDefinition
    counts: dict[str, int]  # VideoMetric status → videos
    missing: int  # videos with no row yet

    @property
    def spec(self) -> MetricSpec:
        return self.definition.spec

    @property
    def model_hash_short(self) -> str:
        return self.definition.model_hash[:12]


def metric_current_rows() -> QuerySet[VideoMetric]:
    """Rows of the metrics' current definitions, of the catalog's videos (no gold copies)."""
    digests = [definition.digest for definition in metric_definitions().values()]
    return VideoMetric.objects.filter(definition__in=digests, video__is_gold_stimulus=False)


def metric_summaries() -> list[MetricSummary]:
    """Each current metric definition with its rows counted by status over the catalog."""
    definitions = metric_definitions()
    counts: dict[str, dict[str, int]] = defaultdict(dict)
    rows = metric_current_rows().values_list("definition", "status").annotate(n=Count("pk")).order_by()
    for digest, status, n in rows:
        counts[digest][status] = n
    videos = Video.objects.of_methods().count()
    return [
        MetricSummary(
            definition=definition,
            counts=counts[definition.digest],
            missing=max(0, videos - sum(counts[definition.digest].values())),
        )
        for definition in definitions.values()
    ]


@dataclass(frozen=True)
class MethodMetricMeans:
    """One method's mean of each metric over its computed values (None where it has none)."""

    method: str
    role: str
    means: list[tuple[float, int] | None]  # (mean, videos), in the order of the metric names given


def metric_method_means(*, names: Sequence[str]) -> list[MethodMetricMeans]:
    """Per method, the mean of each current metric ``names`` over the method's computed values."""
    cells: dict[tuple[str, str], dict[str, tuple[float, int]]] = defaultdict(dict)
    rows = (
        metric_current_rows()
        .filter(status=VideoMetric.Status.COMPUTED)
        .values_list("video__method__name", "video__method__role", "name")
        .annotate(mean=Avg("value"), n=Count("pk"))
        .order_by()
    )
    for method, role, name, mean, n in rows:
        cells[(method, role)][name] = (mean, n)
    return [
        MethodMetricMeans(method=method, role=role, means=[values.get(name) for name in names])
        for (method, role), values in sorted(cells.items())
    ]


def video_metric_list(
    *, video_id: int | None = None, name: str | None = None, current: bool = True
) -> QuerySet[VideoMetric]:
    """Stored metric values, of the current definitions unless ``current`` is false, with their video."""
    rows = metric_current_rows() if current else VideoMetric.objects.filter(video__is_gold_stimulus=False)
    if video_id is not None:
        rows = rows.filter(video_id=video_id)
    if name is not None:
        rows = rows.filter(name=name)
    return rows.select_related("video")
