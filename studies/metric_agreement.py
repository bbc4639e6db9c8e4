"""How well an automatic metric agrees with people, per human criterion.

For the criterion's metric (``generation.metrics.definitions.METRIC_FOR_CRITERION``), over the comparisons
(pairs of videos) people judged on that criterion in the chosen tracks and studies:

- **People's side**: the strict majority of the decisive votes (A against B); a tie and "both bad" count
  toward neither side. A comparison without a strict majority is *undecided*: left out, and counted.
- **The metric's side**: the video with the better value (the spec's ``better``: lower or higher).
  A comparison where a video has no computed value is *missing* and one with equal values a *metric
  tie*: both left out, and counted. Undecided is counted first, then missing, then metric ties.
- **Agreement**: the share of the remaining comparisons where the two sides pick the same video, with
  its 95 % Wilson interval (statsmodels), overall and per quantile bin of the metric's gap
  ``|value_a - value_b|`` (a metric that is right where its gap is large is worth more than its mean).
- **Order of the methods**: Kendall's τ (scipy) between the methods' Bradley–Terry scores on the same
  judgments (annotate.rankings' fit, across methods only, as the Rankings page fits them) and their mean
  metric value over the judged videos, signed so that better is larger on both sides.
- **Disagreements**: the comparisons where people and metric disagree most, by human margin
  ``|n_a - n_b| / (n_a + n_b)`` times the metric's gap.

What counts is the Rankings page's selection (``studies.rankings.scope_votes``: the dataset's judgments,
no gold or repeat check, no excluded annotator or withdrawn participant), here with pairs of one method's
seeds kept: a pair of videos is a pair whichever methods made it.

Which values: one definition per metric (``metric_source``). A metric's definition is the digest of its
name, version, model hashes and settings (generation/metrics/definitions.py); the rule picks the
definition with the most rows of that metric, ties to the one computed last, unless one is asked for.

dlib's L2 distances are not comparable with the ArcFace similarities (FaceSim-Arc/Cur) of the papers,
and the demo's cartoons test the plumbing, not identity: the page says both.
"""

from __future__ import annotations

import io
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import matplotlib
import numpy as np
import pandas as pd
from django.db.models import Count, Max, Q
from matplotlib.figure import Figure
from scipy.stats import kendalltau

from annotate.models import Choice, Comparison, Criterion, Judgment
from annotate.proportions import wilson_interval
from annotate.rankings import Judged, fit_scores
from generation.metrics.definitions import METRIC_FOR_CRITERION, METRICS, Better, MetricSpec
from generation.models import Method, VideoMetric
from studies.rankings import (
    ALL_CRITERIA,
    RankingOptionsError,
    RankingScope,
    criterion_from_query,
    scope_from_query,
    scope_votes,
)
from studies.results import FIGURE_FORMATS, figure_metadata

if TYPE_CHECKING:
    from matplotlib.typing import RcKeyType

BINS_DEFAULT = 4
BINS_MAX = 20
DISAGREEMENTS_SHOWN = 20
DIGEST = re.compile(r"^[0-9a-f]{64}$")
DLIB_METRICS = frozenset({"face_identity", "identity_consistency"})
DLIB_CAVEAT = (
    "Face identity and identity consistency are L2 distances between dlib face descriptors (lower is "
    "closer; the same person is usually below 0.6). They are not comparable with the ArcFace "
    "similarities (FaceSim-Arc, FaceSim-Cur) that papers report."
)
CARTOON_CAVEAT = (
    "The demo's videos are cartoons: its numbers test that the plumbing works, not how well a metric "
    "tells identity."
)


# --- which values ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MetricSource:
    """The definition of one metric whose values are read, and what its rows hold."""

    spec: MetricSpec
    definition: str | None  # None: no row of this metric yet
    rows: int = 0
    computed: int = 0  # rows with a value
    statuses: dict[str, int] = field(default_factory=dict)
    version: str = ""
    note: str = ""  # why there is no value, from a row without one (the most common note)

    @property
    def has_values(self) -> bool:
        return self.computed > 0

    @property
    def reason(self) -> str:
        """Why no number can be shown; empty when there are values."""
        if self.has_values:
            return ""
        if self.definition is None:
            return f"{self.spec.label} has not been computed for any video yet: run the metrics first."
        if self.statuses.get(VideoMetric.Status.UNAVAILABLE) == self.rows:
            why = f": {self.note.rstrip('.')}" if self.note else ""
            return f"{self.spec.label} is unavailable on this installation{why}."
        counted = ", ".join(
            f"{count} {VideoMetric.Status(status).label.lower()}"
            for status, count in sorted(self.statuses.items())
        )
        return f"{self.spec.label} gave no value on any of its {self.rows} videos ({counted})."


def metric_source(name: str, *, definition: str | None = None) -> MetricSource:
    """The definition of ``name`` to read: ``definition`` when given (it must have rows of this metric),
    else the one with the most rows (any status), ties to the one computed last, then by digest."""
    spec = METRICS[name]
    rows = (
        VideoMetric.objects.filter(name=name)
        .values("definition")
        .annotate(rows=Count("id"), latest=Max("computed_at"))
        .order_by("-rows", "-latest", "definition")
    )
    if definition is not None:
        if not DIGEST.match(definition):
            raise RankingOptionsError(
                "definition", f"“{definition}” is not a definition digest: give its 64 hexadecimal digits."
            )
        rows = rows.filter(definition=definition)
    chosen = rows.first()
    if chosen is None:
        if definition is not None:
            raise RankingOptionsError(
                "definition", f"No {spec.label.lower()} values under definition {definition}.", not_found=True
            )
        return MetricSource(spec=spec, definition=None)
    digest = chosen["definition"]
    of_definition = VideoMetric.objects.filter(name=name, definition=digest)
    statuses = dict(
        of_definition.values("status").annotate(n=Count("id")).order_by("status").values_list("status", "n")
    )
    first = of_definition.order_by("-computed_at", "id").values("version").first()
    note = (
        of_definition.exclude(note="")
        .values("note")
        .annotate(n=Count("id"))
        .order_by("-n", "note")
        .values_list("note", flat=True)
        .first()
    )
    return MetricSource(
        spec=spec,
        definition=digest,
        rows=int(chosen["rows"]),
        computed=int(statuses.get(VideoMetric.Status.COMPUTED, 0)),
        statuses={str(k): int(v) for k, v in statuses.items()},
        version=first["version"] if first else "",
        note=note or "",
    )


def metric_values(source: MetricSource, video_ids: Sequence[int] | np.ndarray) -> dict[int, float]:
    """The computed values of ``source`` for these videos (a video without one is not in the answer)."""
    if source.definition is None:
        return {}
    rows = VideoMetric.objects.filter(
        name=source.spec.name,
        definition=source.definition,
        status=VideoMetric.Status.COMPUTED,
        video_id__in=[int(pk) for pk in np.unique(np.asarray(video_ids, dtype=np.int64))],
    ).values_list("video_id", "value")
    return {int(pk): float(value) for pk, value in rows if value is not None}


# --- people's votes per comparison --------------------------------------------------------------------


@dataclass(frozen=True)
class Tallies:
    """One entry per judged comparison, by comparison id: its videos, their methods and the votes."""

    comparison: np.ndarray
    video_a: np.ndarray
    video_b: np.ndarray
    method_a: np.ndarray  # method names (object arrays)
    method_b: np.ndarray
    n_a: np.ndarray  # votes for A
    n_b: np.ndarray  # votes for B
    n_other: np.ndarray  # ties and "both bad": neither side

    def __len__(self) -> int:
        return len(self.comparison)


def criterion_tallies(scope: RankingScope, criterion: str) -> Tallies:
    """The scope's votes on ``criterion``, counted per comparison."""
    rows = list(
        scope_votes(scope)
        .filter(criterion=criterion)
        .values(
            "comparison_id",
            "comparison__video_a_id",
            "comparison__video_b_id",
            "comparison__video_a__method__name",
            "comparison__video_b__method__name",
        )
        .annotate(
            n_a=Count("id", filter=Q(choice=Choice.A)),
            n_b=Count("id", filter=Q(choice=Choice.B)),
            n_other=Count("id", filter=Q(choice__in=[Choice.TIE, Choice.BOTH_BAD])),
        )
        .order_by("comparison_id")
        .values_list(
            "comparison_id",
            "comparison__video_a_id",
            "comparison__video_b_id",
            "comparison__video_a__method__name",
            "comparison__video_b__method__name",
            "n_a",
            "n_b",
            "n_other",
        )
    )
    table = np.array(rows, dtype=object).reshape(-1, 8)
    return Tallies(
        comparison=table[:, 0].astype(np.int64),
        video_a=table[:, 1].astype(np.int64),
        video_b=table[:, 2].astype(np.int64),
        method_a=table[:, 3],
        method_b=table[:, 4],
        n_a=table[:, 5].astype(np.int64),
        n_b=table[:, 6].astype(np.int64),
        n_other=table[:, 7].astype(np.int64),
    )


# --- the statistics -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class GapBin:
    low: float  # the bin's gap range (quantile edges)
    high: float
    n: int
    agree: int
    share: float
    ci_low: float  # 95 % Wilson interval
    ci_high: float


@dataclass(frozen=True)
class Disagreement:
    comparison: int
    video_a: int
    video_b: int
    method_a: str
    method_b: str
    n_a: int
    n_b: int
    value_a: float
    value_b: float
    people: str  # "A" or "B": the majority's video
    metric: str  # the metric's video
    margin: float  # |n_a - n_b| / (n_a + n_b)
    gap: float  # |value_a - value_b|

    @property
    def weight(self) -> float:
        return self.margin * self.gap


@dataclass(frozen=True)
class Agreement:
    judged: int  # comparisons with a vote on the criterion
    undecided: int  # no strict majority of A against B
    missing: int  # decided, but a video has no computed value
    metric_ties: int  # decided, both values, equal
    n: int  # compared: decided, both values, unequal
    agree: int
    share: float | None
    low: float  # 95 % Wilson interval (0, 1 without comparisons)
    high: float
    bins: list[GapBin]
    disagreements: list[Disagreement]  # most striking first, at most ``shown``
    disagreeing: int  # every disagreement, shown or not


def agreement_compute(
    *,
    tallies: Tallies,
    values: Mapping[int, float],
    better: Better,
    bins: int = BINS_DEFAULT,
    shown: int = DISAGREEMENTS_SHOWN,
) -> Agreement:
    """People's majority against the metric's preference on each comparison of ``tallies``."""
    value_a = np.array([values.get(int(v), np.nan) for v in tallies.video_a], dtype=np.float64)
    value_b = np.array([values.get(int(v), np.nan) for v in tallies.video_b], dtype=np.float64)
    people = np.sign(tallies.n_a - tallies.n_b)  # +1: A, -1: B, 0: undecided
    decided = people != 0
    both = ~np.isnan(value_a) & ~np.isnan(value_b)
    with np.errstate(invalid="ignore"):
        metric = np.sign(value_a - value_b) * (1 if better == "higher" else -1)
    metric = np.where(both, metric, 0)
    used = decided & both & (metric != 0)
    agrees = used & (people == metric)
    n, agree = int(used.sum()), int(agrees.sum())
    low, high = wilson_interval(agree, n)
    gap = np.abs(value_a - value_b)
    margin = np.abs(tallies.n_a - tallies.n_b) / np.maximum(tallies.n_a + tallies.n_b, 1)

    against = np.flatnonzero(used & ~agrees)
    # Most striking first; among equals, the older comparison first, so the list is stable.
    order = against[np.lexsort((tallies.comparison[against], -(margin[against] * gap[against])))]
    side = {1: "A", -1: "B"}
    disagreements = [
        Disagreement(
            comparison=int(tallies.comparison[i]),
            video_a=int(tallies.video_a[i]),
            video_b=int(tallies.video_b[i]),
            method_a=str(tallies.method_a[i]),
            method_b=str(tallies.method_b[i]),
            n_a=int(tallies.n_a[i]),
            n_b=int(tallies.n_b[i]),
            value_a=float(value_a[i]),
            value_b=float(value_b[i]),
            people=side[int(people[i])],
            metric=side[int(metric[i])],
            margin=float(margin[i]),
            gap=float(gap[i]),
        )
        for i in order[:shown]
    ]
    return Agreement(
        judged=len(tallies),
        undecided=int((~decided).sum()),
        missing=int((decided & ~both).sum()),
        metric_ties=int((decided & both & (metric == 0)).sum()),
        n=n,
        agree=agree,
        share=agree / n if n else None,
        low=low,
        high=high,
        bins=gap_bins(gap[used], agrees[used], bins=bins),
        disagreements=disagreements,
        disagreeing=len(against),
    )


def gap_bins(gap: np.ndarray, agrees: np.ndarray, *, bins: int = BINS_DEFAULT) -> list[GapBin]:
    """Agreement per quantile bin of the gap (pandas' ``qcut``; equal edges merge, so ties in the gaps
    can leave fewer bins than asked)."""
    if not len(gap):
        return []
    if len(np.unique(gap)) == 1:
        codes, edges = np.zeros(len(gap), dtype=np.int64), np.array([gap[0], gap[0]])
    else:
        codes, edges = pd.qcut(gap, q=min(bins, len(gap)), labels=False, retbins=True, duplicates="drop")
        codes = np.asarray(codes, dtype=np.int64)
    result = []
    for k in range(len(edges) - 1):
        mine = codes == k
        n, agree = int(mine.sum()), int(agrees[mine].sum())
        if not n:
            continue
        low, high = wilson_interval(agree, n)
        result.append(GapBin(float(edges[k]), float(edges[k + 1]), n, agree, agree / n, low, high))
    return result


@dataclass(frozen=True)
class MethodOrder:
    """The methods by people (Bradley–Terry) and by the metric's mean, and Kendall's τ between them."""

    methods: list[str]  # by people's score, best first
    scores: list[float]  # Elo scale
    means: list[float]  # the metric's mean over the method's judged videos
    videos: list[int]  # videos behind each mean
    tau: float | None  # None: fewer than two methods, or one side has all equal
    p_value: float | None

    @property
    def rows(self) -> list[tuple[str, float, float, int]]:
        """(method, score, mean, videos), best first: the page's table."""
        return list(zip(self.methods, self.scores, self.means, self.videos, strict=True))


def method_order(
    *,
    scores: Mapping[str, float],
    values_by_method: Mapping[str, Sequence[float]],
    better: Better,
) -> MethodOrder:
    """Kendall's τ (tau-b) between people's scores and the methods' mean values, signed by ``better``."""
    methods = sorted((m for m in scores if len(values_by_method.get(m, ()))), key=lambda m: (-scores[m], m))
    means = [float(np.mean(values_by_method[m])) for m in methods]
    tau = p_value = None
    if len(methods) >= 2:
        sign = 1.0 if better == "higher" else -1.0
        result = kendalltau([scores[m] for m in methods], [sign * mean for mean in means])
        if not math.isnan(result.statistic):
            tau, p_value = float(result.statistic), float(result.pvalue)
    return MethodOrder(
        methods=methods,
        scores=[float(scores[m]) for m in methods],
        means=means,
        videos=[len(values_by_method[m]) for m in methods],
        tau=tau,
        p_value=p_value,
    )


def values_by_method(tallies: Tallies, values: Mapping[int, float]) -> dict[str, list[float]]:
    """Each method's values over its judged videos, each video once."""
    seen: dict[int, str] = {}
    for videos, methods in ((tallies.video_a, tallies.method_a), (tallies.video_b, tallies.method_b)):
        for video, method in zip(videos.tolist(), methods.tolist(), strict=True):
            seen[int(video)] = str(method)
    by_method: dict[str, list[float]] = {}
    for video in sorted(seen):
        if video in values:
            by_method.setdefault(seen[video], []).append(values[video])
    return by_method


def judged_of(tallies: Tallies) -> Judged | None:
    """The tallies' votes between two methods as annotate.rankings' input, one row per vote (the Rankings
    page's ``judged``, rebuilt from the counts: no second read of the votes); None without any."""
    across = tallies.method_a != tallies.method_b
    if not across.any():
        return None
    methods, codes = np.unique(
        np.concatenate([tallies.method_a[across], tallies.method_b[across]]).astype(str), return_inverse=True
    )
    first, second = codes[: across.sum()], codes[across.sum() :]
    counts = [tallies.n_a[across], tallies.n_b[across], tallies.n_other[across]]
    # Side A's outcome: a win, a loss, and a tie or "both bad" as half a win to each side.
    outcome = np.concatenate(
        [np.full(int(n.sum()), value) for n, value in zip(counts, (1.0, 0.0, 0.5), strict=True)]
    )
    return Judged(
        methods=tuple(str(m) for m in methods),
        first=np.concatenate([np.repeat(first, n) for n in counts]),
        second=np.concatenate([np.repeat(second, n) for n in counts]),
        outcome=outcome,
        rater=np.zeros(len(outcome), dtype=np.int64),  # the fit pools raters; only intervals need them
    )


def bt_scores(data: Judged | None) -> dict[str, float]:
    """annotate.rankings' Bradley–Terry fit as method → score; empty without judgments across methods."""
    if data is None or not len(data.first):
        return {}
    return dict(zip(data.methods, (float(s) for s in fit_scores(data)), strict=True))


# --- one criterion, as the page and the API show it -----------------------------------------------------


@dataclass(frozen=True)
class CriterionAgreement:
    criterion: str
    label: str
    source: MetricSource | None  # None: no metric stands in for this criterion
    agreement: Agreement | None  # None: no number to show (``reason`` says why)
    order: MethodOrder | None
    reason: str = ""

    @property
    def spec(self) -> MetricSpec | None:
        return self.source.spec if self.source else None

    @property
    def uses_dlib(self) -> bool:
        return self.source is not None and self.source.spec.name in DLIB_METRICS


def metric_for(criterion: str) -> MetricSpec | None:
    name = METRIC_FOR_CRITERION.get(criterion)
    return METRICS[name] if name else None


def criterion_agreement(
    *,
    scope: RankingScope,
    criterion: str,
    definition: str | None = None,
    bins: int = BINS_DEFAULT,
) -> CriterionAgreement:
    """The agreement of ``criterion``'s metric with people in ``scope``."""
    label = str(Criterion(criterion).label)
    spec = metric_for(criterion)
    if spec is None:
        if definition is not None:
            raise RankingOptionsError("definition", f"No automatic metric stands in for {label.lower()}.")
        reason = f"No automatic metric stands in for {label.lower()}: only people judge it here."
        return CriterionAgreement(criterion, label, None, None, None, reason)
    source = metric_source(spec.name, definition=definition)
    if not source.has_values:
        return CriterionAgreement(criterion, label, source, None, None, source.reason)
    tallies = criterion_tallies(scope, criterion)
    values = metric_values(source, np.concatenate([tallies.video_a, tallies.video_b]))
    agreement = agreement_compute(tallies=tallies, values=values, better=spec.better, bins=bins)
    order = method_order(
        scores=bt_scores(judged_of(tallies)),
        values_by_method=values_by_method(tallies, values),
        better=spec.better,
    )
    return CriterionAgreement(criterion, label, source, agreement, order)


def agreement_summary(*, scope: RankingScope, criteria: Sequence[str]) -> list[CriterionAgreement]:
    """Every given criterion that has a metric, in the order given."""
    return [criterion_agreement(scope=scope, criterion=c) for c in criteria if metric_for(c)]


def bins_from_query(query: Mapping[str, Any]) -> int:
    raw = query.get("bins")
    if raw in (None, ""):
        return BINS_DEFAULT
    text = str(raw).strip()
    if not text.isdigit() or not 1 <= int(text) <= BINS_MAX:
        raise RankingOptionsError(
            "bins", f"The number of gap bins must be a whole number from 1 to {BINS_MAX}."
        )
    return int(text)


def definition_from_query(query: Mapping[str, Any]) -> str | None:
    raw = str(query.get("definition") or "").strip().lower()
    return raw or None


@dataclass(frozen=True)
class AgreementQuery:
    """What the page, its figure and the API were asked, checked."""

    scope: RankingScope
    judged: list[str]  # the criteria with votes in the scope
    criterion: str  # one of them, or "all"
    definition: str | None
    bins: int


def agreement_query(query: Mapping[str, Any]) -> AgreementQuery:
    """The options of a query string; a bad one raises RankingOptionsError naming it."""
    scope = scope_from_query(query)
    judged = voted_criteria(scope)
    criterion = criterion_from_query(query, judged=judged)
    definition = definition_from_query(query)
    if criterion == ALL_CRITERIA and definition is not None:
        raise RankingOptionsError("definition", "A definition belongs to one metric: choose a criterion.")
    return AgreementQuery(scope, judged, criterion, definition, bins_from_query(query))


def as_dict(result: CriterionAgreement) -> dict[str, Any]:
    """JSON-ready (the API's answer and the export's figures read it)."""
    source = result.source
    data: dict[str, Any] = {
        "criterion": result.criterion,
        "metric": None,
        "available": result.agreement is not None,
        "reason": result.reason,
        "agreement": None,
        "method_order": None,
    }
    if source is not None:
        data["metric"] = {
            "name": source.spec.name,
            "display_name": source.spec.label,
            "unit": source.spec.unit,
            "better": source.spec.better,
            "version": source.version,
            "definition": source.definition,
            "rows": source.rows,
            "computed": source.computed,
            "statuses": source.statuses,
        }
    agreement = result.agreement
    if agreement is not None:
        data["agreement"] = {
            name: getattr(agreement, name)
            for name in (
                "judged",
                "undecided",
                "missing",
                "metric_ties",
                "n",
                "agree",
                "share",
                "low",
                "high",
            )
        } | {
            "bins": [vars(b) for b in agreement.bins],
            "disagreeing": agreement.disagreeing,
            "disagreements": [vars(d) | {"weight": d.weight} for d in agreement.disagreements],
        }
    if result.order is not None:
        order = result.order
        data["method_order"] = {
            "tau": order.tau,
            "p_value": order.p_value,
            "methods": [
                {"method": m, "score": s, "mean": mean, "videos": v}
                for m, s, mean, v in zip(order.methods, order.scores, order.means, order.videos, strict=True)
            ],
        }
    return data


# --- what the pages read besides ----------------------------------------------------------------------


def voted_criteria(scope: RankingScope) -> list[str]:
    """The criteria with votes in the scope (pairs of one method's seeds too), in ``Criterion`` order."""
    present = set(scope_votes(scope).values_list("criterion", flat=True).distinct())
    return [c for c in Criterion.values if c in present]


def made_procedurally(methods: Iterable[str]) -> bool:
    """Whether any of these methods draws the demo's cartoons (the page then says what they test)."""
    return Method.objects.filter(name__in=list(methods), backend=Method.Backend.PROCEDURAL).exists()


@dataclass(frozen=True)
class CriterionVotes:
    criterion: str
    label: str
    counts: dict[str, int]  # choice → votes


@dataclass(frozen=True)
class MetricPair:
    spec: MetricSpec
    a: VideoMetric | None  # the row of the chosen definition, any status
    b: VideoMetric | None

    @property
    def preferred(self) -> str:
        """The video the metric prefers: A, B, or empty (a value missing, or equal values)."""
        if not (self.a and self.b) or self.a.value is None or self.b.value is None:
            return ""
        if self.a.value == self.b.value:
            return ""
        a_higher = self.a.value > self.b.value
        return "A" if a_higher == (self.spec.better == "higher") else "B"


@dataclass(frozen=True)
class ComparisonDetail:
    comparison: Comparison
    votes: list[CriterionVotes]  # the dataset's votes of every track and study
    metrics: list[MetricPair]


def comparison_detail(*, comparison_id: int) -> ComparisonDetail | None:
    """One comparison: its videos and methods, people's votes per criterion, and both videos' metrics."""
    comparison = (
        Comparison.objects.select_related("video_a__method", "video_b__method", "identity", "prompt")
        .filter(pk=comparison_id)
        .first()
    )
    if comparison is None:
        return None
    counted = (
        Judgment.objects.dataset()
        .filter(comparison=comparison)
        .values("criterion", "choice")
        .annotate(n=Count("id"))
        .values_list("criterion", "choice", "n")
    )
    by_criterion: dict[str, dict[str, int]] = {}
    for criterion, choice, n in counted:
        by_criterion.setdefault(criterion, {str(c): 0 for c in Choice.values})[choice] = n
    votes = [
        CriterionVotes(c, str(Criterion(c).label), by_criterion[c])
        for c in Criterion.values
        if c in by_criterion
    ]
    pairs = []
    for name, spec in METRICS.items():
        source = metric_source(name)
        rows = {
            row.video_id: row
            for row in VideoMetric.objects.filter(
                name=name,
                definition=source.definition or "",
                video_id__in=[comparison.video_a_id, comparison.video_b_id],
            )
        }
        pairs.append(MetricPair(spec, rows.get(comparison.video_a_id), rows.get(comparison.video_b_id)))
    return ComparisonDetail(comparison, votes, pairs)


# --- the figure ---------------------------------------------------------------------------------------------


def agreement_figure(result: CriterionAgreement, *, fmt: str) -> bytes:
    """Agreement per gap bin with 95 % Wilson whiskers, the comparisons behind each bar, chance (50 %)
    and the overall share. SVG, PNG (300 dpi) or PDF, byte-identical for one result."""
    if fmt not in FIGURE_FORMATS:
        raise ValueError(f"unknown figure format {fmt!r}")
    agreement, spec = result.agreement, result.spec
    if agreement is None or spec is None:
        raise ValueError("no agreement to draw")
    style: dict[RcKeyType, Any] = {
        "font.size": 8,
        "svg.fonttype": "none",
        # A fixed salt: the ids of the SVG's clip paths (random otherwise) then repeat, byte for byte.
        "svg.hashsalt": "metric-agreement",
        "pdf.fonttype": 42,
        "axes.spines.top": False,
        "axes.spines.right": False,
    }
    with matplotlib.rc_context(style):
        figure = Figure(
            figsize=(max(3.4, 0.9 * len(agreement.bins) + 1.2), 2.6), dpi=100, layout="constrained"
        )
        axes = figure.add_subplot()
        xs = list(range(len(agreement.bins)))
        shares = [100 * b.share for b in agreement.bins]
        below = [100 * (b.share - b.ci_low) for b in agreement.bins]
        above = [100 * (b.ci_high - b.share) for b in agreement.bins]
        axes.bar(
            xs,
            shares,
            width=0.7,
            color="#0072B2",
            yerr=[below, above],
            error_kw={"elinewidth": 0.7, "capsize": 2, "capthick": 0.7, "ecolor": "#222222"},
            zorder=2,
        )
        axes.axhline(50, color="#555555", linewidth=0.6, linestyle=(0, (4, 3)), zorder=1)
        if agreement.share is not None:
            axes.axhline(100 * agreement.share, color="#D55E00", linewidth=0.8, zorder=1)
        axes.set_ylim(0, 100)
        axes.set_ylabel("agrees with people (%)")
        # The comparisons behind each bar under its range: a bar of 0 % has no room for them.
        axes.set_xticks(xs, [f"{b.low:.3g}–{b.high:.3g}\nn = {b.n}" for b in agreement.bins])
        axes.set_xlabel(f"{spec.label} gap |a - b| ({spec.unit}), quantile bins")
        axes.set_title(f"{result.label}: {spec.label} against people", fontsize=8)
        buffer = io.BytesIO()
        figure.savefig(buffer, format=fmt, dpi=300 if fmt == "png" else None, metadata=figure_metadata(fmt))
    return buffer.getvalue()
