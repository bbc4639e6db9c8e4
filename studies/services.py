"""Writes of user studies: designing and opening studies, joining, consent, answers, withdrawal."""

from __future__ import annotations

import hashlib
import random
from collections import Counter
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Count, Field
from django.utils import timezone

from annotate.models import Choice, Comparison, Criterion, Judgment, Rater, Side
from annotate.services import comparisons_build, comparisons_of_pairs
from annotate.vote_path import canonical_choice
from annotate.watch import wait_plausible, watched_plausible
from generation.models import Identity, Method, Prompt, Story, Video
from studies import presets, selectors
from studies.errors import (
    AlreadyTookPart,
    ConsentRequired,
    IncompleteAnswers,
    InvalidAnswer,
    InvitationOnly,
    NotYours,
    ParticipantDecisionError,
    ParticipantScreenedOut,
    ParticipantWithdrawn,
    StudyFrozen,
    StudyFull,
    StudyNotOpen,
    StudySetupError,
    WatchRuleNotMet,
)
from studies.models import (
    Answer,
    Matchup,
    Participant,
    ParticipantDecision,
    Question,
    Study,
    return_code_validator,
    return_url_validator,
)
from studies.plans import GoldCase, checks_insert, plan_draw
from studies.selectors import watch_missing

# Crowd platforms append these to the study link. Only salted hashes of them are kept.
CROWD_ID_PARAMS = ("PROLIFIC_PID",)
CROWD_SESSION_PARAMS = ("STUDY_ID", "SESSION_ID")
# What a screened-out participant reads: polite, and silent about why.
SCREENED_OUT_MESSAGE = "Thank you — this study has no more matchups for you."
# A page left open over lunch says nothing about the time it took to answer: clamp what the page reports.
MAX_RESPONSE_MS = 30 * 60 * 1000

# The format (pairwise or best of all) follows the preset.
DESIGN_FIELDS = (
    "preset",
    "ours",
    "matchups_per_participant",
    "element_policy",
    "element_fraction",
    "min_watch_fraction",
    "gold_matchups_per_participant",
    "repeat_matchups_per_participant",
    "screen_out_after_failed_gold",
)
CHECK_FIELDS = DESIGN_FIELDS[-3:]
DESIGN_SETS = ("baselines", "identities", "prompts", "stories")
TEXT_FIELDS = (
    "name",
    "public_title",
    "instructions",
    "consent_text",
    "contact",
    "completion_code",
    "screened_out_code",
    "redirect_url",
    "screened_out_redirect_url",
    "withdrawn_code",
    "withdrawn_redirect_url",
    "target_participants",
    "public_join",
)


def salted_hash(*parts: object) -> str:
    """A one-way stand-in for an identifier, salted so that it cannot be looked up in a table."""
    text = ":".join(str(part) for part in (settings.IDENTITY_HASH_SALT, *parts))
    return hashlib.sha256(text.encode()).hexdigest()


def participant_code(*, study_id: int, participant_id: int) -> str:
    """The short one-way id a participant is shown by to admins and in exports (never a name)."""
    return salted_hash("study", study_id, "participant", participant_id)[:16]


# --- designing a study ------------------------------------------------------------------------------


def _questions_reset(*, study: Study, preset: str) -> None:
    study.questions.all().delete()
    Question.objects.bulk_create(
        [
            Question(study=study, position=k, criterion=spec.criterion, text=spec.text, hint=spec.hint)
            for k, spec in enumerate(presets.PRESETS[preset].questions)
        ]
    )


@transaction.atomic
def study_create(
    *,
    name: str,
    ours: Method,
    baselines: Iterable[Method],
    identities: Iterable[Identity] = (),
    prompts: Iterable[Prompt] = (),
    stories: Iterable[Story] = (),
    preset: str = presets.DEFAULT_PRESET,
    matchups_per_participant: int = 40,
    **options: Any,
) -> Study:
    """A draft study with the preset's questions, format and kind and the platform's default texts.

    A clip study draws its cases from ``identities`` x ``prompts``, a narrative one from ``stories``."""
    if preset not in presets.PRESETS:
        raise StudySetupError(f"Unknown preset {preset!r}.")
    unknown = (
        set(options)
        - set(TEXT_FIELDS)
        - set(CHECK_FIELDS)
        - {"element_policy", "element_fraction", "min_watch_fraction"}
    )
    if unknown:
        raise TypeError(f"study_create() got unexpected options: {sorted(unknown)}")
    _check_watch_fraction(options.get("min_watch_fraction", 1.0))
    _check_return_paths(options)
    # The defaults (2 gold, 2 repeats) shrink to fit a short study; values asked for are checked.
    for field in CHECK_FIELDS[:2]:
        options.setdefault(field, min(2, matchups_per_participant // 4))
    _check_quality_checks(
        matchups=matchups_per_participant,
        gold=options["gold_matchups_per_participant"],
        repeats=options["repeat_matchups_per_participant"],
        screen_out=options.get("screen_out_after_failed_gold", 2),
    )
    options.setdefault("instructions", presets.instructions_for(preset))
    options.setdefault("consent_text", presets.DEFAULT_CONSENT)
    study = Study.objects.create(
        name=name,
        ours=ours,
        preset=preset,
        format=presets.PRESETS[preset].format,
        kind=presets.PRESETS[preset].kind,
        matchups_per_participant=matchups_per_participant,
        **options,
    )
    study.baselines.set(list(baselines))
    study.identities.set(list(identities))
    study.prompts.set(list(prompts))
    study.stories.set(list(stories))
    _questions_reset(study=study, preset=preset)
    return study


def _check_watch_fraction(value: float) -> None:
    if not 0.0 <= value <= 1.0:
        raise StudySetupError(
            "The watch rule is a fraction of each video, from 0 (no rule) to 1 (played through once)."
        )


RETURN_CODES = ("completion_code", "screened_out_code", "withdrawn_code")
RETURN_URLS = ("redirect_url", "screened_out_redirect_url", "withdrawn_redirect_url")


def _check_return_paths(values: Mapping[str, Any]) -> None:
    """The crowd platform's codes and return addresses, as participants will be given them."""
    for name in (*RETURN_CODES, *RETURN_URLS):
        value = values.get(name) or ""
        if not value:
            continue
        try:
            (return_code_validator if name in RETURN_CODES else return_url_validator)(value)
        except ValidationError as error:
            label = _verbose_name(name)
            raise StudySetupError(f"{label[0].upper()}{label[1:]}: {error.messages[0]}") from error


def _check_quality_checks(*, matchups: int, gold: int, repeats: int, screen_out: int) -> None:
    """Gold and repeated matchups take at most a quarter of a participant's matchups each."""
    problems = []
    for count, what in ((gold, "gold matchups"), (repeats, "repeated matchups")):
        if count < 0:
            problems.append(f"The number of {what} cannot be negative: use 0 to turn them off.")
        elif count * 4 > matchups:
            problems.append(
                f"{count} {what} per participant are more than a quarter of the {matchups} matchups "
                f"(at most {matchups // 4}): use fewer, or 0 to turn them off."
            )
    if screen_out < 0:
        problems.append("The screen-out rule cannot be negative: use 0 to turn it off.")
    if problems:
        raise StudySetupError(" ".join(problems))


def _verbose_name(name: str) -> str:
    field = Study._meta.get_field(name)
    # Design fields are the study's own fields and many-to-many sets, never a relation's reverse side.
    assert isinstance(field, Field)
    return str(field.verbose_name)


@transaction.atomic
def study_update(
    *,
    study: Study,
    question_texts: Mapping[str, tuple[str, str]] | None = None,
    **changes: Any,
) -> Study:
    """Change a study. Texts may always be fixed; the design only while the study is a draft.

    ``question_texts`` maps a criterion to its new (text, hint). A change of preset in a draft brings
    the new preset's questions and format.
    """
    study = Study.objects.select_for_update().get(pk=study.pk)
    unknown = set(changes) - set(DESIGN_FIELDS) - set(DESIGN_SETS) - set(TEXT_FIELDS)
    if unknown:
        raise TypeError(f"study_update() got unexpected fields: {sorted(unknown)}")
    design_changed = [
        name for name in DESIGN_FIELDS if name in changes and getattr(study, name) != changes[name]
    ]
    design_changed += [
        name
        for name in DESIGN_SETS
        if name in changes
        and {obj.pk for obj in changes[name]} != set(getattr(study, name).values_list("pk", flat=True))
    ]
    if "min_watch_fraction" in changes:
        _check_watch_fraction(changes["min_watch_fraction"])
    _check_return_paths(changes)
    if {"matchups_per_participant", *CHECK_FIELDS} & set(changes):
        _check_quality_checks(
            matchups=changes.get("matchups_per_participant", study.matchups_per_participant),
            gold=changes.get("gold_matchups_per_participant", study.gold_matchups_per_participant),
            repeats=changes.get("repeat_matchups_per_participant", study.repeat_matchups_per_participant),
            screen_out=changes.get("screen_out_after_failed_gold", study.screen_out_after_failed_gold),
        )
    if design_changed and study.design_frozen:
        labels = ", ".join(_verbose_name(name) for name in design_changed)
        raise StudyFrozen(
            f"This study is {study.get_status_display().lower()}: its design ({labels}) cannot change any "
            "more, or answers given before and after the change could not be compared. Texts may still "
            "be fixed. To run a changed design, create a new study."
        )
    preset_changed = "preset" in design_changed
    for name, value in changes.items():
        if name in DESIGN_SETS:
            getattr(study, name).set(list(value))
        else:
            setattr(study, name, value)
    if preset_changed:
        study.format = presets.PRESETS[study.preset].format
        study.kind = presets.PRESETS[study.preset].kind
        _questions_reset(study=study, preset=study.preset)
    study.save()
    if question_texts and not preset_changed:
        for question in study.questions.all():
            if question.criterion in question_texts:
                question.text, question.hint = question_texts[question.criterion]
                question.save(update_fields=["text", "hint"])
    return study


def study_setup_problems(*, study: Study) -> list[str]:
    """Why the study cannot open yet; empty when it can."""
    problems = []
    baseline_ids = list(study.baselines.values_list("pk", flat=True))
    if not baseline_ids:
        problems.append("Choose at least one baseline.")
    if study.ours_id in baseline_ids:
        problems.append("The studied method cannot also be one of its baselines.")
    if not study.questions.exists():
        problems.append("The study has no questions.")
    if study.is_narrative and not study.stories.exists():
        problems.append("Choose at least one story.")
    elif baseline_ids and study.ours_id not in baseline_ids:
        for baseline_id, cases in selectors.study_pools(study=study).items():
            if cases:
                continue
            whom = (
                "every method"
                if baseline_id is None
                else f"ours and {Method.objects.get(pk=baseline_id).name}"
            )
            if study.is_narrative:
                problems.append(
                    f"No chosen story has renderings of {whom}: render the stories with "
                    f"{'them' if baseline_id is None else 'both methods'} (a generation job of stories), "
                    "or choose other stories."
                )
            else:
                problems.append(
                    f"No case has videos of {whom} for the chosen identities and prompts: generate or "
                    "import them, or choose other identities and prompts."
                )
    return problems


@transaction.atomic
def study_status_set(*, study: Study, status: str, now: datetime | None = None) -> Study:
    """Open, close or reopen a study. Opening checks that plans can be drawn; a study never goes back
    to draft, since answers given under its design exist."""
    now = now or timezone.now()
    study = Study.objects.select_for_update().get(pk=study.pk)
    if status == study.status:
        return study
    if status == Study.Status.OPEN:
        problems = study_setup_problems(study=study)
        if problems:
            raise StudySetupError("The study cannot open yet: " + " ".join(problems))
        study.opened_at = study.opened_at or now
        study.closed_at = None
    elif status == Study.Status.CLOSED:
        if study.status == Study.Status.DRAFT:
            raise StudyNotOpen("A draft study has not opened, so it cannot close.")
        study.closed_at = now
    else:
        raise StudyFrozen("An opened study cannot go back to draft: create a new study instead.")
    study.status = status
    study.save(update_fields=["status", "opened_at", "closed_at"])
    return study


@transaction.atomic
def invitations_create(*, study: Study, count: int) -> list[Participant]:
    """Personal links: each an unguessable token that lets one person in, even without a public link."""
    if not 1 <= count <= 1000:
        raise StudySetupError("Create between 1 and 1000 personal links at a time.")
    created = []
    for _ in range(count):
        rater = Rater.objects.create(kind=Rater.Kind.PARTICIPANT)
        created.append(
            Participant.objects.create(
                study=study, rater=rater, status=Participant.Status.INVITED, personal_link=True
            )
        )
    return created


# --- taking part ---------------------------------------------------------------------------------------


def _check_open(study: Study) -> None:
    if study.closed_message:
        raise StudyNotOpen(study.closed_message)


def _check_room(study: Study) -> None:
    if study.target_participants is None:
        return
    completed = study.participants.filter(status=Participant.Status.COMPLETED).count()
    if completed >= study.target_participants:
        raise StudyFull("This study already has all the participants it needs. Thank you for your interest.")


def _crowd_hashes(study: Study, params: Mapping[str, str]) -> tuple[str, str]:
    crowd_id = next((params[name].strip() for name in CROWD_ID_PARAMS if params.get(name, "").strip()), "")
    session = "|".join(params.get(name, "").strip() for name in CROWD_SESSION_PARAMS)
    return (
        salted_hash("study", study.pk, "crowd-id", crowd_id) if crowd_id else "",
        salted_hash("study", study.pk, "crowd-session", session) if session.strip("|") else "",
    )


def participant_join(
    *, study: Study, crowd_params: Mapping[str, str] | None = None, now: datetime | None = None
) -> Participant:
    """A new participant of a public study, known only by a random token.

    A crowd-platform id that has joined before is refused: one person takes part once.
    """
    now = now or timezone.now()
    _check_open(study)
    if not study.public_join:
        raise InvitationOnly("This study is by invitation: please open the personal link you were given.")
    _check_room(study)
    crowd_hash, session_hash = _crowd_hashes(study, crowd_params or {})
    if crowd_hash and study.participants.filter(crowd_hash=crowd_hash).exists():
        raise AlreadyTookPart(
            "You have already taken part in this study (or started it in another browser). Each person "
            "takes part once, so we cannot start a second session. Thank you for your help!"
        )
    try:
        with transaction.atomic():
            rater = Rater.objects.create(kind=Rater.Kind.PARTICIPANT)
            return Participant.objects.create(
                study=study,
                rater=rater,
                crowd_hash=crowd_hash,
                crowd_session_hash=session_hash,
                joined_at=now,
            )
    except IntegrityError as error:
        # Two tabs joining with one crowd id at the same moment: the second meets the unique constraint.
        raise AlreadyTookPart("You have already taken part in this study.") from error


@transaction.atomic
def invitation_accept(*, participant: Participant, now: datetime | None = None) -> Participant:
    """A personal link's holder has read the instructions and goes on: the invitation becomes a start."""
    now = now or timezone.now()
    participant = _participant_locked(participant)
    if participant.status != Participant.Status.INVITED:
        return participant
    _check_open(participant.study)
    participant.status = Participant.Status.JOINED
    participant.joined_at = now
    participant.save(update_fields=["status", "joined_at"])
    return participant


def _participant_locked(participant: Participant) -> Participant:
    locked = (
        Participant.objects.select_for_update(of=("self",))
        .select_related("study", "rater")
        .get(pk=participant.pk)
    )
    if locked.is_withdrawn:
        raise ParticipantWithdrawn(
            "You have withdrawn from this study; your answers are left out and no more can be given."
        )
    if locked.is_screened_out:
        raise ParticipantScreenedOut(SCREENED_OUT_MESSAGE)
    return locked


@transaction.atomic
def participant_consent(
    *,
    participant: Participant,
    confirmed: bool,
    now: datetime | None = None,
    rng: random.Random | None = None,
) -> Participant:
    """Record consent and draw the participant's matchup plan (once: a repeat returns the same plan)."""
    now = now or timezone.now()
    participant = _participant_locked(participant)
    if participant.has_plan:
        return participant
    study = participant.study
    _check_open(study)
    if not confirmed:
        raise ConsentRequired("Please confirm that you agree to take part before you start.")
    pools = selectors.study_pools(study=study)
    if not pools or any(not cases for cases in pools.values()):
        raise StudySetupError("This study has no videos to show yet. Please contact the researchers.")

    earlier = Matchup.objects.filter(participant__study=study, purpose=Matchup.Purpose.REAL).exclude(
        participant__status__in=[Participant.Status.WITHDRAWN, Participant.Status.SCREENED_OUT]
    )
    shown_so_far = Counter(tuple(sorted(ids)) for ids in earlier.values_list("video_ids", flat=True))
    baselines_so_far = Counter(
        {row["baseline_id"]: row["n"] for row in earlier.values("baseline_id").annotate(n=Count("id"))}
    )
    has_element_question = study.questions.filter(criterion=Criterion.ELEMENT_CONSISTENCY).exists()
    rng = rng or random.Random()
    gold = _gold_draw(study=study, rng=rng)
    repeats = study.repeat_matchups_per_participant
    plan = plan_draw(
        pools=pools,
        matchups=study.matchups_per_participant - len(gold) - repeats,
        prompts=Prompt.objects.in_bulk(study.prompts.values_list("pk", flat=True)),
        ask_element_consistency=has_element_question,
        element_fraction=study.element_fraction
        if study.element_policy == Study.ElementPolicy.FRACTION
        else None,
        shown_so_far=shown_so_far,
        baselines_so_far=baselines_so_far,
        rng=rng,
    )
    plan = checks_insert(
        plan=plan, gold=gold, repeats=repeats, ask_element_consistency=has_element_question, rng=rng
    )
    # Gold pairs may show two people or two prompts: they have their comparison already.
    comparisons = _comparisons_for(planned.video_ids for planned in plan if planned.purpose == "real")
    gold_comparisons = Comparison.objects.in_bulk([case.comparison_id for case in gold])
    comparisons.update({frozenset((c.video_a_id, c.video_b_id)): c for c in gold_comparisons.values()})
    matchups = Matchup.objects.bulk_create(
        [
            Matchup(
                participant=participant,
                position=planned.position,
                identity_id=planned.case.identity_id,
                prompt_id=planned.case.prompt_id,
                baseline_id=planned.baseline_id,
                comparison=comparisons[frozenset(planned.video_ids)] if study.is_pairwise else None,
                video_ids=list(planned.video_ids),
                asks_element_consistency=planned.asks_element_consistency,
                purpose=planned.purpose,
            )
            for planned in plan
            if planned.repeat_of is None
        ]
    )
    # A repeat points at its original, which has a primary key only now.
    by_position = {matchup.position: matchup for matchup in matchups}
    Matchup.objects.bulk_create(
        [
            Matchup(
                participant=participant,
                position=planned.position,
                identity_id=planned.case.identity_id,
                prompt_id=planned.case.prompt_id,
                baseline_id=planned.baseline_id,
                comparison=by_position[planned.repeat_of].comparison,
                video_ids=list(planned.video_ids),
                asks_element_consistency=planned.asks_element_consistency,
                purpose=planned.purpose,
                repeat_of=by_position[planned.repeat_of],
            )
            for planned in plan
            if planned.repeat_of is not None
        ]
    )
    participant.status = Participant.Status.ACTIVE
    participant.consented_at = now
    participant.position = 0
    participant.save(update_fields=["status", "consented_at", "position"])
    return participant


def _gold_draw(*, study: Study, rng: random.Random) -> list[GoldCase]:
    """Distinct gold comparisons for one participant, those the study has shown least first; fewer
    (or none) when the study has fewer than it asks for."""
    wanted = study.gold_matchups_per_participant
    if wanted == 0:
        return []
    cases = selectors.study_gold_cases(study=study)
    shown = Counter(
        tuple(sorted(ids))
        for ids in Matchup.objects.filter(participant__study=study, purpose=Matchup.Purpose.GOLD).values_list(
            "video_ids", flat=True
        )
    )
    ranked = sorted(cases, key=lambda case: (shown[tuple(sorted(case.video_ids))], rng.random()))
    return ranked[:wanted]


def _comparisons_for(video_sets: Iterable[Iterable[int]]) -> dict[frozenset[int], Comparison]:
    """The comparison of every pair within each video set, built or reused through annotate."""
    wanted = {frozenset(ids) for ids in video_sets}
    found: dict[frozenset[int], Comparison] = {}
    for ids in wanted:
        videos = list(Video.objects.filter(pk__in=ids))
        # A pair is compared as planned (two clips of a case, or two joined files of a story); the videos
        # of a "best of all" matchup pair by case.
        if len(videos) == 2:
            built = comparisons_of_pairs(pairs=[(videos[0], videos[1])])
        else:
            built = comparisons_build(videos=videos)
        for comparison in built:
            found[frozenset((comparison.video_a_id, comparison.video_b_id))] = comparison
    return found


def participant_go_to(*, participant: Participant, position: int) -> Participant:
    """Remember where the participant is, so a resumed session continues there."""
    Participant.objects.filter(pk=participant.pk).update(position=position)
    participant.position = position
    return participant


# --- the watch rule ---------------------------------------------------------------------------------


def matchup_shown(*, matchup: Matchup, now: datetime | None = None) -> Matchup:
    """Remember when the page was first shown: the watch record and response time count from then."""
    if matchup.shown_at is None:
        now = now or timezone.now()
        Matchup.objects.filter(pk=matchup.pk, shown_at__isnull=True).update(shown_at=now)
        matchup.shown_at = Matchup.objects.values_list("shown_at", flat=True).get(pk=matchup.pk)
    return matchup


@transaction.atomic
def matchup_watch_record(
    *, participant: Participant, matchup_id: int, watched: Mapping[int, float], now: datetime | None = None
) -> Matchup:
    """Record how much of each video (by display position) the player says it has shown, never more
    than the time since the page was first shown allows. Answers check this record."""
    now = now or timezone.now()
    matchup = Matchup.objects.select_for_update().filter(pk=matchup_id, participant_id=participant.pk).first()
    if matchup is None:
        raise NotYours("No such matchup in your study session.")
    if matchup.shown_at is None:
        return matchup  # never shown: nothing can have played
    elapsed = (now - matchup.shown_at).total_seconds()
    durations = dict(Video.objects.filter(pk__in=matchup.video_ids).values_list("pk", "duration"))
    matchup.watched = [
        max(
            matchup.watched_of(index),
            watched_plausible(
                reported=watched.get(index, 0.0), duration=durations[video_id], elapsed_seconds=elapsed
            ),
        )
        for index, video_id in enumerate(matchup.video_ids)
    ]
    matchup.watch_reported_at = now
    matchup.save(update_fields=["watched", "watch_reported_at"])
    return matchup


# A matchup has no lease: a wait longer than this is no wait between two answers.
WAIT_CEILING_SECONDS = 600.0


@transaction.atomic
def matchup_wait_record(
    *, participant: Participant, matchup_id: int, wait_ms: float, now: datetime | None = None
) -> Matchup:
    """Record how long the player says the participant waited, from their answer to the matchup
    before until both of this one's videos could play through, clipped to what is plausible since
    the page was first shown (``wait_plausible``). The first report stands."""
    now = now or timezone.now()
    matchup = Matchup.objects.select_for_update().filter(pk=matchup_id, participant_id=participant.pk).first()
    if matchup is None:
        raise NotYours("No such matchup in your study session.")
    if matchup.wait_ms is not None or matchup.shown_at is None:
        return matchup
    matchup.wait_ms = wait_plausible(
        reported_ms=wait_ms,
        elapsed_seconds=(now - matchup.shown_at).total_seconds(),
        ceiling_seconds=WAIT_CEILING_SECONDS,
    )
    matchup.save(update_fields=["wait_ms"])
    return matchup


def _side_of(comparison: Comparison, video_id: int) -> str:
    return Side.A if comparison.video_a_id == video_id else Side.B


@transaction.atomic
def answers_save(
    *,
    participant: Participant,
    matchup_id: int,
    picks: Mapping[str, int],
    elapsed_ms: int | None = None,
    require_all: bool = True,
    now: datetime | None = None,
) -> Matchup:
    """Store the participant's picks for one matchup: a changed pick updates its answer and judgments,
    never adds a second one.

    ``picks`` maps a criterion to the display position of the chosen video (0 is the left one). With
    ``require_all`` every question the matchup asks must have a pick (Next, Finish); Previous saves
    what there is.
    """
    now = now or timezone.now()
    participant = _participant_locked(participant)
    study = participant.study
    matchup = (
        Matchup.objects.select_for_update(of=("self",))
        .select_related("comparison")
        .filter(pk=matchup_id, participant=participant)
        .first()
    )
    if matchup is None:
        raise NotYours("No such matchup in your study session.")
    _check_open(study)
    if not participant.has_plan:
        raise ConsentRequired("Please confirm your consent first.")

    asked = [
        q.criterion
        for q in study.questions.all()
        if matchup.asks_element_consistency or not q.is_element_consistency
    ]
    unknown = set(picks) - set(asked)
    if unknown:
        raise InvalidAnswer("An answer was given to a question this page does not ask.")
    if any(not isinstance(pick, int) or not 0 <= pick < len(matchup.video_ids) for pick in picks.values()):
        raise InvalidAnswer("Please choose one of the videos shown.")
    existing = {answer.criterion: answer for answer in matchup.answers.all()}
    missing = [c for c in asked if c not in picks and c not in existing]
    if picks:
        # The record of the watch reports decides, never the answer request itself.
        missing_watch = watch_missing(study=study, matchup=matchup)
        if missing_watch:
            raise WatchRuleNotMet(missing_watch)
    if require_all and missing:
        raise IncompleteAnswers("Please answer every question on this page before you go on.")

    elapsed = None if elapsed_ms is None else max(0, min(int(elapsed_ms), MAX_RESPONSE_MS))
    for criterion, pick in picks.items():
        answer = existing.get(criterion)
        if answer is not None and answer.picked == pick:
            continue  # unchanged: keep the first answer's judgment and its timing
        _answer_store(
            participant=participant,
            matchup=matchup,
            criterion=criterion,
            pick=pick,
            answer=answer,
            elapsed=elapsed,
        )
    changed = {"time_ms"}
    matchup.time_ms = min(matchup.time_ms + (elapsed or 0), 2**31 - 1)
    if matchup.answered_at is None and not missing:
        matchup.answered_at = now
        changed.add("answered_at")
        if matchup.shown_at is not None:
            seconds = (now - matchup.shown_at).total_seconds()
            matchup.response_ms = min(max(round(seconds * 1000), 0), 2**31 - 1)
            changed.add("response_ms")
    matchup.save(update_fields=sorted(changed))
    if matchup.purpose == Matchup.Purpose.GOLD:
        _screen_out_rule(participant=participant, now=now)
    return matchup


def _gold_failures(participant: Participant) -> tuple[int, int]:
    """(failed, answered) gold matchups: failed when an answer on a criterion with a known answer picked
    the other video. Criteria without a known answer do not count."""
    failed, answered = 0, 0
    gold_matchups = participant.matchups.filter(purpose=Matchup.Purpose.GOLD).select_related("comparison")
    for matchup in gold_matchups.prefetch_related("answers", "comparison__gold_answers"):
        if matchup.comparison is None:
            continue
        known = {gold.criterion: gold.answer for gold in matchup.comparison.gold_answers.all()}
        checked = [answer for answer in matchup.answers.all() if answer.criterion in known]
        if not checked:
            continue
        answered += 1
        right_video = {
            criterion: matchup.comparison.video_a_id if answer == Choice.A else matchup.comparison.video_b_id
            for criterion, answer in known.items()
        }
        if any(answer.picked_video_id != right_video[answer.criterion] for answer in checked):
            failed += 1
    return failed, answered


def _screen_out_rule(*, participant: Participant, now: datetime) -> None:
    """The study's automatic rule for crowd participants: enough failed gold matchups end the
    participation. Their answers then count nowhere, as after a withdrawal."""
    limit = participant.study.screen_out_after_failed_gold
    if limit == 0 or not participant.is_crowd or participant.status != Participant.Status.ACTIVE:
        return
    failed, answered = _gold_failures(participant)
    if failed < limit:
        return
    participant.status = Participant.Status.SCREENED_OUT
    participant.screened_out_at = now
    participant.save(update_fields=["status", "screened_out_at"])
    Rater.objects.filter(pk=participant.rater_id).update(excluded=True)
    participant.rater.excluded = True
    ParticipantDecision.objects.create(
        participant=participant,
        action=ParticipantDecision.Action.SCREEN_OUT,
        reason=f"failed {failed} of {answered} gold matchups",
        decided_by=None,
    )


def _answer_store(
    *,
    participant: Participant,
    matchup: Matchup,
    criterion: str,
    pick: int,
    answer: Answer | None,
    elapsed: int | None,
) -> None:
    picked_video_id = matchup.video_ids[pick]
    if matchup.comparison is not None:
        comparison = matchup.comparison
        shown_left = _side_of(comparison, matchup.video_ids[0])
        choice = canonical_choice(side_choice="left" if pick == 0 else "right", shown_left=shown_left)
        fields = {
            "choice": choice,
            "shown_left": shown_left,
            "response_ms": elapsed,
            **_watched_ab(matchup, comparison),
        }
        judgment = answer.judgments.first() if answer is not None else None
        if judgment is not None:
            # Previous / Next changed the pick: the same judgment now says the other thing.
            Judgment.objects.filter(pk=judgment.pk).update(**fields)
            judgments = [judgment]
        else:
            judgments = [
                _judgment_create(
                    participant,
                    comparison,
                    criterion,
                    **fields,
                    **_check_flags(matchup, comparison, criterion),
                )
            ]
    else:
        # "Best of all": the pick wins over every other video shown; those judgments are replaced whole.
        if answer is not None:
            old = list(answer.judgments.values_list("pk", flat=True))
            answer.judgments.clear()
            Judgment.objects.filter(pk__in=old).delete()
        comparisons = _comparisons_for([matchup.video_ids])
        judgments = []
        for other in matchup.video_ids:
            if other == picked_video_id:
                continue
            comparison = comparisons[frozenset((picked_video_id, other))]
            left_of_pair = next(v for v in matchup.video_ids if v in (picked_video_id, other))
            judgments.append(
                _judgment_create(
                    participant,
                    comparison,
                    criterion,
                    choice=_side_of(comparison, picked_video_id),
                    shown_left=_side_of(comparison, left_of_pair),
                    response_ms=elapsed,
                    **_watched_ab(matchup, comparison),
                    **_check_flags(matchup, comparison, criterion),
                )
            )
        if answer is not None and matchup.purpose == Matchup.Purpose.REAL:
            # A changed original: its repeats' judgments point at the judgments that replaced it.
            for judgment in judgments:
                Judgment.objects.filter(
                    study_answers__matchup__repeat_of=matchup,
                    criterion=criterion,
                    comparison_id=judgment.comparison_id,
                ).update(repeat_of=judgment)
    if answer is None:
        answer = Answer.objects.create(
            matchup=matchup,
            criterion=criterion,
            picked=pick,
            picked_video_id=picked_video_id,
            response_ms=elapsed,
            watched=matchup.watched,
        )
    else:
        answer.picked, answer.picked_video_id, answer.response_ms = pick, picked_video_id, elapsed
        answer.watched = matchup.watched
        answer.save(update_fields=["picked", "picked_video", "response_ms", "watched", "updated_at"])
    answer.judgments.add(*judgments)


def _check_flags(matchup: Matchup, comparison: Comparison, criterion: str) -> dict[str, Any]:
    """A gold or repeated matchup's judgments are quality checks, not votes: flag them (a repeat also
    links the judgment it repeats, the original's for the same comparison and criterion)."""
    if matchup.purpose == Matchup.Purpose.GOLD:
        return {"is_gold": True}
    if matchup.purpose == Matchup.Purpose.REPEAT:
        assert matchup.repeat_of_id is not None  # the matchup_repeat_has_original constraint
        original = Judgment.objects.filter(
            study_answers__matchup_id=matchup.repeat_of_id,
            study_answers__criterion=criterion,
            comparison=comparison,
        ).first()
        return {"is_repeat": True, "repeat_of": original}
    return {}


def _watched_ab(matchup: Matchup, comparison: Comparison) -> dict[str, float]:
    """The matchup's watch record of the comparison's two videos, in its canonical A/B terms."""
    position = {video_id: k for k, video_id in enumerate(matchup.video_ids)}
    return {
        "watched_a": matchup.watched_of(position[comparison.video_a_id]),
        "watched_b": matchup.watched_of(position[comparison.video_b_id]),
    }


def _judgment_create(
    participant: Participant, comparison: Comparison, criterion: str, **fields: Any
) -> Judgment:
    return Judgment.objects.create(
        comparison=comparison,
        criterion=criterion,
        rater=participant.rater,
        track=None,
        selection_policy="study_plan",
        **fields,
    )


@transaction.atomic
def participant_finish(*, participant: Participant, now: datetime | None = None) -> Participant:
    """Complete the participation once every matchup has its answers."""
    now = now or timezone.now()
    participant = _participant_locked(participant)
    if participant.status == Participant.Status.COMPLETED:
        return participant
    _check_open(participant.study)
    first_open = participant.matchups.filter(answered_at__isnull=True).order_by("position").first()
    if first_open is not None or not participant.has_plan:
        raise IncompleteAnswers(
            "Some pages still need answers.", position=first_open.position if first_open else None
        )
    participant.status = Participant.Status.COMPLETED
    participant.completed_at = now
    participant.save(update_fields=["status", "completed_at"])
    return participant


@transaction.atomic
def participant_withdraw(*, participant: Participant, now: datetime | None = None) -> Participant:
    """Withdraw: the rater is excluded, so every statistic and export leaves all their answers out."""
    now = now or timezone.now()
    participant = (
        Participant.objects.select_for_update(of=("self",)).select_related("rater").get(pk=participant.pk)
    )
    if participant.is_withdrawn:
        return participant
    participant.status = Participant.Status.WITHDRAWN
    participant.withdrawn_at = now
    participant.save(update_fields=["status", "withdrawn_at"])
    Rater.objects.filter(pk=participant.rater_id).update(excluded=True)
    participant.rater.excluded = True
    return participant


# --- a study admin's decisions on participants ------------------------------------------------------


@transaction.atomic
def participant_exclude(*, participant: Participant, by: Any, reason: str) -> Participant:
    """Exclude a participant: their rater is excluded, so no statistic or export counts their answers;
    the decision is recorded with who made it and why."""
    reason = _decision_reason(reason)
    if not reason:
        raise ParticipantDecisionError("Give a reason for excluding this participant.")
    participant = (
        Participant.objects.select_for_update(of=("self",)).select_related("rater").get(pk=participant.pk)
    )
    if participant.rater.excluded:
        raise ParticipantDecisionError(f"This participant is already {_standing(participant)}.")
    Rater.objects.filter(pk=participant.rater_id).update(excluded=True)
    participant.rater.excluded = True
    ParticipantDecision.objects.create(
        participant=participant, action=ParticipantDecision.Action.EXCLUDE, reason=reason[:500], decided_by=by
    )
    return participant


@transaction.atomic
def participant_include(*, participant: Participant, by: Any, reason: str = "") -> Participant:
    """Include a participant again (an admin's exclusion or the screen-out rule undone); a withdrawn
    participant cannot be: they took their answers back."""
    participant = (
        Participant.objects.select_for_update(of=("self",)).select_related("rater").get(pk=participant.pk)
    )
    reason = _decision_reason(reason)
    if participant.is_withdrawn:
        raise ParticipantDecisionError("This participant withdrew: their answers cannot be included again.")
    if not participant.rater.excluded:
        raise ParticipantDecisionError("This participant is not excluded: there is nothing to include again.")
    Rater.objects.filter(pk=participant.rater_id).update(excluded=False)
    participant.rater.excluded = False
    ParticipantDecision.objects.create(
        participant=participant,
        action=ParticipantDecision.Action.INCLUDE,
        reason=reason,
        decided_by=by,
    )
    return participant


def _decision_reason(reason: str) -> str:
    reason = reason.strip()
    if len(reason) > 500:
        raise ParticipantDecisionError("Keep the reason to 500 characters.")
    return reason


def _standing(participant: Participant) -> str:
    return (
        "withdrawn"
        if participant.is_withdrawn
        else "screened out"
        if participant.is_screened_out
        else "excluded"
    )
