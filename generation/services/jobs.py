"""Generation jobs: launch, render (the work of a Celery task), retry and cancel.

A job is identities × prompts × seeds of one method, or the (identity, prompt, seed) cases of another
method's videos (a rematch), or stories × seeds in one story mode; each video, or each story rendering
(all of its shots, in order, in one task), is a GenerationItem. Items are queued in
batches of seeds of one (identity, prompt), one Celery task per batch, so that a backend can sample the
seeds in one call. Workers write progress and results to the rows; the pages only read them.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Mapping, Sequence
from itertools import chain, groupby
from pathlib import Path
from typing import Any

import numpy as np
from celery import current_app
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.contrib.auth.models import User
from django.db import IntegrityError, close_old_connections, connection, transaction
from django.db.models import Count
from django.utils import timezone

from generation import media, signals
from generation.backends import backend_for, method_check
from generation.backends.base import RenderRequest, seeds_valid, settings_overrides_check
from generation.errors import GenerationError, RenderCancelled
from generation.models import (
    FINISHED_STATUSES,
    STORY_SHOTS_MIN,
    GenerationItem,
    GenerationJob,
    GenerationStatus,
    Identity,
    Method,
    Prompt,
    Reference,
    Story,
    StoryRendering,
    Video,
)
from generation.services.catalog import video_create_from_frames

logger = logging.getLogger(__name__)

Status = GenerationStatus
MAX_SEEDS = 1000
# Progress reaches the database at most this often (plus the last step): enough for a progress bar,
# few enough writes that a fast sampler is not slowed down by them.
PROGRESS_INTERVAL_SECONDS = 0.33
# The render task (generation.tasks) is sent by its name, the contract with workers that may run on other
# machines: the services need not import the task module, which imports them.
RENDER_TASK = "generation.tasks.generation_render"


# --- launch ------------------------------------------------------------------------------------------------


def _seed_list(seeds: int | Sequence[int]) -> list[int]:
    if isinstance(seeds, bool):
        # An int to Python, but neither a count nor a list of seeds.
        raise TypeError("seeds must be a count or a list of seeds, not a bool")
    if isinstance(seeds, int):
        if not 1 <= seeds <= MAX_SEEDS:
            raise GenerationError(f"the number of seeds must be from 1 to {MAX_SEEDS}, got {seeds}")
        return list(range(seeds))
    chosen = seeds_valid(list(seeds))
    if not chosen or len(chosen) > MAX_SEEDS:
        raise GenerationError(f"give from 1 to {MAX_SEEDS} seeds")
    return chosen


def match_cases(*, method: Method, match_method: Method) -> list[tuple[Identity, Prompt, int]]:
    """The (identity, prompt, seed) cases of ``match_method``'s videos, ordered, for ``method`` to render
    on exactly the same inputs (a new checkpoint against the last one). Raises GenerationError when there
    is nothing to match."""
    if match_method.pk == method.pk:
        raise GenerationError(
            f"the method to match must be another method than {method.name}, the one rendering"
        )
    keys = list(
        Video.objects.of_methods()
        .filter(method=match_method)
        .values_list("identity_id", "prompt_id", "seed")
        .distinct()
        .order_by("identity_id", "prompt_id", "seed")
    )
    if not keys:
        raise GenerationError(f"method {match_method.name} has no videos to match")
    identities = Identity.objects.in_bulk({identity_id for identity_id, _, _ in keys})
    prompts = Prompt.objects.in_bulk({prompt_id for _, prompt_id, _ in keys})
    return [(identities[identity_id], prompts[prompt_id], seed) for identity_id, prompt_id, seed in keys]


def generation_job_create(
    *,
    method: Method,
    identities: Iterable[Identity] = (),
    prompts: Iterable[Prompt] = (),
    seeds: int | Sequence[int] | None = None,
    settings_overrides: Mapping[str, Any] | None = None,
    created_by: User | None = None,
    extend_track_id: int | None = None,
    extend_same_method_pairs: bool = False,
    match_method: Method | None = None,
    stories: Iterable[Story] = (),
    story_mode: str = "",
    queue: bool = True,
) -> GenerationJob:
    """Check the request, create one item per identity × prompt × seed, and queue their render tasks.

    ``seeds`` is a count (seeds 0…N-1, the same for every method, so that methods can be compared seed
    for seed) or a list. With ``match_method`` instead of identities, prompts and seeds, the items are the
    (identity, prompt, seed) cases of that method's videos. Videos already in the catalog for (method,
    identity, prompt, seed) are not made again. Raises GenerationError, with nothing written, when the
    request cannot be rendered. ``queue=False`` sends no task: the caller renders the items itself with
    ``generation_render`` (the demo's seeding does, in its own process).
    """
    identity_rows, prompt_rows = list(identities), list(prompts)
    story_rows = list(stories)
    if story_rows or story_mode:
        if identity_rows or prompt_rows or match_method is not None:
            raise GenerationError(
                "a story job renders the stories' own identities and shot prompts: "
                "give no identities, prompts or method to match"
            )
        if extend_track_id is not None or extend_same_method_pairs:
            raise GenerationError("a story job adds no comparisons to a track")
        return _story_job_create(
            method=method,
            stories=story_rows,
            story_mode=story_mode,
            seeds=seeds,
            overrides=dict(settings_overrides or {}),
            created_by=created_by,
            queue=queue,
        )
    if match_method is not None:
        if identity_rows or prompt_rows or seeds is not None:
            raise GenerationError(
                f"a job that matches {match_method.name} renders the identities, prompts and seeds of its "
                "videos: give no identities, prompts or seeds of its own"
            )
        cases = match_cases(method=method, match_method=match_method)
        identity_rows = list({identity.pk: identity for identity, _, _ in cases}.values())
        prompt_rows = list({prompt.pk: prompt for _, prompt, _ in cases}.values())
        seed_list = sorted({seed for _, _, seed in cases})
    else:
        if not identity_rows or not prompt_rows:
            raise GenerationError("choose at least one identity and one prompt")
        if seeds is None:
            raise GenerationError("give a number of seeds or a list of seeds")
        seed_list = _seed_list(seeds)
        cases = [(i, p, s) for i in identity_rows for p in prompt_rows for s in seed_list]
    overrides = dict(settings_overrides or {})
    settings_overrides_check(overrides)
    backend_for(method.backend)  # an imported method renders nothing
    resolved = method_check(method, overrides=overrides)
    existing = set(
        Video.objects.of_methods()
        .filter(method=method, identity__in=identity_rows, prompt__in=prompt_rows, seed__in=seed_list)
        .values_list("identity_id", "prompt_id", "seed")
    )
    wanted = [(i, p, s) for i, p, s in cases if (i.pk, p.pk, s) not in existing]
    if not wanted:
        raise GenerationError("every requested video is already in the catalog")
    with transaction.atomic():
        job = GenerationJob.objects.create(
            method=method,
            seeds=seed_list,
            settings=overrides,
            created_by=created_by,
            extend_track_id=extend_track_id,
            extend_same_method_pairs=extend_same_method_pairs,
            match_method=match_method,
        )
        job.identities.set(identity_rows)
        job.prompts.set(prompt_rows)
        items = GenerationItem.objects.bulk_create(
            [GenerationItem(job=job, identity=i, prompt=p, seed=s) for i, p, s in wanted]
        )
        batch_size = max(1, int(resolved.get("batch_size", 4)))
        for _case, case_items in groupby(items, key=lambda item: (item.identity_id, item.prompt_id)):
            ids = [item.pk for item in case_items]
            for start in range(0, len(ids), batch_size):
                if queue:
                    _enqueue(ids[start : start + batch_size])
    return job


def _story_job_create(
    *,
    method: Method,
    stories: list[Story],
    story_mode: str,
    seeds: int | Sequence[int] | None,
    overrides: dict[str, Any],
    created_by: User | None,
    queue: bool,
) -> GenerationJob:
    """The story branch of generation_job_create: one item per story × seed, each queued alone."""
    if not stories:
        raise GenerationError("choose at least one story")
    if story_mode not in StoryRendering.Mode.values:
        raise GenerationError(
            f"the story mode must be one of {', '.join(StoryRendering.Mode.values)}, got {story_mode!r}"
        )
    if seeds is None:
        raise GenerationError("give a number of seeds or a list of seeds")
    seed_list = _seed_list(seeds)
    first_prompts: dict[int, Prompt] = {}
    for story in stories:
        prompts = story.shot_prompts()
        if len(prompts) < STORY_SHOTS_MIN:
            raise GenerationError(
                f"story {story.slug} has {len(prompts)} shot(s); a story needs at least {STORY_SHOTS_MIN}"
            )
        first_prompts[story.pk] = prompts[0]
    settings_overrides_check(overrides)
    backend = backend_for(method.backend)  # an imported method renders nothing
    resolved = method_check(method, overrides=overrides)
    if story_mode != StoryRendering.Mode.INDEPENDENT:
        try:
            backend.check_continuation(
                checkpoint=method.checkpoint,
                settings=resolved,
                references=story_mode == StoryRendering.Mode.AUTOREGRESSIVE,
            )
        except GenerationError as error:
            raise GenerationError(
                f"method {method.name} cannot render autoregressive stories: {error}"
            ) from error
    existing = set(
        StoryRendering.objects.filter(
            method=method, story__in=stories, seed__in=seed_list, mode=story_mode
        ).values_list("story_id", "seed")
    )
    wanted = [(story, seed) for story in stories for seed in seed_list if (story.pk, seed) not in existing]
    if not wanted:
        raise GenerationError("every requested story rendering is already in the catalog")
    with transaction.atomic():
        job = GenerationJob.objects.create(
            method=method, seeds=seed_list, settings=overrides, created_by=created_by, story_mode=story_mode
        )
        job.stories.set(stories)
        job.identities.set({story.identity_id for story in stories})
        items = GenerationItem.objects.bulk_create(
            [
                GenerationItem(
                    job=job,
                    identity_id=story.identity_id,
                    prompt=first_prompts[story.pk],
                    seed=seed,
                    story=story,
                )
                for story, seed in wanted
            ]
        )
        for item in items:
            if queue:
                _enqueue([item.pk])  # a rendering is one unit: its shots follow one another in one task
    return job


def _enqueue(item_ids: list[int]) -> None:
    """Send the render task once the items are committed, so that a fast worker never finds them missing."""

    def send() -> None:
        try:
            current_app.send_task(RENDER_TASK, args=[item_ids], queue=settings.GENERATION_QUEUE)
        except Exception as error:  # the broker is unreachable: say so on the rows, where it can be retried
            logger.exception("could not queue generation items %s", item_ids)
            message = f"could not queue the render ({error.__class__.__name__}: {error}); retry it later"
            _items_fail(GenerationItem.objects.filter(pk__in=item_ids), message)

    transaction.on_commit(send)


# --- render: the work of one Celery task --------------------------------------------------------------------


def generation_render(*, item_ids: Sequence[int], worker: str = "") -> None:
    """Render the given items, store their videos, and record progress, errors and the job's state.

    Safe to run twice for the same items (the broker hands a task back when its worker dies): finished
    items are skipped, and an item whose worker died ``GENERATION_MAX_ATTEMPTS`` times fails instead of
    being tried forever.
    """
    _close_old_connections()
    try:
        ready = _claim(item_ids, worker)
        for item in ready:
            if item.story_id is not None:
                _render_story(item)
        clips = [item for item in ready if item.story_id is None]
        for _case, batch in groupby(clips, key=lambda item: (item.job_id, item.identity_id, item.prompt_id)):
            _render_batch(list(batch))
    finally:
        _close_old_connections()


def _close_old_connections() -> None:
    # A worker process lives for days: connections the database dropped meanwhile must be replaced. Inside
    # a caller's transaction (a test, a management command) the connection is in use and must stay.
    if not connection.in_atomic_block:
        close_old_connections()


def _claim(item_ids: Sequence[int], worker: str) -> list[GenerationItem]:
    now = timezone.now()
    limit = settings.GENERATION_MAX_ATTEMPTS
    ready = []
    jobs = set()
    with transaction.atomic():
        items = (
            GenerationItem.objects.select_for_update(of=("self",))
            .filter(pk__in=item_ids)
            .select_related("job__method", "identity", "prompt", "story")
            .order_by("identity_id", "prompt_id", "seed")
        )
        for item in items:
            if item.status in FINISHED_STATUSES:
                continue  # settled by an earlier delivery of this task
            jobs.add(item.job_id)
            if item.job.cancel_requested:
                item.status, item.finished_at = Status.CANCELLED, now
            elif item.attempts >= limit:
                item.status, item.finished_at = Status.FAILED, now
                item.error = (
                    f"gave up after {item.attempts} attempts: the worker stopped each time before the video "
                    f"was finished (out of memory, or killed at the {settings.GENERATION_HARD_TIME_LIMIT} s "
                    "time limit?)"
                )
                _job_error(item.job_id, item.error)
            else:
                item.attempts += 1
                item.status, item.started_at, item.progress_at, item.finished_at = (
                    Status.RUNNING,
                    now,
                    now,
                    None,
                )
                item.step, item.steps_total, item.error, item.worker = 0, 0, "", worker[:200]
                item.first_step_at = None
                ready.append(item)
            item.save()
        for job_id in jobs:
            _job_refresh(job_id)
    return ready


class _Progress:
    """The backend's progress callback and cancel check, writing to the rows a few times a second."""

    def __init__(self, item_ids: list[int], job_id: int) -> None:
        self.item_ids, self.job_id = item_ids, job_id
        self.last_write = 0.0
        self.written = False
        self.cancel = False

    def __call__(self, step: int, total: int) -> None:
        now = time.monotonic()
        if self.written and step < total and now - self.last_write < PROGRESS_INTERVAL_SECONDS:
            return
        self.last_write = now
        fields: dict[str, Any] = {"step": step, "steps_total": total, "progress_at": timezone.now()}
        if not self.written:
            # The first step is always written, with its time: the page measures the pace from it.
            fields["first_step_at"] = fields["progress_at"]
            self.written = True
        GenerationItem.objects.filter(pk__in=self.item_ids, status=Status.RUNNING).update(**fields)
        # Read with the write: a cancel is noticed within one interval without a query per step.
        self.cancel = GenerationJob.objects.filter(pk=self.job_id, cancel_requested=True).exists()

    def cancelled(self) -> bool:
        return self.cancel


def _primary_reference(identity: Identity) -> tuple[Path, str] | None:
    """The image that conditions image-to-video models: the primary reference, or a clip's poster."""
    reference = identity.references.filter(is_primary=True).first()
    if reference is None:
        return None
    name = reference.poster.name if reference.kind == Reference.Kind.VIDEO else reference.file.name
    return (media.media_path(name), reference.sha256) if name else None


def _render_batch(items: list[GenerationItem]) -> None:
    first = items[0]
    job, method, identity, prompt = first.job, first.job.method, first.identity, first.prompt
    progress = _Progress([item.pk for item in items], job.pk)
    reference = _primary_reference(identity)
    try:
        backend = backend_for(method.backend)
        request = RenderRequest(
            method_name=method.name,
            settings=backend.settings_for(method.settings, job.settings),
            prompt=prompt.shown_text,
            seeds=[item.seed for item in items],
            checkpoint=method.checkpoint,
            lora_path=method.lora_path,
            lora_sha256=method.lora_sha256,
            identity_slug=identity.slug,
            prompt_slug=prompt.slug,
            aspects=prompt.aspects(),
            reference_image=reference[0] if reference else None,
            progress=progress,
            cancelled=progress.cancelled,
        )
        videos = backend.render(request)
    except RenderCancelled:
        _items_finish(items, Status.CANCELLED)
        return
    except GenerationError as error:
        _items_fail(items, str(error))
        return
    except SoftTimeLimitExceeded:
        _items_fail(items, f"over the time limit of {settings.GENERATION_SOFT_TIME_LIMIT} s per render task")
        return
    except Exception as error:
        logger.exception("rendering generation items %s failed", [item.pk for item in items])
        _items_fail(items, f"{error.__class__.__name__}: {error}"[:2000])
        return
    for item, frames in zip(items, videos, strict=True):
        _item_store(item, frames, backend.describe(request, item.seed), reference)
    _job_refresh(job.pk)


def _item_store(
    item: GenerationItem, frames: Any, described: dict[str, Any], reference: tuple[Path, str] | None
) -> None:
    method = item.job.method
    metadata = {
        **described,
        "method": method.name,
        "revision": method.revision,
        "reference_sha256": reference[1] if reference and described.get("mode") == "image-to-video" else "",
        "generation_job": item.job_id,
        "generation_item": item.pk,
    }
    try:
        # One transaction for the video row and the item: a worker killed in between leaves the item to be
        # rendered again rather than a video that no item points to.
        with transaction.atomic():
            video = video_create_from_frames(
                method=method,
                identity=item.identity,
                prompt=item.prompt,
                seed=item.seed,
                frames=frames,
                fps=int(described["fps"]),
                settings=metadata,
            )
            GenerationItem.objects.filter(pk=item.pk).update(
                status=Status.DONE, video=video, finished_at=timezone.now(), error=""
            )
    except IntegrityError:
        _items_fail([item], "an identical video (same sha256) is already in the catalog")
    except Exception as error:
        logger.exception("storing generation item %s failed", item.pk)
        _items_fail([item], f"storing the video failed: {error.__class__.__name__}: {error}"[:2000])


class _ShotProgress:
    """Progress of one shot as a share of the whole rendering: shot k of n at step s of t is step
    (k-1)·t + s of n·t, so an item's bar counts shots."""

    def __init__(self, progress: _Progress, index: int, shots: int) -> None:
        self.progress, self.index, self.shots = progress, index, shots

    def __call__(self, step: int, total: int) -> None:
        self.progress(self.index * total + step, self.shots * total)


def _render_story(item: GenerationItem) -> None:
    """Render a story's shots in order, then store them and their joined file as one rendering.

    Autoregressive modes: shot k+1 is image-to-video from shot k's last frame, and its frame 0 IS that
    frame (the generated continuation follows it), so the cut between them is seamless by construction.
    The frames of every shot stay in memory until the last is made (uint8; a full-size 5-shot story is
    about 1.6 GB): nothing is stored unless the whole rendering is.
    """
    job, method, story = item.job, item.job.method, item.story
    assert story is not None
    mode = job.story_mode
    progress = _Progress([item.pk], job.pk)
    reference = _primary_reference(story.identity)
    shots = list(story.shots.select_related("prompt").order_by("position"))
    made: list[tuple[Prompt, np.ndarray, dict[str, Any]]] = []
    try:
        backend = backend_for(method.backend)
        sampling = backend.settings_for(method.settings, job.settings)
        start: np.ndarray | None = None
        for index, shot in enumerate(shots):
            continued = start is not None and mode != StoryRendering.Mode.INDEPENDENT
            without_references = continued and mode == StoryRendering.Mode.AUTOREGRESSIVE_NO_REFERENCES
            request = RenderRequest(
                method_name=method.name,
                settings=sampling,
                prompt=shot.prompt.shown_text,
                seeds=[item.seed],
                checkpoint=method.checkpoint,
                lora_path=method.lora_path,
                lora_sha256=method.lora_sha256,
                identity_slug=story.identity.slug,
                prompt_slug=shot.prompt.slug,
                aspects=shot.prompt.aspects(),
                reference_image=None if without_references or reference is None else reference[0],
                start_frame=start if continued else None,
                references=not without_references,
                progress=_ShotProgress(progress, index, len(shots)),
                cancelled=progress.cancelled,
            )
            frames = backend.render(request)[0]
            if continued:
                assert start is not None
                # The conditioning frame itself opens the shot, the generated continuation after it.
                frames = np.concatenate([start[np.newaxis], frames[1:]])
            described = backend.describe(request, item.seed)
            described["references"] = request.references and request.reference_image is not None
            made.append((shot.prompt, frames, described))
            start = frames[-1]
    except RenderCancelled:
        _items_finish([item], Status.CANCELLED)
        return
    except GenerationError as error:
        _items_fail([item], str(error))
        return
    except SoftTimeLimitExceeded:
        _items_fail([item], f"over the time limit of {settings.GENERATION_SOFT_TIME_LIMIT} s per render task")
        return
    except Exception as error:
        logger.exception("rendering story item %s failed", item.pk)
        _items_fail([item], f"{error.__class__.__name__}: {error}"[:2000])
        return
    _rendering_store(item, made, reference)
    _job_refresh(job.pk)


def _rendering_settings(described: Mapping[str, Any]) -> dict[str, Any]:
    """What every shot shares: the settings of the first, less what belongs to one shot."""
    per_shot = ("prompt", "mode", "conditioning", "references", "render_seed")
    return {key: value for key, value in described.items() if key not in per_shot}


def _rendering_store(
    item: GenerationItem,
    made: list[tuple[Prompt, np.ndarray, dict[str, Any]]],
    reference: tuple[Path, str] | None,
) -> None:
    job, method, story = item.job, item.job.method, item.story
    assert story is not None
    fps = int(made[0][2]["fps"])
    starts, elapsed = [], 0.0
    for _prompt, frames, _described in made:
        starts.append(round(elapsed, 6))
        elapsed += len(frames) / fps
    common = {
        "method": method.name,
        "revision": method.revision,
        "story": story.slug,
        "story_mode": job.story_mode,
        "generation_job": job.pk,
        "generation_item": item.pk,
    }
    written: list[str | None] = []
    try:
        with transaction.atomic():
            rendering = StoryRendering.objects.create(
                story=story,
                method=method,
                seed=item.seed,
                mode=job.story_mode,
                shot_starts=starts,
                settings={**_rendering_settings(made[0][2]), **common, "shots": len(made)},
            )
            for position, (prompt, frames, described) in enumerate(made, start=1):
                # Only a shot made from the reference records it (not one continued from a frame).
                used_reference = described.get("conditioning") == "reference as the first frame"
                video = video_create_from_frames(
                    method=method,
                    identity=story.identity,
                    prompt=prompt,
                    seed=item.seed,
                    frames=frames,
                    fps=fps,
                    settings={
                        **described,
                        **common,
                        "position": position,
                        "reference_sha256": reference[1] if used_reference and reference else "",
                    },
                    rendering=rendering,
                    shot=position,
                )
                written += [video.file.name, video.poster.name]
            joined = video_create_from_frames(
                method=method,
                identity=story.identity,
                prompt=made[0][0],
                seed=item.seed,
                frames=chain.from_iterable(frames for _prompt, frames, _described in made),
                fps=fps,
                settings={**rendering.settings, "joined": True, "shot_starts": starts},
                rendering=rendering,
            )
            written += [joined.file.name, joined.poster.name]
            GenerationItem.objects.filter(pk=item.pk).update(
                status=Status.DONE, rendering=rendering, video=joined, finished_at=timezone.now(), error=""
            )
    except IntegrityError:
        media.delete_stored(written)
        _items_fail([item], "this story rendering, or an identical video, is already in the catalog")
    except Exception as error:
        media.delete_stored(written)
        logger.exception("storing story item %s failed", item.pk)
        _items_fail([item], f"storing the rendering failed: {error.__class__.__name__}: {error}"[:2000])


def _items_finish(items: Iterable[GenerationItem], status: str, error: str = "") -> None:
    ids = [item.pk for item in items]
    GenerationItem.objects.filter(pk__in=ids).exclude(status__in=FINISHED_STATUSES).update(
        status=status, error=error, finished_at=timezone.now()
    )
    for job_id in set(GenerationItem.objects.filter(pk__in=ids).values_list("job_id", flat=True)):
        if error:
            _job_error(job_id, error)
        _job_refresh(job_id)


def _items_fail(items: Iterable[GenerationItem], error: str) -> None:
    _items_finish(items, Status.FAILED, error)


def _job_error(job_id: int, error: str) -> None:
    GenerationJob.objects.filter(pk=job_id, error="").update(error=error)


def _job_refresh(job_id: int) -> None:
    """Derive the job's status from its items; announce the job once when its last item settles."""
    with transaction.atomic():
        job = GenerationJob.objects.select_for_update().get(pk=job_id)
        counts = dict(job.items.values_list("status").annotate(n=Count("id")).order_by())
        active = counts.get(Status.QUEUED, 0) + counts.get(Status.RUNNING, 0)
        now = timezone.now()
        if active:
            started = counts.get(Status.RUNNING, 0) or sum(counts.get(s, 0) for s in FINISHED_STATUSES)
            status = Status.RUNNING if started else Status.QUEUED
        elif counts.get(Status.FAILED):
            status = Status.FAILED
        elif counts.get(Status.CANCELLED):
            status = Status.CANCELLED
        else:
            status = Status.DONE
        finishing = status in FINISHED_STATUSES and job.finished_at is None
        job.status = status
        if status == Status.RUNNING and job.started_at is None:
            job.started_at = now
        job.finished_at = (job.finished_at or now) if status in FINISHED_STATUSES else None
        if not counts.get(Status.FAILED):
            job.error = ""
        job.save(update_fields=["status", "started_at", "finished_at", "error"])
        if finishing:
            transaction.on_commit(lambda: _announce(job))


def _announce(job: GenerationJob) -> None:
    for receiver, result in signals.job_finished.send_robust(sender=GenerationJob, job=job):
        if isinstance(result, Exception):
            # The videos are safely stored; a failing listener must not turn the render task into a failure.
            logger.error("job_finished receiver %r failed for job %s", receiver, job.pk, exc_info=result)


# --- retry and cancel ----------------------------------------------------------------------------------


def generation_item_retry(*, item: GenerationItem) -> GenerationItem:
    """Queue a failed video again, with a fresh attempts count."""
    with transaction.atomic():
        item = GenerationItem.objects.select_for_update(of=("self",)).select_related("job").get(pk=item.pk)
        if item.status != Status.FAILED:
            raise GenerationError("only a failed video can be retried")
        if item.job.cancel_requested:
            raise GenerationError("the job was cancelled")
        item.status, item.attempts, item.error, item.worker = Status.QUEUED, 0, "", ""
        item.step = item.steps_total = 0
        item.started_at = item.progress_at = item.first_step_at = item.finished_at = None
        item.save()
        _job_refresh(item.job_id)
        _enqueue([item.pk])
    return item


def generation_job_cancel(*, job: GenerationJob) -> GenerationJob:
    """Cancel what has not been made: queued videos at once, running ones at their next progress report."""
    with transaction.atomic():
        GenerationJob.objects.filter(pk=job.pk).update(cancel_requested=True)
        GenerationItem.objects.filter(job=job, status=Status.QUEUED).update(
            status=Status.CANCELLED, finished_at=timezone.now()
        )
        _job_refresh(job.pk)
    job.refresh_from_db()
    return job
