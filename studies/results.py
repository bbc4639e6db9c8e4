"""Study results: ours' win rate per baseline and question with Wilson intervals and exact binomial
tests (as papers report them), beside a participant-clustered bootstrap interval and Holm-adjusted
p-values over the study's family of baseline x question tests; participation numbers and timings, the
paper figure, and the raw answers as CSV.

Everything here reads judgments and answers of participants who have not withdrawn
(``rater__excluded=False``), the same filter the export module uses; the judgments are the dataset's
(``Judgment.objects.dataset()``: gold and repeat checks left out).
"""

from __future__ import annotations

import csv
import io
import math
import statistics
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np
from django.db.models import Count, Exists, OuterRef, Q, QuerySet

from annotate.models import Criterion, Judgment, Side
from annotate.proportions import binomial_p, clustered_rate_interval, holm, wilson_interval
from generation.models import Method, Video
from lib.spreadsheet import formula_safe
from studies.models import Answer, Matchup, Participant, Study
from studies.selectors import participant_counts, video_labels
from studies.services import participant_code

if TYPE_CHECKING:
    from matplotlib.typing import RcKeyType

# The participant-clustered interval: a seeded percentile bootstrap, so the page and its downloads agree.
CLUSTER_ROUNDS = 1000
CLUSTER_SEED = 0
FIGURE_FORMATS = {"svg": "image/svg+xml", "png": "image/png", "pdf": "application/pdf"}
# Okabe–Ito: distinguishable with every common colour-vision deficiency, and in greyscale print.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000")


@dataclass(frozen=True)
class ResultRow:
    baseline: str
    criterion: str
    question: str
    wins: int
    n: int
    low: float  # 95 % Wilson interval: every answer counted as independent
    high: float
    p_value: float  # exact two-sided binomial test against 50 %
    participants: int = 0  # participants who answered this cell (the clusters)
    clustered_low: float = 0.0  # 95 % percentile bootstrap over participants
    clustered_high: float = 1.0
    p_holm: float = 1.0  # p_value adjusted (Holm) over the study's baseline x question cells with answers

    @property
    def rate(self) -> float | None:
        return self.wins / self.n if self.n else None

    @property
    def percent(self) -> float | None:
        return 100 * self.wins / self.n if self.n else None


@dataclass(frozen=True)
class StudyResults:
    ours: str
    rows: list[ResultRow]
    participants: dict[str, int]
    answers: int
    median_matchup_seconds: float | None
    median_participant_minutes: float | None

    @property
    def baselines(self) -> list[str]:
        return list(dict.fromkeys(row.baseline for row in self.rows))

    @property
    def questions(self) -> list[str]:
        return list(dict.fromkeys(row.question for row in self.rows))

    @property
    def tested(self) -> int:
        """The size of the family Holm adjusts for: the baseline x question cells with answers."""
        return sum(1 for row in self.rows if row.n)

    @property
    def cluster_rounds(self) -> int:
        return CLUSTER_ROUNDS


def study_judgments(*, study: Study) -> QuerySet[Judgment]:
    """The judgments that count for this study: its participants' votes, withdrawn ones and quality checks
    (gold, repeats) left out."""
    return Judgment.objects.dataset().filter(rater__study_participant__study=study)


def study_answers(*, study: Study) -> QuerySet[Answer]:
    """The answers that count: withdrawn participants' and those given to gold or repeated matchups (their
    judgments are quality checks) left out."""
    checks = Judgment.objects.filter(Q(is_gold=True) | Q(is_repeat=True), study_answers=OuterRef("pk"))
    return Answer.objects.filter(
        matchup__participant__study=study, matchup__participant__rater__excluded=False
    ).exclude(Exists(checks))


def cell_tallies(*, study: Study) -> dict[tuple[int, str], np.ndarray]:
    """Per (baseline id, criterion): one row per participant who answered it, ``[ours' wins, answers]``.

    A "best of all" pick counts as a win over each other shown video, so a matchup where a third method
    was picked says nothing about ours against this one."""
    baseline_ids = set(study.baselines.values_list("pk", flat=True))
    tallies: dict[tuple[int, str], dict[int, list[int]]] = defaultdict(lambda: defaultdict(lambda: [0, 0]))
    rows = (
        study_judgments(study=study)
        .values(
            "comparison__video_a__method_id",
            "comparison__video_b__method_id",
            "criterion",
            "choice",
            "rater_id",
        )
        .annotate(count=Count("id"))
    )
    for row in rows:
        method_a, method_b = row["comparison__video_a__method_id"], row["comparison__video_b__method_id"]
        if study.ours_id == method_a and method_b in baseline_ids:
            baseline_id, ours_side = method_b, Side.A
        elif study.ours_id == method_b and method_a in baseline_ids:
            baseline_id, ours_side = method_a, Side.B
        else:
            continue  # two baselines compared with each other ("best of all"): not about ours
        tally = tallies[(baseline_id, row["criterion"])][row["rater_id"]]
        tally[1] += row["count"]
        if row["choice"] == ours_side:
            tally[0] += row["count"]
    return {key: np.array(list(raters.values()), dtype=np.int64) for key, raters in tallies.items()}


def study_results(*, study: Study) -> StudyResults:
    """Ours against each baseline, per question (see ``cell_tallies`` for what counts as a win).

    Tallies are kept per participant (rater) as well, for the interval that resamples participants."""
    baselines = list(study.baselines.order_by("name"))
    tallies = cell_tallies(study=study)
    cells = []
    for question in study.questions.all():
        for baseline in baselines:
            per_rater = tallies.get((baseline.pk, question.criterion), np.zeros((0, 2), dtype=np.int64))
            wins, n = int(per_rater[:, 0].sum()), int(per_rater[:, 1].sum())
            low, high = wilson_interval(wins, n)
            clustered = clustered_rate_interval(
                per_rater[:, 0], per_rater[:, 1], rounds=CLUSTER_ROUNDS, seed=CLUSTER_SEED
            )
            cells.append(
                ResultRow(
                    baseline=baseline.name,
                    criterion=question.criterion,
                    question=Criterion(question.criterion).label,
                    wins=wins,
                    n=n,
                    low=low,
                    high=high,
                    p_value=binomial_p(wins, n),
                    participants=len(per_rater),
                    clustered_low=clustered[0],
                    clustered_high=clustered[1],
                )
            )
    # The family is the tests actually run: a cell nobody answered tests nothing and would only make the
    # adjustment stricter.
    tested = [k for k, row in enumerate(cells) if row.n]
    adjusted = dict(zip(tested, holm([cells[k].p_value for k in tested]), strict=True))
    result_rows = [replace(row, p_holm=adjusted.get(k, 1.0)) for k, row in enumerate(cells)]
    return StudyResults(
        ours=study.ours.name,
        rows=result_rows,
        participants=participant_counts(study=study),
        answers=study_answers(study=study).count(),
        median_matchup_seconds=_median_matchup_seconds(study),
        median_participant_minutes=_median_participant_minutes(study),
    )


def _median_matchup_seconds(study: Study) -> float | None:
    times = Matchup.objects.filter(
        participant__study=study, participant__rater__excluded=False, answered_at__isnull=False
    ).values_list("time_ms", flat=True)
    values = [ms / 1000 for ms in times if ms]
    return statistics.median(values) if values else None


def _median_participant_minutes(study: Study) -> float | None:
    spans = study.participants.filter(
        status=Participant.Status.COMPLETED, rater__excluded=False, consented_at__isnull=False
    ).values_list("consented_at", "completed_at")
    # consented_at is never NULL here (the filter), but the column may be.
    values = [(done - start).total_seconds() / 60 for start, done in spans if start and done]
    return statistics.median(values) if values else None


# --- the figure ---------------------------------------------------------------------------------------


def results_figure(results: StudyResults, *, fmt: str) -> bytes:
    """Grouped bars, one group per question and one bar per baseline, with 95% Wilson whiskers.

    Sized for one column of a two-column paper; text stays text in SVG and TrueType in PDF so that it
    can be edited and searched.
    """
    import matplotlib

    matplotlib.use("Agg")  # no display on a server; set before anything draws
    from matplotlib.figure import Figure

    if fmt not in FIGURE_FORMATS:
        raise ValueError(f"unknown figure format {fmt!r}")
    questions, baselines = results.questions, results.baselines
    by_key = {(row.question, row.baseline): row for row in results.rows}
    style: dict[RcKeyType, Any] = {
        "font.size": 8,
        "axes.titlesize": 8,
        "axes.labelsize": 8,
        "xtick.labelsize": 7.5,
        "ytick.labelsize": 7.5,
        "legend.fontsize": 7.5,
        "svg.fonttype": "none",
        "pdf.fonttype": 42,
        "axes.spines.top": False,
        "axes.spines.right": False,
        "axes.linewidth": 0.6,
        "xtick.major.width": 0.6,
        "ytick.major.width": 0.6,
    }
    with matplotlib.rc_context(style):
        width = max(3.4, 0.55 + 0.95 * max(len(questions), 1) * max(len(baselines), 1) ** 0.5)
        figure = Figure(figsize=(width, 2.4), dpi=100, layout="constrained")
        axes = figure.add_subplot()
        group = 0.8
        bar = group / max(len(baselines), 1)
        for k, baseline in enumerate(baselines):
            xs, heights, below, above = [], [], [], []
            for q, question in enumerate(questions):
                row = by_key.get((question, baseline))
                if row is None or row.rate is None:
                    continue
                xs.append(q - group / 2 + bar * (k + 0.5))
                heights.append(100 * row.rate)
                below.append(100 * (row.rate - row.low))
                above.append(100 * (row.high - row.rate))
            axes.bar(
                xs,
                heights,
                width=bar * 0.92,
                color=PALETTE[k % len(PALETTE)],
                label=f"vs {baseline}",
                yerr=[below, above],
                error_kw={"elinewidth": 0.7, "capsize": 2, "capthick": 0.7, "ecolor": "#222222"},
                zorder=2,
            )
        axes.axhline(50, color="#555555", linewidth=0.6, linestyle=(0, (4, 3)), zorder=1)
        axes.set_ylim(0, 100)
        axes.set_yticks([0, 25, 50, 75, 100])
        axes.set_ylabel(f"{results.ours} preferred (%)")
        axes.set_xticks(range(len(questions)))
        axes.set_xticklabels([_wrap(q) for q in questions])
        axes.tick_params(axis="x", length=0)
        axes.set_xlim(-0.55, len(questions) - 0.45)
        if baselines:
            axes.legend(
                frameon=False, ncols=min(len(baselines), 4), loc="lower center", bbox_to_anchor=(0.5, 1.0)
            )
        buffer = io.BytesIO()
        figure.savefig(buffer, format=fmt, dpi=300 if fmt == "png" else None, metadata=figure_metadata(fmt))
    return buffer.getvalue()


def _wrap(label: str) -> str:
    # Two short lines read better under a bar group than one long one.
    words = label.split()
    if len(words) < 2:
        return label
    middle = math.ceil(len(words) / 2)
    return " ".join(words[:middle]) + "\n" + " ".join(words[middle:])


def figure_metadata(fmt: str) -> dict[str, str | None]:
    # No creation date: the same answers give byte-identical files, which keeps paper repositories quiet.
    if fmt == "svg":
        return {"Date": None}
    if fmt == "pdf":
        return {"CreationDate": None}
    return {}


# --- the results table ----------------------------------------------------------------------------------

TABLE_HEADER = (
    "question",
    "baseline",
    "ours_preferred",
    "answers",
    "participants",
    "win_rate",
    "wilson_low",
    "wilson_high",
    "participant_bootstrap_low",
    "participant_bootstrap_high",
    "p_binomial_two_sided",
    "p_holm",
)


def results_table_csv(results: StudyResults) -> str:
    """The table of the results page, one row per question and baseline, with full precision. Empty
    cells where a number is undefined (no answers; fewer than two participants for the clustered one)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(TABLE_HEADER)
    for row in results.rows:
        answered = [row.rate or 0.0, row.low, row.high] if row.n else [None] * 3
        clustered = [row.clustered_low, row.clustered_high] if row.participants > 1 else [None] * 2
        tests = [row.p_value, row.p_holm] if row.n else [None] * 2
        writer.writerow(
            [formula_safe(row.question), formula_safe(row.baseline), row.wins, row.n, row.participants]
            + ["" if value is None else f"{value:.6g}" for value in answered + clustered + tests]
        )
    return buffer.getvalue()


# --- raw answers ---------------------------------------------------------------------------------------

CSV_HEADER = (
    "participant",
    "matchup",
    "identity",
    "prompt",
    "seed",
    "videos_shown",
    "question",
    "picked",
    "picked_method",
    "ours_picked",
    "response_ms",
    "answered_at",
)


def answers_csv_rows(*, study: Study) -> Iterator[list[str]]:
    """One row per answer, withdrawn participants left out. Participants appear only as salted hashes;
    ``videos_shown`` names the methods left to right."""
    yield list(CSV_HEADER)
    answers = (
        study_answers(study=study)
        .select_related("matchup__identity", "matchup__prompt", "picked_video__method")
        .order_by("matchup__participant_id", "matchup__position", "id")
    )
    video_ids = {pk for answer in answers for pk in answer.matchup.video_ids}
    videos = Video.objects.in_bulk(video_ids)
    methods = dict(Method.objects.values_list("pk", "name"))
    for answer in answers:
        matchup = answer.matchup
        shown = [videos[pk] for pk in matchup.video_ids]
        ours_seed = next((v.seed for v in shown if v.method_id == study.ours_id), "")
        yield [
            participant_code(study_id=study.pk, participant_id=matchup.participant_id),
            str(matchup.position + 1),
            matchup.identity.slug,
            matchup.prompt.slug,
            str(ours_seed),
            " | ".join(methods[v.method_id] for v in shown),
            answer.criterion,
            video_labels(len(shown))[answer.picked],
            answer.picked_video.method.name,
            "1" if answer.picked_video.method_id == study.ours_id else "0",
            "" if answer.response_ms is None else str(answer.response_ms),
            answer.updated_at.isoformat(timespec="seconds"),
        ]


def answers_csv(*, study: Study) -> str:
    buffer = io.StringIO()
    # Slugs and method names are chosen by people: none may reach a spreadsheet as a formula.
    csv.writer(buffer).writerows(
        [formula_safe(cell) for cell in row] for row in answers_csv_rows(study=study)
    )
    return buffer.getvalue()
