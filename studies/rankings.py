"""Leaderboards and checkpoint comparisons over chosen tracks and studies: the reads, the stored runs,
and the win-rate figure. The statistics themselves are annotate.rankings (Bradley–Terry with a
rater-clustered bootstrap) and annotate.proportions (one pair's win rate).

What counts: the dataset's judgments (``Judgment.objects.dataset()``: no gold or repeat checks, no
excluded annotators, withdrawn or screened-out participants), of comparisons between two different
methods (a pair of one method's seeds says nothing about a ranking). A tie, and "both bad", count as
half a win to each side, as in Chatbot Arena.

This module sits in studies because it reads track judgments and study answers alike; exports and the
API read it through these functions.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

import matplotlib
import numpy as np
from celery import current_app
from django.db import transaction
from django.db.models import Exists, F, OuterRef, Q, QuerySet
from django.utils import timezone
from matplotlib.figure import Figure

from annotate.models import Choice, Criterion, Judgment, Track
from annotate.proportions import answers_needed, clustered_rate_interval, design_effect, one_sided_better_p
from annotate.rankings import Judged, RankingError, leaderboard
from generation.models import Method
from studies.models import Answer, RankingRun, Study
from studies.results import FIGURE_FORMATS, figure_metadata

if TYPE_CHECKING:
    from matplotlib.typing import RcKeyType

logger = logging.getLogger(__name__)

RANKING_TASK = "studies.tasks.ranking_run_compute"
ROUNDS_DEFAULT = 1000
ROUNDS_MAX = 100_000
# Up to this many judgments the page computes a leaderboard while it answers (a second or two);
# beyond it a Celery task does, with progress, and the page shows the last result meanwhile.
INLINE_JUDGMENTS = 50_000
ALL_CRITERIA = "all"
MAX_ID = 2**63 - 1  # the largest id PostgreSQL's bigint holds
HALF_WIDTH_DEFAULT = 0.05


class RankingOptionsError(ValueError):
    """Input that cannot be ranked; ``field`` names the option at fault, ``message`` says why.

    ``not_found``: well-formed, but naming nothing there is (an id of no row, a criterion nobody judged,
    two methods never compared): a 404 rather than a 400.
    """

    def __init__(self, field: str, message: str, *, not_found: bool = False) -> None:
        super().__init__(message)
        self.field = field
        self.message = message
        self.not_found = not_found

    @property
    def status(self) -> int:
        return 404 if self.not_found else 400


# --- options ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RankingScope:
    """Which judgments: those of these tracks and studies; neither named means every track and study."""

    tracks: tuple[int, ...] = ()
    studies: tuple[int, ...] = ()

    @property
    def is_everything(self) -> bool:
        return not self.tracks and not self.studies


@dataclass(frozen=True)
class RankingOptions:
    """What a stored leaderboard was computed from; every judged criterion is fitted in one run."""

    scope: RankingScope = RankingScope()
    rounds: int = ROUNDS_DEFAULT
    seed: int = 0

    def as_json(self) -> dict[str, Any]:
        return {
            "tracks": list(self.scope.tracks),
            "studies": list(self.scope.studies),
            "rounds": self.rounds,
            "seed": self.seed,
            "resample": "rater",
            "tie_rule": "half",
        }

    @property
    def key(self) -> str:
        return hashlib.sha256(json.dumps(self.as_json(), sort_keys=True).encode()).hexdigest()

    def query(self) -> dict[str, str]:
        """The options as the page's query string, for links and forms."""
        return {
            "tracks": ",".join(map(str, self.scope.tracks)),
            "studies": ",".join(map(str, self.scope.studies)),
            "rounds": str(self.rounds),
            "seed": str(self.seed),
        }


def ids_from_query(query: Mapping[str, Any], field: str) -> tuple[int, ...]:
    """Ids given as repeated parameters (a form's checkboxes), a comma list (the API), or both."""
    values = query.getlist(field) if hasattr(query, "getlist") else query.get(field)
    if values is None:
        values = []
    elif isinstance(values, str | int):
        values = [values]
    ids: set[int] = set()
    for value in values:
        for part in str(value).split(","):
            part = part.strip()
            if not part:
                continue
            if not part.isdigit():
                noun = {"tracks": "track", "studies": "study", "methods": "method"}.get(field, field)
                raise RankingOptionsError(field, f"“{part}” is not a {noun} id: give whole numbers.")
            ids.add(int(part))
    return tuple(sorted(ids))


def _int(query: Mapping[str, Any], field: str, default: int, low: int, high: int, what: str) -> int:
    raw = query.get(field)
    if raw in (None, ""):
        return default
    try:
        value = int(str(raw).strip())
    except ValueError:
        raise RankingOptionsError(field, f"{what} must be a whole number, not “{raw}”.") from None
    if not low <= value <= high:
        raise RankingOptionsError(field, f"{what} must be between {low:,} and {high:,}; {value:,} is not.")
    return value


def scope_from_query(query: Mapping[str, Any]) -> RankingScope:
    """The tracks and studies named, each checked to exist (a 4xx message names a missing one)."""
    scope = RankingScope(tracks=ids_from_query(query, "tracks"), studies=ids_from_query(query, "studies"))
    for field, model in (("tracks", Track), ("studies", Study)):
        wanted = set(getattr(scope, field))
        # An id past PostgreSQL's bigint names no row: not asked of the database, which would refuse it.
        askable = {pk for pk in wanted if pk <= MAX_ID}
        missing = sorted(wanted - set(model.objects.filter(pk__in=askable).values_list("pk", flat=True)))
        if missing:
            noun = "track" if field == "tracks" else "study"
            listed = ", ".join(map(str, missing))
            raise RankingOptionsError(
                field,
                f"No {noun} with id {listed}." if len(missing) == 1 else f"No {noun} with ids {listed}.",
                not_found=True,
            )
    return scope


def options_from_query(query: Mapping[str, Any]) -> RankingOptions:
    return RankingOptions(
        scope=scope_from_query(query),
        rounds=_int(query, "rounds", ROUNDS_DEFAULT, 1, ROUNDS_MAX, "The number of bootstrap rounds"),
        seed=_int(query, "seed", 0, 0, 2**32 - 1, "The seed"),
    )


def criterion_from_query(query: Mapping[str, Any], *, judged: Sequence[str]) -> str:
    """The criterion asked for ("all" when none): one of the criteria judged in the scope."""
    criterion = str(query.get("criterion") or ALL_CRITERIA)
    if criterion == ALL_CRITERIA:
        return criterion
    if criterion not in Criterion.values:
        raise RankingOptionsError("criterion", f"Unknown criterion “{criterion}”.")
    if criterion not in judged:
        label = Criterion(criterion).label.lower()
        message = f"Nobody judged {label} in the chosen tracks and studies."
        raise RankingOptionsError("criterion", message, not_found=True)
    return criterion


# --- reads -----------------------------------------------------------------------------------------


def scope_votes(scope: RankingScope) -> QuerySet[Judgment]:
    """The dataset's judgments of the scope, on every comparison (a pair of one method's seeds too)."""
    judgments = Judgment.objects.dataset()
    if scope.is_everything:
        return judgments
    in_studies = Answer.objects.filter(
        judgments=OuterRef("pk"), matchup__participant__study_id__in=scope.studies
    )
    return judgments.filter(Q(track_id__in=scope.tracks) | Exists(in_studies))


def scope_judgments(scope: RankingScope) -> QuerySet[Judgment]:
    """The dataset's judgments of the scope, between videos of two different methods."""
    return scope_votes(scope).exclude(comparison__video_a__method_id=F("comparison__video_b__method_id"))


def judged_criteria(scope: RankingScope) -> list[str]:
    """The criteria with judgments in the scope, in the order of ``Criterion``."""
    present = set(scope_judgments(scope).values_list("criterion", flat=True).distinct())
    return [c for c in Criterion.values if c in present]


def judged_by_criterion(scope: RankingScope) -> dict[str, Judged]:
    """The scope's judgments, read once, as the arrays annotate.rankings fits, per judged criterion."""
    rows = np.array(
        list(
            scope_judgments(scope)
            .order_by("id")
            .values_list(
                "criterion",
                "comparison__video_a__method_id",
                "comparison__video_b__method_id",
                "rater_id",
                "choice",
            )
        ),
        dtype=object,
    ).reshape(-1, 5)
    criteria = rows[:, 0]
    pairs = rows[:, 1:3].astype(np.int64)
    raters = rows[:, 3].astype(np.int64)
    outcomes = outcome_of(rows[:, 4])
    names = dict(Method.objects.filter(pk__in=np.unique(pairs).tolist()).values_list("pk", "name"))
    boards = {}
    for criterion in Criterion.values:
        these = criteria == criterion
        if not these.any():
            continue
        # Codes of this criterion's own methods: a method judged only on others is not on its board.
        method_ids, codes = np.unique(pairs[these], return_inverse=True)
        codes = codes.reshape(-1, 2)
        boards[criterion] = Judged(
            methods=tuple(names[int(pk)] for pk in method_ids),
            first=codes[:, 0],
            second=codes[:, 1],
            outcome=outcomes[these],
            rater=raters[these],
        )
    return boards


def judged(scope: RankingScope, criterion: str) -> Judged:
    """The scope's judgments of one criterion (see judged_by_criterion)."""
    return judged_by_criterion(scope)[criterion]


def outcome_of(choices: np.ndarray) -> np.ndarray:
    """Side A's outcome per judgment: 1 won, 0 lost; a tie and "both bad" are half a win each."""
    choices = np.asarray(choices, dtype=object)
    return np.where(choices == Choice.A, 1.0, np.where(choices == Choice.B, 0.0, 0.5))


# --- stored leaderboards -----------------------------------------------------------------------------


def ranking_run_get(options: RankingOptions) -> RankingRun | None:
    return RankingRun.objects.filter(key=options.key).first()


def ranking_run_start(options: RankingOptions, *, judgments: int | None = None) -> RankingRun:
    """Compute the options' leaderboard now when it is small, else queue it for a worker.

    The row is marked queued first, so that a page asking meanwhile shows the progress and the last
    finished result stays until the new one replaces it.
    """
    run, _ = RankingRun.objects.get_or_create(key=options.key, defaults={"options": options.as_json()})
    RankingRun.objects.filter(pk=run.pk).update(
        status=RankingRun.Status.QUEUED, progress=0.0, step="Waiting for a worker", error=""
    )
    if judgments is None:
        judgments = scope_judgments(options.scope).count()
    if judgments <= INLINE_JUDGMENTS:
        return ranking_run_compute(run_id=run.pk) or run

    def send() -> None:
        try:
            current_app.send_task(RANKING_TASK, args=[run.pk])
        except Exception as error:  # the broker is unreachable: say so; it can be asked again
            logger.exception("could not queue ranking run %s", run.pk)
            message = f"could not queue the computation ({error.__class__.__name__}: {error}); retry it later"
            RankingRun.objects.filter(pk=run.pk).update(status=RankingRun.Status.FAILED, error=message)

    transaction.on_commit(send)
    run.refresh_from_db()
    return run


def ranking_run_compute(*, run_id: int) -> RankingRun | None:
    """Fit every judged criterion of the run's options and store the boards; None if the run is gone."""
    run = RankingRun.objects.filter(pk=run_id).first()
    if run is None:
        return None
    stored = run.options
    options = RankingOptions(
        scope=RankingScope(tracks=tuple(stored["tracks"]), studies=tuple(stored["studies"])),
        rounds=int(stored["rounds"]),
        seed=int(stored["seed"]),
    )
    started = time.perf_counter()
    RankingRun.objects.filter(pk=run_id).update(
        status=RankingRun.Status.RUNNING, step="Reading the judgments"
    )
    judged = judged_by_criterion(options.scope)
    criteria = list(judged)
    boards: dict[str, Any] = {}
    total = 0
    try:
        for index, criterion in enumerate(criteria):
            data = judged[criterion]
            label = Criterion(criterion).label

            def progress(done: int, rounds: int, index: int = index, label: str = label) -> None:
                fraction = (index + done / rounds) / len(criteria)
                RankingRun.objects.filter(pk=run_id).update(
                    progress=fraction, step=f"{label}: bootstrap round {done:,} of {rounds:,}"
                )

            board = leaderboard(data, rounds=options.rounds, seed=options.seed, progress=progress)
            boards[criterion] = board.as_dict()
            total += len(data.first)
    except RankingError as error:
        RankingRun.objects.filter(pk=run_id).update(status=RankingRun.Status.FAILED, error=str(error))
        return RankingRun.objects.get(pk=run_id)
    RankingRun.objects.filter(pk=run_id).update(
        status=RankingRun.Status.DONE,
        progress=1.0,
        step="",
        boards=boards,
        judgments=total,
        computed_at=timezone.now(),
        seconds=round(time.perf_counter() - started, 2),
    )
    return RankingRun.objects.get(pk=run_id)


# --- checkpoint against checkpoint ---------------------------------------------------------------------


@dataclass(frozen=True)
class CheckpointRow:
    """How the new method fared against the old one on one criterion, in their head-to-head judgments."""

    criterion: str
    label: str
    wins: int
    losses: int
    ties: int
    raters: int
    rate: float  # the new method's share of wins, ties counted half
    low: float  # 95 % interval, bootstrap over raters
    high: float
    p_better: float  # one-sided: the new method is preferred more than half the time
    design_effect: float
    more_needed: int  # further judgments for an interval of ±half_width at this rate and clustering

    @property
    def n(self) -> int:
        return self.wins + self.losses + self.ties

    def as_dict(self) -> dict[str, Any]:
        return asdict(self) | {"n": self.n}


def methods_from_query(query: Mapping[str, Any]) -> tuple[Method, Method]:
    """The new and the old method of a checkpoint comparison, by id, checked."""
    picked = []
    for field in ("new", "old"):
        raw = str(query.get(field) or "").strip()
        if not raw:
            raise RankingOptionsError(field, f"Choose the {field} method.")
        if not raw.isdigit():
            raise RankingOptionsError(field, f"“{raw}” is not a method id.")
        method = Method.objects.filter(pk=int(raw)).first() if int(raw) <= MAX_ID else None
        if method is None:
            raise RankingOptionsError(field, f"No method with id {raw}.", not_found=True)
        picked.append(method)
    if picked[0].pk == picked[1].pk:
        # Well-formed, and no comparison pairs a method with itself: nothing to compare, as below.
        raise RankingOptionsError("old", "Choose two different methods.", not_found=True)
    return picked[0], picked[1]


def half_width_from_query(query: Mapping[str, Any]) -> float:
    raw = query.get("half_width")
    if raw in (None, ""):
        return HALF_WIDTH_DEFAULT
    try:
        value = float(str(raw))
    except ValueError:
        raise RankingOptionsError(
            "half_width", f"The interval half-width must be a number, not “{raw}”."
        ) from None
    if not 0 < value < 0.5:
        raise RankingOptionsError(
            "half_width", "The interval half-width must be between 0 and 0.5 (e.g. 0.05 for ±5 points)."
        )
    return value


# The planner's normal approximation needs a rate inside (0, 1): a clean sweep so far is planned as if
# the rate were this far from certain, the usual hedge (at most this many more judgments, not zero).
PLANNING_RATE_LIMIT = 0.05


def _planning_rate(rate: float) -> float:
    return min(max(rate, PLANNING_RATE_LIMIT), 1 - PLANNING_RATE_LIMIT)


def checkpoint_compare(
    *, new: Method, old: Method, scope: RankingScope, half_width: float = HALF_WIDTH_DEFAULT, seed: int = 0
) -> list[CheckpointRow]:
    """Per criterion, the judgments of comparisons of a video of ``new`` with one of ``old``."""
    pair = Q(comparison__video_a__method=new, comparison__video_b__method=old) | Q(
        comparison__video_a__method=old, comparison__video_b__method=new
    )
    rows = list(
        scope_judgments(scope)
        .filter(pair)
        .order_by("id")
        .values_list("criterion", "rater_id", "comparison__video_a__method_id", "choice")
    )
    if not rows:
        raise RankingOptionsError(
            "old",
            f"{new.name} and {old.name} share no judged case in the chosen tracks and studies: "
            "render the new method on the old one's cases and extend a track with the new pairs first.",
            not_found=True,
        )
    table = np.array(rows, dtype=object).reshape(-1, 4)
    outcome_a = outcome_of(table[:, 3])
    new_won_all = np.where(table[:, 2] == new.pk, outcome_a, 1.0 - outcome_a)
    result = []
    for criterion in Criterion.values:
        these = table[:, 0] == criterion
        if not these.any():
            continue
        raters, rater_index = np.unique(table[these, 1].astype(np.int64), return_inverse=True)
        new_won = new_won_all[these]
        wins_by_rater = np.bincount(rater_index, new_won, minlength=len(raters))
        n_by_rater = np.bincount(rater_index, minlength=len(raters)).astype(np.float64)
        rate = float(new_won.mean())
        low, high = clustered_rate_interval(wins_by_rater, n_by_rater, seed=seed)
        inflation = design_effect(wins_by_rater, n_by_rater)
        result.append(
            CheckpointRow(
                criterion=criterion,
                label=Criterion(criterion).label,
                wins=int((new_won == 1.0).sum()),
                losses=int((new_won == 0.0).sum()),
                ties=int((new_won == 0.5).sum()),
                raters=len(raters),
                rate=rate,
                low=low,
                high=high,
                p_better=one_sided_better_p(wins_by_rater, n_by_rater),
                design_effect=inflation,
                more_needed=max(
                    0, answers_needed(_planning_rate(rate), half_width, inflation) - len(new_won)
                ),
            )
        )
    return result


# --- the win-rate figure --------------------------------------------------------------------------------


def win_rate_figure(*, board: Mapping[str, Any], title: str, fmt: str) -> bytes:
    """The heatmap of how often each method (row) beat each other (column), with the judgments behind
    each cell; methods in leaderboard order. SVG, PNG (300 dpi) or PDF, byte-identical for one board."""
    if fmt not in FIGURE_FORMATS:
        raise ValueError(f"unknown figure format {fmt!r}")
    methods = board_methods(board)
    rates = np.array([[np.nan if v is None else v for v in row] for row in board["win_rate"]], dtype=float)
    counts = board["pair_counts"]
    style: dict[RcKeyType, Any] = {"font.size": 7.5, "svg.fonttype": "none", "pdf.fonttype": 42}
    with matplotlib.rc_context(style):
        side = 1.2 + 0.42 * len(methods)
        figure = Figure(figsize=(side + 1.0, side), dpi=100, layout="constrained")
        axes = figure.add_subplot()
        image = axes.imshow(np.ma.masked_invalid(rates), cmap="RdBu", vmin=0.0, vmax=1.0)
        for i in range(len(methods)):
            for j in range(len(methods)):
                if np.isnan(rates[i, j]):
                    continue
                ink = "white" if abs(rates[i, j] - 0.5) > 0.3 else "black"
                text = f"{100 * rates[i, j]:.0f}\n{counts[i][j]}"
                axes.text(j, i, text, ha="center", va="center", fontsize=6, color=ink, linespacing=0.9)
        axes.set_xticks(range(len(methods)), methods, rotation=45, ha="right")
        axes.set_yticks(range(len(methods)), methods)
        axes.set_xlabel("opponent")
        axes.set_ylabel("method (row) wins, % · judgments")
        axes.set_title(title)
        figure.colorbar(image, ax=axes, shrink=0.8, label="row's win rate")
        buffer = io.BytesIO()
        figure.savefig(buffer, format=fmt, dpi=300 if fmt == "png" else None, metadata=figure_metadata(fmt))
    return buffer.getvalue()


# --- what the page shows ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class BoardRow:
    rank_upper: int
    method: str
    score: float
    low: float
    high: float
    judgments: int


def board_rows(board: Mapping[str, Any]) -> list[BoardRow]:
    """One criterion's leaderboard as table rows, best first."""
    return [
        BoardRow(row["rank_upper"], row["method"], row["score"], row["low"], row["high"], row["judgments"])
        for row in board["methods"]
    ]


def board_methods(board: Mapping[str, Any]) -> list[str]:
    return [row["method"] for row in board["methods"]]


@dataclass(frozen=True)
class SideBySideRow:
    method: str
    cells: list[BoardRow | None]  # one per criterion; None where the method was not judged on it


def boards_side_by_side(boards: Mapping[str, Any]) -> tuple[list[str], list[SideBySideRow]]:
    """Every criterion's scores in one table: criteria labels, and methods by mean rank, then mean score."""
    criteria = [c for c in Criterion.values if c in boards]
    by_criterion = [{row.method: row for row in board_rows(boards[c])} for c in criteria]
    methods = sorted({m for rows in by_criterion for m in rows})

    def mean_rank(method: str) -> tuple[float, float, str]:
        # By mean rank (upper bound); among equal ranks, by mean score, higher first.
        cells = [rows[method] for rows in by_criterion if method in rows]
        return (
            sum(c.rank_upper for c in cells) / len(cells),
            -sum(c.score for c in cells) / len(cells),
            method,
        )

    rows = [SideBySideRow(m, [rows.get(m) for rows in by_criterion]) for m in sorted(methods, key=mean_rank)]
    return [str(Criterion(c).label) for c in criteria], rows
