"""The power planner of a study's page: how many participants a wanted interval half-width needs.

Each participant's answers about one baseline and question are correlated (one person leans one way), so
they count for fewer independent ones: the design effect ``1 + (m - 1) icc`` for ``m`` answers per
participant in that cell (``annotate.proportions``). A participant's matchups are split over the baselines
(pairwise studies), and gold and repeated matchups are quality checks that results leave out, so ``m`` is
the participant's real matchups over the number of baselines, fewer for a question asked on a share only.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from annotate.models import Criterion
from annotate.proportions import design_effect, half_width_for, participants_needed
from studies.models import Participant, Study
from studies.results import cell_tallies, study_judgments

DEFAULT_RATE = 0.6
DEFAULT_HALF_WIDTH = 0.05
DEFAULT_ICC = 0.1  # a modest correlation, the planner's guess before the study has answers of its own
# Below this many participants the correlation estimated from a study's answers is mostly noise.
ICC_MIN_PARTICIPANTS = 10


@dataclass(frozen=True)
class IccEstimate:
    icc: float
    participants: int


@dataclass(frozen=True)
class PlannedCell:
    question: str
    answers_per_participant: int  # per baseline, in this question
    participants_needed: int
    current_half_width: float | None  # with the current design's participant count; None without one


@dataclass(frozen=True)
class PowerPlan:
    rate: float
    half_width: float
    icc: float
    icc_from_study: bool  # estimated from this study's answers, not the default
    matchups: int  # per participant, as designed
    real_matchups: int  # without gold and repeats
    baselines: int
    current_participants: int
    current_is_target: bool  # the study's planned (target) participants; else those who took part so far
    cells: list[PlannedCell]

    @property
    def participants_needed(self) -> int:
        """Every participant answers every cell: the study needs as many as its hungriest cell."""
        return max((cell.participants_needed for cell in self.cells), default=0)


def study_icc(*, study: Study) -> IccEstimate | None:
    """The intra-participant correlation of this study's answers, or None with too few participants.

    Per baseline x question cell, the design effect of its per-participant tallies (the cluster-robust
    over the binomial variance of the win rate) gives ``icc = (deff - 1) / (m0 - 1)``, with ``m0`` the
    mean participant size corrected for unequal sizes; cells are pooled weighted by their answers.
    """
    tallies = cell_tallies(study=study)
    answered = study_judgments(study=study).values("rater_id").distinct().count()
    if answered < ICC_MIN_PARTICIPANTS:
        return None
    estimates, weights = [], []
    for cell in tallies.values():
        wins, n = cell[:, 0].astype(np.float64), cell[:, 1].astype(np.float64)
        clusters, total = len(n), float(n.sum())
        if clusters < 2:
            continue
        m0 = (total - float((n**2).sum()) / total) / (clusters - 1)
        if m0 <= 1:
            continue  # one answer per participant: nothing to correlate
        estimates.append((design_effect(wins, n) - 1) / (m0 - 1))
        weights.append(total)
    if not estimates:
        return None
    icc = float(np.average(estimates, weights=weights))
    return IccEstimate(icc=min(max(icc, 0.0), 0.95), participants=answered)


def study_power_plan(*, study: Study, rate: float, half_width: float, icc: float | None = None) -> PowerPlan:
    """Participants needed per baseline x question cell, and the half-width the current design gives.

    ``icc`` None: estimated from the study's answers when it has enough participants, else DEFAULT_ICC.
    """
    estimate = study_icc(study=study) if icc is None else None
    chosen = icc if icc is not None else (estimate.icc if estimate else DEFAULT_ICC)
    baselines = study.baselines.count()
    real = study.matchups_per_participant - study.gold_matchups_per_participant
    real -= study.repeat_matchups_per_participant
    # Pairwise: each real matchup meets one baseline. Side by side: every matchup shows every baseline.
    per_baseline = real // baselines if study.is_pairwise and baselines else real
    if study.target_participants:
        current, is_target = study.target_participants, True
    else:
        current, is_target = _taken_part(study), False
    cells = []
    for question in study.questions.all() if baselines else []:
        m = max(1, round(per_baseline * _asked_share(study, question.criterion)))
        cells.append(
            PlannedCell(
                question=Criterion(question.criterion).label,
                answers_per_participant=m,
                participants_needed=participants_needed(rate, half_width, m, chosen),
                current_half_width=half_width_for(rate, current, m, chosen) if current else None,
            )
        )
    return PowerPlan(
        rate=rate,
        half_width=half_width,
        icc=chosen,
        icc_from_study=estimate is not None,
        matchups=study.matchups_per_participant,
        real_matchups=real,
        baselines=baselines,
        current_participants=current,
        current_is_target=is_target,
        cells=cells,
    )


def _taken_part(study: Study) -> int:
    return study.participants.filter(
        status__in=[Participant.Status.ACTIVE, Participant.Status.COMPLETED], rater__excluded=False
    ).count()


def _asked_share(study: Study, criterion: str) -> float:
    """The share of matchups that ask this question: element consistency only where the prompt keeps
    hairstyle, clothing or accessories (and then on a share of those, when the study says so)."""
    if criterion != Criterion.ELEMENT_CONSISTENCY:
        return 1.0
    prompts = list(study.prompts.all())
    share = sum(prompt.keeps_elements for prompt in prompts) / len(prompts) if prompts else 0.0
    if study.element_policy == Study.ElementPolicy.FRACTION:
        share *= study.element_fraction
    return share
