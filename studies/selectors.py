"""Reads of user studies: lists and overviews for study admins, pages for participants."""

from __future__ import annotations

import random
import statistics
from collections import Counter
from dataclasses import dataclass, field
from typing import TypedDict

import pandas as pd
from django.conf import settings
from django.db.models import Avg, Count, F, OuterRef, Q, QuerySet, Subquery

from annotate.models import Comparison, Criterion, GoldAnswer, Judgment
from annotate.quality import JUDGMENT_COLUMNS
from generation.models import Method, Prompt, Reference, StoryRendering, Video
from generation.selectors import video_shape_warnings
from studies import presets
from studies.models import Answer, Matchup, Participant, ParticipantDecision, Question, Study
from studies.plans import Case, GoldCase, case_pools, plan_draw, story_case_pools

# --- study admins -----------------------------------------------------------------------------------


def study_list() -> QuerySet[Study]:
    return Study.objects.select_related("ours").annotate(
        n_started=Count("participants", filter=Q(participants__consented_at__isnull=False)),
        n_completed=Count("participants", filter=Q(participants__status=Participant.Status.COMPLETED)),
        n_withdrawn=Count("participants", filter=Q(participants__status=Participant.Status.WITHDRAWN)),
    )


def study_get(*, pk: int) -> Study | None:
    return Study.objects.select_related("ours").filter(pk=pk).first()


def study_by_slug(*, slug: str) -> Study | None:
    return Study.objects.select_related("ours").filter(public_slug=slug).first()


def study_pools(*, study: Study) -> dict[int | None, list[Case]]:
    """The cases each baseline (or, for "best of all", every method together) can be shown in: the
    chosen identities x prompts of a clip study, the chosen stories of a narrative one."""
    baseline_ids = sorted(study.baselines.values_list("pk", flat=True))
    if study.is_narrative:
        return story_case_pools(
            ours_id=study.ours_id,
            baseline_ids=baseline_ids,
            story_ids=study.stories.values_list("pk", flat=True),
            best_of_all=not study.is_pairwise,
        )
    return case_pools(
        ours_id=study.ours_id,
        baseline_ids=baseline_ids,
        identity_ids=study.identities.values_list("pk", flat=True),
        prompt_ids=study.prompts.values_list("pk", flat=True),
        best_of_all=not study.is_pairwise,
    )


def study_videos(*, study: Study) -> QuerySet[Video]:
    """The videos of the study's methods that its matchups can show: clips of its identities and
    prompts, or the joined files of its stories' renderings."""
    videos = Video.objects.of_methods().filter(
        method_id__in=[study.ours_id, *study.baselines.values_list("pk", flat=True)]
    )
    if study.is_narrative:
        return videos.filter(rendering__story__in=study.stories.all(), shot__isnull=True)
    return videos.filter(
        identity__in=study.identities.all(), prompt__in=study.prompts.all(), rendering__isnull=True
    )


@dataclass(frozen=True)
class PoolRow:
    label: str
    cases: int
    same_seed: int
    identities: int
    prompts: int
    keeps_elements: int
    stories: int = 0


def study_case_pool(*, study: Study) -> list[PoolRow]:
    """How many cases each baseline (or, for "best of all", every method together) can be shown in."""
    pools = study_pools(study=study)
    names = dict(Method.objects.values_list("pk", "name"))
    keeps = {p.pk for p in study.prompts.all() if p.keeps_elements}

    def row(label: str, cases: list[Case]) -> PoolRow:
        return PoolRow(
            label=label,
            cases=len(cases),
            same_seed=sum(case.same_seed for case in cases),
            identities=len({case.identity_id for case in cases}),
            prompts=len({case.prompt_id for case in cases}),
            keeps_elements=sum(case.prompt_id in keeps for case in cases),
            stories=len({case.story_id for case in cases if case.story_id is not None}),
        )

    return [
        row("All methods" if key is None else f"{study.ours.name} vs {names.get(key, key)}", cases)
        for key, cases in pools.items()
    ]


def study_video_shape_warnings(*, study: Study) -> list[str]:
    """What a participant could tell "ours" from a baseline by (size, frame rate, duration)."""
    videos = study_videos(study=study)
    return video_shape_warnings(videos=videos, reference_method_id=study.ours_id)


def participant_counts(*, study: Study) -> dict[str, int]:
    rows = dict(study.participants.values_list("status").annotate(n=Count("id")))
    started = study.participants.filter(consented_at__isnull=False).count()
    return {
        "invited": rows.get(Participant.Status.INVITED, 0),
        "joined": sum(rows.values()) - rows.get(Participant.Status.INVITED, 0),
        "started": started,
        "active": rows.get(Participant.Status.ACTIVE, 0),
        "completed": rows.get(Participant.Status.COMPLETED, 0),
        "withdrawn": rows.get(Participant.Status.WITHDRAWN, 0),
        "screened_out": rows.get(Participant.Status.SCREENED_OUT, 0),
    }


def study_gold_cases(*, study: Study) -> list[GoldCase]:
    """The gold comparisons a participant of ``study`` can be shown: a known answer on one of its
    questions, about one of its identities and prompts. Pairwise studies only: a gold pair among the
    several videos of a "best of all" page would stand out."""
    if not study.is_pairwise:
        return []
    comparisons = Comparison.objects.filter(gold_answers__criterion__in=study.questions.values("criterion"))
    if study.is_narrative:
        comparisons = comparisons.filter(
            video_a__rendering__story__in=study.stories.all(), video_a__shot__isnull=True
        )
    else:
        comparisons = comparisons.filter(
            identity__in=study.identities.all(),
            prompt__in=study.prompts.all(),
            video_a__rendering__isnull=True,
        )
    comparisons = comparisons.distinct().select_related("prompt").order_by("pk")
    return [
        GoldCase(
            comparison_id=c.pk,
            identity_id=c.identity_id,
            prompt_id=c.prompt_id,
            video_ids=(c.video_a_id, c.video_b_id),
            keeps_elements=c.prompt.keeps_elements,
        )
        for c in comparisons
    ]


def study_gold_missing(*, study: Study) -> bool:
    """The study asks for gold matchups but has no gold comparison to show: plans get none."""
    return study.gold_matchups_per_participant > 0 and study.is_pairwise and not study_gold_cases(study=study)


def invitations_list(*, study: Study) -> QuerySet[Participant]:
    return study.participants.filter(personal_link=True).order_by("id")


# --- participants -----------------------------------------------------------------------------------


def questions_phrase(study: Study) -> str:
    questions = list(study.questions.all())
    phrase = presets.questions_phrase(len(questions))
    if any(q.is_element_consistency for q in questions):
        phrase = "up to " + phrase  # element consistency is asked only on some matchups
    return phrase


class _FillValues(TypedDict):
    """The keyword arguments of presets.fill."""

    matchups: int
    questions: str
    contact: str
    watch_seconds: float


def study_watch_seconds(*, study: Study) -> float:
    """About how long watching one matchup's videos takes: the studied method's videos in the study's
    cases, played together side by side (pairwise) or one after the other (best of all)."""
    mean = (
        study_videos(study=study).filter(method_id=study.ours_id).aggregate(mean=Avg("duration"))["mean"]
        or 0.0
    )
    return mean if study.is_pairwise else mean * (1 + study.baselines.count())


def study_minutes(*, study: Study) -> str:
    """The time a participant needs, as a range of minutes ("20–30")."""
    return presets.minutes_estimate(
        study.matchups_per_participant, watch_seconds=study_watch_seconds(study=study)
    )


def study_texts(*, study: Study) -> dict[str, str]:
    """Instructions and consent with the study's numbers filled in."""
    values: _FillValues = {
        "matchups": study.matchups_per_participant,
        "questions": questions_phrase(study),
        "contact": study.contact,
        "watch_seconds": study_watch_seconds(study=study),
    }
    return {
        "instructions": presets.fill(study.instructions, **values),
        "consent": presets.fill(study.consent_text, **values),
    }


def participant_resume_position(*, participant: Participant) -> int:
    """Where a returning participant continues: where they were, but never past the first open page."""
    first_open = (
        participant.matchups.filter(answered_at__isnull=True)
        .order_by("position")
        .values_list("position", flat=True)
        .first()
    )
    total = participant.matchups.count()
    furthest = first_open if first_open is not None else max(total - 1, 0)
    return min(participant.position, furthest)


def participant_furthest_position(*, participant: Participant) -> int:
    """The last page a participant may open: every page up to the first one still unanswered."""
    first_open = (
        participant.matchups.filter(answered_at__isnull=True)
        .order_by("position")
        .values_list("position", flat=True)
        .first()
    )
    if first_open is None:
        return max(participant.matchups.count() - 1, 0)
    return first_open


@dataclass
class QuestionView:
    question: Question
    picked: int | None
    name: str = field(init=False)

    def __post_init__(self) -> None:
        self.name = f"q_{self.question.criterion}"


@dataclass
class MatchupPage:
    matchup: Matchup
    total: int
    answered: int
    videos: list[Video]
    labels: list[str]
    reference: Reference | None
    prompt_text: str
    questions: list[QuestionView]
    watch_needed: float  # the recorded fraction of each video an answer needs, tolerance included
    watch_missing: str  # what must still play, in the page's words; empty when nothing
    # With prefetching: the media of the participant's next matchup, for the browser to fetch meanwhile.
    next_media: list[str] = field(default_factory=list)
    # A narrative matchup: the story's shot prompts in order, each video's shot starts (seconds, spaced,
    # for the player's shot strip) and the person's references grouped by viewpoint (identity and body
    # questions); empty for clips.
    shots: list[str] = field(default_factory=list)
    shot_starts: list[str] = field(default_factory=list)
    views: list[tuple[str, list[Reference]]] = field(default_factory=list)

    @property
    def watched(self) -> list[float]:
        return [self.matchup.watched_of(k) for k in range(len(self.videos))]

    @property
    def number(self) -> int:
        return self.matchup.position + 1

    @property
    def is_first(self) -> bool:
        return self.matchup.position == 0

    @property
    def is_last(self) -> bool:
        return self.matchup.position == self.total - 1

    @property
    def progress_percent(self) -> int:
        return round(100 * self.answered / self.total) if self.total else 0

    @property
    def shown(self) -> list[tuple[int, str, Video]]:
        return list(zip(range(len(self.videos)), self.labels, self.videos, strict=True))

    @property
    def played(self) -> list[tuple[str, str, Video, float, str]]:
        """Each video for the player: its side (left and right of two, else its position), label, video,
        the fraction of it the server has recorded as played and its shot starts ("" for a clip)."""
        count = len(self.videos)
        sides = ["left", "right"] if count == 2 else [str(k) for k in range(count)]
        starts = self.shot_starts or [""] * count
        return list(zip(sides, self.labels, self.videos, self.watched, starts, strict=True))


def video_labels(count: int) -> list[str]:
    if count == 2:
        return ["Left Video", "Right Video"]
    return [f"Video {k + 1}" for k in range(count)]


def watch_missing(*, study: Study, matchup: Matchup) -> str:
    """What must still play before the matchup may be answered, in the page's words; empty when nothing."""
    needed = study.watch_needed
    short = [k for k in range(len(matchup.video_ids)) if matchup.watched_of(k) < needed]
    if needed <= 0 or not short:
        return ""
    if len(matchup.video_ids) == 2:
        sides = " and ".join(("left", "right")[k] for k in short)
        videos = f"the {sides} video{'s' if len(short) > 1 else ''}"
    else:
        names = [f"Video {k + 1}" for k in short]
        videos = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
    if study.min_watch_fraction >= 1:
        return f"Play {videos} to the end before answering."
    return f"Play at least {study.min_watch_fraction:.0%} of {videos} before answering."


# The questions that judge the person's look across shots: their pages show every viewpoint.
LOOK_CRITERIA = (Criterion.IDENTITY_CONSISTENCY, Criterion.BODY_CONSISTENCY)


def _story_parts(*, study: Study, videos: list[Video], identity_id: int) -> dict[str, list]:
    """What a page shows of a story: its shot prompts, each joined file's shot starts and, for identity
    and body questions, the person's references by viewpoint. Nothing for a page of clips."""
    if not videos or videos[0].rendering_id is None:
        return {}
    renderings = StoryRendering.objects.select_related("story").in_bulk(
        [video.rendering_id for video in videos]
    )
    story = renderings[videos[0].rendering_id].story
    parts: dict[str, list] = {
        "shots": [prompt.shown_text for prompt in story.shot_prompts()],
        "shot_starts": [
            " ".join(f"{float(start):g}" for start in renderings[video.rendering_id].shot_starts)
            for video in videos
        ],
    }
    if study.questions.filter(criterion__in=LOOK_CRITERIA).exists():
        references = Reference.objects.filter(identity_id=identity_id, is_primary=False)
        order: list[str] = [viewpoint.value for viewpoint in Reference.Viewpoint]
        groups: dict[str, list[Reference]] = {}
        for reference in sorted(references, key=lambda r: (order.index(r.viewpoint), r.position, r.pk)):
            groups.setdefault(reference.get_viewpoint_display(), []).append(reference)
        parts["views"] = list(groups.items())
    return parts


def matchup_page(*, participant: Participant, position: int) -> MatchupPage | None:
    """Everything one matchup page shows, or None when the participant has no such matchup."""
    matchup = (
        Matchup.objects.select_related("prompt", "identity")
        .filter(participant=participant, position=position)
        .first()
    )
    if matchup is None:
        return None
    study = participant.study
    videos_by_id = Video.objects.in_bulk(matchup.video_ids)
    videos = [videos_by_id[pk] for pk in matchup.video_ids]
    picked = dict(Answer.objects.filter(matchup=matchup).values_list("criterion", "picked"))
    questions = [
        QuestionView(question=q, picked=picked.get(q.criterion))
        for q in study.questions.all()
        if matchup.asks_element_consistency or q.criterion != Criterion.ELEMENT_CONSISTENCY
    ]
    return MatchupPage(
        matchup=matchup,
        total=participant.matchups.count(),
        answered=participant.matchups.filter(answered_at__isnull=False).count(),
        videos=videos,
        labels=video_labels(len(matchup.video_ids)),
        reference=Reference.objects.filter(identity_id=matchup.identity_id, is_primary=True).first(),
        prompt_text=matchup.prompt.shown_text,
        questions=questions,
        watch_needed=study.watch_needed,
        watch_missing=watch_missing(study=study, matchup=matchup),
        next_media=_next_media(participant=participant, position=position + 1),
        **_story_parts(study=study, videos=videos, identity_id=matchup.identity_id),
    )


def _next_media(*, participant: Participant, position: int) -> list[str]:
    """The stored names of the videos (posters included) and primary reference of the participant's
    matchup at ``position``, which their plan fixed: media they may fetch already. Empty when there is
    none, or with prefetching off."""
    if not settings.PREFETCH_NEXT:
        return []
    following = participant.matchups.filter(position=position).values("video_ids", "identity_id").first()
    if following is None:
        return []
    videos = list(Video.objects.filter(pk__in=following["video_ids"]).only("file", "poster"))
    names = [str(video.file.name) for video in videos]
    names += [str(video.poster.name) for video in videos if video.poster]
    reference = Reference.objects.filter(identity_id=following["identity_id"], is_primary=True).first()
    if reference is not None:
        names.append(str(reference.file.name))
    return names


def participant_by_token(*, token: str) -> Participant | None:
    if "\x00" in token:
        return None  # no token holds one, and PostgreSQL refuses it in a query
    return Participant.objects.select_related("study").filter(token=token, personal_link=True).first()


# --- quality figures --------------------------------------------------------------------------------


@dataclass(frozen=True)
class SpeedFigures:
    """How one participant answered, by the server's clocks: the evidence for speeders and
    straight-lining."""

    participant_id: int
    status: str
    matchups_answered: int
    median_seconds: float | None  # first display to first full answer, per matchup
    faster_than_videos: float | None  # share of timed matchups answered before the longest video could end
    same_side: float | None  # share of matchups with two or more questions, all given the same video


def participant_speed_figures(*, study: Study) -> list[SpeedFigures]:
    """One row per participant who consented, in the order they joined."""
    matchups = list(
        Matchup.objects.filter(participant__study=study, answered_at__isnull=False).values_list(
            "pk", "participant_id", "response_ms", "video_ids"
        )
    )
    video_ids = {video_id for *_, ids in matchups for video_id in ids}
    durations = dict(Video.objects.filter(pk__in=video_ids).values_list("pk", "duration"))
    picks: dict[int, list[int]] = {}
    for matchup_id, picked in Answer.objects.filter(matchup__participant__study=study).values_list(
        "matchup_id", "picked"
    ):
        picks.setdefault(matchup_id, []).append(picked)
    by_participant: dict[int, list[tuple[int, int | None, list[int]]]] = {}
    for matchup_id, participant_id, response_ms, ids in matchups:
        by_participant.setdefault(participant_id, []).append((matchup_id, response_ms, ids))

    rows = []
    participants = study.participants.filter(consented_at__isnull=False).order_by("pk")
    for participant_id, status in participants.values_list("pk", "status"):
        answered = by_participant.get(participant_id, [])
        timed = [(ms / 1000, max(durations[v] for v in ids)) for _, ms, ids in answered if ms is not None]
        seconds = sorted(spent for spent, _ in timed)
        asked_many = [picks[pk] for pk, _, _ in answered if len(picks.get(pk, [])) >= 2]
        rows.append(
            SpeedFigures(
                participant_id=participant_id,
                status=status,
                matchups_answered=len(answered),
                median_seconds=statistics.median(seconds) if seconds else None,
                faster_than_videos=(
                    sum(spent < length for spent, length in timed) / len(timed) if timed else None
                ),
                same_side=(
                    sum(len(set(p)) == 1 for p in asked_many) / len(asked_many) if asked_many else None
                ),
            )
        )
    return rows


_SWAP = {"A": "B", "B": "A"}


def study_quality_judgments(*, study: Study) -> pd.DataFrame:
    """Every judgment of a pairwise study as annotate.quality reads it (:data:`JUDGMENT_COLUMNS` and
    ``contrast_item``), oldest first: ``rater`` the participant's rater, ``item`` the comparison,
    ``contrast_item`` the method pair (the baseline's id), ``response_ms`` the matchup's time by the
    server's clock, ``duration_ms`` its longest video.

    A and B are put in the method pair's terms, A always the studied method: choice, side shown left and
    gold answer swap together where a comparison has ours as B, which leaves every per-rater figure as
    it was and lets the crowd test read a pair the same way in every row. Withdrawn participants are
    left out; screened-out and excluded ones are in (``study_excluded_raters`` names them)."""
    gold = GoldAnswer.objects.filter(comparison=OuterRef("comparison_id"), criterion=OuterRef("criterion"))
    rows = (
        Judgment.objects.filter(track__isnull=True, rater__study_participant__study=study)
        .exclude(rater__study_participant__status=Participant.Status.WITHDRAWN)
        .annotate(
            gold_answer=Subquery(gold.values("answer")[:1]),
            matchup_response_ms=F("study_answers__matchup__response_ms"),
            a_method=F("comparison__video_a__method_id"),
            b_method=F("comparison__video_b__method_id"),
        )
        .order_by("created_at", "id")
        .values_list(
            "rater_id",
            "comparison_id",
            "criterion",
            "choice",
            "shown_left",
            "matchup_response_ms",
            "is_gold",
            "gold_answer",
            "is_repeat",
            "repeat_of__choice",
            "comparison__video_a__duration",
            "comparison__video_b__duration",
            "a_method",
            "b_method",
        )
    )
    columns = [*JUDGMENT_COLUMNS]
    columns[columns.index("duration_ms")] = "duration_a"
    frame = pd.DataFrame.from_records(list(rows), columns=[*columns, "duration_b", "a_method", "b_method"])
    ours_is_b = frame["b_method"] == study.ours_id
    for column in ("choice", "shown_left", "gold_answer", "repeat_choice_same"):
        # the original's choice too: it is compared with this row's choice, in the same terms
        frame[column] = frame[column].where(~ours_is_b, frame[column].map(lambda v: _SWAP.get(v, v)))
    frame["contrast_item"] = frame["a_method"].where(ours_is_b, frame["b_method"]).astype("int64")
    frame["response_ms"] = frame["response_ms"].astype(float)
    frame["duration_ms"] = frame[["duration_a", "duration_b"]].max(axis=1).astype(float) * 1000.0
    original = frame.pop("repeat_choice_same")
    same = (original == frame["choice"]).astype("boolean")
    frame["repeat_choice_same"] = same.where(frame["is_repeat"] & original.notna(), pd.NA)
    frame["gold_answer"] = frame["gold_answer"].where(frame["is_gold"], None)
    return frame[[*JUDGMENT_COLUMNS, "contrast_item"]]


def study_excluded_raters(*, study: Study) -> list[int]:
    """Raters of the study's participants passed to the fit as excluded: excluded by an admin or
    screened out (withdrawn ones are not in the judgments at all)."""
    participants = study.participants.exclude(status=Participant.Status.WITHDRAWN)
    return list(participants.filter(rater__excluded=True).values_list("rater_id", flat=True))


def participants_with_decisions(*, study: Study) -> dict[int, Participant]:
    """The study's consented participants by rater id, each with ``last_decision`` (newest first), in
    two queries."""
    participants = {
        p.rater_id: p
        for p in study.participants.filter(consented_at__isnull=False).select_related("rater").order_by("pk")
    }
    latest: dict[int, ParticipantDecision] = {}
    for decision in ParticipantDecision.objects.filter(participant__study=study).select_related("decided_by"):
        latest.setdefault(decision.participant_id, decision)
    for participant in participants.values():
        participant.last_decision = latest.get(participant.pk)  # type: ignore[attr-defined]
    return participants


def preview_pages(*, study: Study) -> list[Matchup]:
    """A participant's matchups as a study admin previews them: drawn like a real plan (the same seed
    each time, so that Previous and Next keep their pages) and never saved."""
    pools = study_pools(study=study)
    if not pools or any(not cases for cases in pools.values()):
        return []
    plan = plan_draw(
        pools=pools,
        matchups=study.matchups_per_participant,
        prompts=Prompt.objects.in_bulk(study.prompts.values_list("pk", flat=True)),
        ask_element_consistency=study.questions.filter(criterion=Criterion.ELEMENT_CONSISTENCY).exists(),
        element_fraction=study.element_fraction
        if study.element_policy == Study.ElementPolicy.FRACTION
        else None,
        shown_so_far=Counter(),
        baselines_so_far=Counter(),
        rng=random.Random(study.pk),
    )
    return [
        Matchup(
            position=planned.position,
            identity_id=planned.case.identity_id,
            prompt_id=planned.case.prompt_id,
            video_ids=list(planned.video_ids),
            asks_element_consistency=planned.asks_element_consistency,
        )
        for planned in plan
    ]


def preview_page(*, study: Study, matchups: list[Matchup], position: int) -> MatchupPage:
    """One previewed matchup as the participant's page shows it, with no watch rule to wait for."""
    matchup = matchups[position]
    videos_by_id = Video.objects.in_bulk(matchup.video_ids)
    videos = [videos_by_id[pk] for pk in matchup.video_ids]
    return MatchupPage(
        matchup=matchup,
        total=len(matchups),
        answered=position,
        videos=videos,
        labels=video_labels(len(matchup.video_ids)),
        reference=Reference.objects.filter(identity_id=matchup.identity_id, is_primary=True).first(),
        prompt_text=matchup.prompt.shown_text,
        questions=[
            QuestionView(question=q, picked=None)
            for q in study.questions.all()
            if matchup.asks_element_consistency or q.criterion != Criterion.ELEMENT_CONSISTENCY
        ],
        watch_needed=0.0,
        watch_missing="",
        **_story_parts(study=study, videos=videos, identity_id=matchup.identity_id),
    )
