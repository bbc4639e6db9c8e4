"""Gold comparisons: comparisons whose answer for a criterion is known, by which raters are checked.

Two sources: an admin marks a comparison with its answer (``mark_gold``), or the platform makes pairs
whose answer is known by construction (``make_gold_pairs``). Handing them out in tracks and studies is
the work of the assignment code; here they are only made and recorded.
"""

from __future__ import annotations

import random
from collections.abc import Iterable

from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import Q

from annotate.errors import GoldAnswerError
from annotate.models import Choice, Comparison, Criterion, GoldAnswer, Track
from generation import media
from generation.errors import MediaError
from generation.models import Video
from generation.services import video_degraded_copy

GOLD_ANSWERS = (str(Choice.A), str(Choice.B))
NOTE_MAX = GoldAnswer._meta.get_field("note").max_length or 300

# The criteria the platform can make pairs for, and what the wrong side of each pair is.
MADE_CRITERIA = {
    str(Criterion.IDENTITY_FIDELITY): "the same prompt and method rendered for another identity",
    str(Criterion.PROMPT_CONTROLLABILITY): "the same identity and method rendered for another prompt",
    str(Criterion.VISUAL_QUALITY): "a copy degraded by heavy blur, frozen frames and noise",
}


def _criterion_checked(criterion: str, allowed: Iterable[str]) -> str:
    allowed = list(allowed)
    if criterion not in allowed:
        raise GoldAnswerError(
            f"“{criterion}” is not a criterion here; expected one of: {', '.join(allowed)}."
        )
    return criterion


def mark_gold(
    *, comparison: Comparison, criterion: str, answer: str, by: User | None, note: str = ""
) -> GoldAnswer:
    """Record (or change) the known answer of ``comparison`` for ``criterion``, as an admin's.

    ``answer`` is in the comparison's canonical terms: A is ``video_a``. Raises GoldAnswerError, naming
    what was wrong, for an unknown criterion, an answer other than A or B, or a note that is too long;
    nothing is written then.
    """
    _criterion_checked(criterion, Criterion.values)
    if answer not in GOLD_ANSWERS:
        if answer in Choice.values:
            raise GoldAnswerError(
                f"“{answer}” is not a known answer a rater can be checked against; a gold answer is A or B."
            )
        raise GoldAnswerError(f"“{answer}” is not a choice; a gold answer is A or B.")
    if len(note) > NOTE_MAX:
        raise GoldAnswerError(f"The note has {len(note)} characters; at most {NOTE_MAX} are kept.")
    if comparison.pk is None:
        raise GoldAnswerError("The comparison is not saved.")
    gold, _ = GoldAnswer.objects.update_or_create(
        comparison=comparison,
        criterion=criterion,
        defaults={"answer": answer, "source": GoldAnswer.Source.ADMIN, "note": note, "created_by": by},
    )
    return gold


def make_gold_pairs(
    *,
    criterion: str | None = None,
    track: Track | None = None,
    videos: Iterable[Video] | None = None,
    limit: int = 10,
    seed: int = 0,
    by: User | None = None,
) -> list[GoldAnswer]:
    """Make up to ``limit`` gold comparisons for a criterion (or a track's), each with its known answer.

    Each of ``videos`` (by default the track's videos, or every video of a method) in an order drawn from
    ``seed`` is the right side V of one pair: *identity fidelity*: V against the video of its prompt and
    method made for another identity; *prompt controllability*: V against a video of its identity and
    method made for another prompt; *visual quality*: V against its degraded copy. The comparison asks
    about V's identity and prompt. Both sides are stored videos of the platform's one encoding, and a pair
    whose sides differ in size, frame count, frame rate or codec is skipped: a rater must not tell a gold
    pair by its shape. A video that already has a made pair for the criterion counts with it, so calling
    again with the same arguments makes nothing new. All or nothing: on an error no row and no file stays.
    """
    if track is not None:
        if criterion is not None and criterion != track.criterion:
            raise GoldAnswerError(f"Track “{track}” asks about {track.criterion}, not {criterion}.")
        criterion = track.criterion
    if criterion is None:
        raise GoldAnswerError("Name a criterion or a track.")
    _criterion_checked(criterion, MADE_CRITERIA)
    if limit < 0:
        raise GoldAnswerError(f"The limit is {limit}; it must be 0 or more.")
    if videos is None:
        targets = Video.objects.of_methods()
        if track is not None:
            in_track = Comparison.objects.filter(track_items__track=track)
            targets = targets.filter(
                Q(pk__in=in_track.values("video_a_id")) | Q(pk__in=in_track.values("video_b_id"))
            )
        videos = targets
    order = sorted((video for video in videos if not video.is_gold_stimulus), key=lambda video: video.pk)
    rng = random.Random(seed)
    rng.shuffle(order)
    made_copies: list[Video] = []
    try:
        with transaction.atomic():
            answers: list[GoldAnswer] = []
            for video in order:
                if len(answers) >= limit:
                    break
                gold = _made_gold_of(video, criterion) or _gold_pair_make(
                    video, criterion, rng=rng, seed=seed, by=by, made_copies=made_copies
                )
                if gold is not None:
                    answers.append(gold)
    except BaseException:
        # The rows went with the transaction; the files the degraded copies wrote must go too.
        media.delete_stored(name for copy in made_copies for name in (copy.file.name, copy.poster.name))
        raise
    return answers


def _made_gold_of(video: Video, criterion: str) -> GoldAnswer | None:
    """The made gold answer of ``criterion`` whose right side is ``video``, if there is one."""
    return (
        GoldAnswer.objects.filter(criterion=criterion, source=GoldAnswer.Source.MADE)
        .filter(Q(comparison__video_a=video, answer=Choice.A) | Q(comparison__video_b=video, answer=Choice.B))
        .first()
    )


def _gold_pair_make(
    video: Video, criterion: str, *, rng: random.Random, seed: int, by: User | None, made_copies: list[Video]
) -> GoldAnswer | None:
    if criterion == Criterion.VISUAL_QUALITY:
        had_copy = Video.objects.filter(gold_source=video).exists()
        try:
            copy = video_degraded_copy(video=video, seed=seed)
        except MediaError as error:
            raise GoldAnswerError(f"No degraded copy of video {video.pk}: {error}") from error
        if not had_copy:
            made_copies.append(copy)
        wrong_sides = [copy]
    else:
        same_shape = Video.objects.of_methods().filter(
            method=video.method_id,
            width=video.width,
            height=video.height,
            num_frames=video.num_frames,
            fps=video.fps,
            codec=video.codec,
        )
        if criterion == Criterion.IDENTITY_FIDELITY:
            candidates = same_shape.filter(prompt=video.prompt_id).exclude(identity=video.identity_id)
        else:
            candidates = same_shape.filter(identity=video.identity_id).exclude(prompt=video.prompt_id)
        wrong_sides = list(candidates.order_by("pk"))
        rng.shuffle(wrong_sides)
    for wrong in wrong_sides:
        gold = _gold_pair_record(right=video, wrong=wrong, criterion=criterion, by=by)
        if gold is not None:
            return gold
    return None


def _gold_pair_record(*, right: Video, wrong: Video, criterion: str, by: User | None) -> GoldAnswer | None:
    """The comparison of ``right`` and ``wrong`` with its known answer, or None when the pair is taken."""
    video_a, video_b = sorted((right, wrong), key=lambda video: video.pk)
    comparison, _ = Comparison.objects.get_or_create(
        video_a=video_a,
        video_b=video_b,
        defaults={"identity_id": right.identity_id, "prompt_id": right.prompt_id},
    )
    if (comparison.identity_id, comparison.prompt_id) != (right.identity_id, right.prompt_id):
        return None  # the pair already asks about the other video's identity or prompt
    # Comparisons are stored in canonical order, so the right video is A only when its id is the smaller.
    answer = Choice.A if right.pk == video_a.pk else Choice.B
    gold, _ = GoldAnswer.objects.get_or_create(
        comparison=comparison,
        criterion=criterion,
        defaults={
            "answer": answer,
            "source": GoldAnswer.Source.MADE,
            "note": f"Made: video {right.pk} against {MADE_CRITERIA[criterion]}.",
            "created_by": by,
        },
    )
    return gold if gold.answer == answer else None
