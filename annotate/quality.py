"""Rater quality: gold accuracy, self-consistency, position bias, crowd contradiction, reliability.

Pure computation over one table of judgments (no database): the track and study layers build the table,
call :func:`quality_fit` once, and show or export its two results, ``raters`` (one row per rater) and
``posteriors`` (one row per item and criterion). Formulas and thresholds: the protocols' "Rater quality".

Input columns (:data:`JUDGMENT_COLUMNS`), one row per answer, rows in the order they were given
(chronological: the crowd-contradiction test reads each rater's first votes). The text columns may be
pandas categoricals instead (the export sends codes, one byte a row); the fit reads codes either way:

- ``rater`` int; ``item`` int (the comparison of a track, the matchup of a study); ``criterion`` str;
- ``choice`` ``'A'``, ``'B'``, ``'tie'`` or ``'both_bad'`` (canonical A/B terms);
  ``shown_left`` ``'A'`` or ``'B'``;
- ``response_ms`` float (NaN when unknown); ``duration_ms`` float (the videos' length, NaN when unknown);
- ``is_gold`` bool; ``gold_answer`` str or None (the known answer of a gold row);
- ``is_repeat`` bool; ``repeat_choice_same`` bool or NA (whether a repeat got its original's answer);
- optional ``contrast_item`` int: what the crowd-contradiction test compares votes on (a method pair in a
  study); ``item`` when absent. ``A`` must name the same method in every row of one contrast item.

A rater's *votes* are their real answers: neither gold nor repeat. Gold and repeat rows feed only the gold
and self-consistency figures, position bias, timing and speeders. Excluded raters keep their row, but
their votes are left out of the Dawid–Skene and MACE fits and of the crowd others are compared with; their
own figures are computed against that included crowd.

``both_bad`` counts as a tie everywhere (Dawid–Skene, MACE, the contradiction test): for a preference label
both say "neither is preferred", FastChat's ``outlier_detect`` treats ``tie (bothbad)`` as a tie too, and a
fourth class seen on a few percent of answers would give each rater's confusion matrix a row the data
cannot estimate.

**Flags and review notes.** A flag is evidence strong enough to act on; a review note is a figure worth a
look that careful raters also reach by chance at these sizes. Calibrated by simulation
(``tests/annotate/test_quality_simulation.py``, :mod:`annotate.quality_simulation`): a track of 1,000
comparisons, 3 votes each, 10 % gold, 10 % repeats, 20 careful raters at 80 % accuracy, 2 always-Left and
2 random (about 124 votes, 15 gold and 15 repeats per rater), and a study of 30 participants, 3 careless,
40 matchups of 4 criteria; over five seeds the flags name every careless rater and no careful one.

- Position bias (flag): n ≥ 20 decisive answers, |L/n - 1/2| > 0.15 and Holm-adjusted p < 0.01.
- Crowd contradiction (flag): FastChat's e-value above 20.
- Reliability (flag): Dawid–Skene probability of a correct answer below 0.62, with ≥ 50 votes. Over ten
  seeds of the track the careful raters' lowest was 0.67 and the careless raters' highest 0.59; at 600
  comparisons (75 votes a rater) the two met near 0.61, too close to act on.
- Gold (flag): failed ≥ 2 gold answers and the 95 % Wilson upper bound of gold accuracy below 0.5.
  A stricter level on 8-15 gold answers would be a false alarm (a careful rater's upper bound went
  down to 0.69), so a failure of ≥ 2 with an upper bound below 0.8 is a review note.
- Self-consistency (review note, not a flag): below 0.6 with ≥ 5 repeats. A careful rater who answers
  right 80 % of the time gives the same answer twice only about 68 % of the time; at 8–15 repeats the
  lowest careful figure per seed was 0.25–0.5, so the protocols' "for review, not proof" is kept.
- MACE spamming (review note): above 0.8 with ≥ 50 votes (careful raters reached 0.72 and random ones
  went down to 0.76: it ranks well but does not separate alone).
- Speeders (flag): more than half of ≥ 10 timed answers faster than the videos' length.
- Nothing flags a rater below these sizes: a figure on a handful of answers is shown, not judged.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import binomtest
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.proportion import proportion_confint

from annotate import quality_em
from lib.arrays import first_within, flatnonzero_int32, unique_inverse
from lib.memory import release_freed_memory

JUDGMENT_COLUMNS: dict[str, str] = {
    "rater": "int",
    "item": "int",
    "criterion": "str",
    "choice": "'A' | 'B' | 'tie' | 'both_bad'",
    "shown_left": "'A' | 'B'",
    "response_ms": "float, NaN when unknown",
    "is_gold": "bool",
    "gold_answer": "str | None",
    "is_repeat": "bool",
    "repeat_choice_same": "bool | NA",
    "duration_ms": "float, NaN when unknown",
}
CHOICES = frozenset({"A", "B", "tie", "both_bad"})
LABELS = ("A", "B", "tie")  # the classes of the Dawid–Skene and MACE fits

RATER_COLUMNS = (
    "rater",
    "excluded",
    "votes",
    "gold_n",
    "gold_correct",
    "gold_accuracy",
    "gold_low",
    "gold_high",
    "repeats_n",
    "repeats_same",
    "self_consistency",
    "decisive_n",
    "left_n",
    "left_share",
    "left_p",
    "left_p_holm",
    "contradiction_votes",
    "contradiction_e",
    "ds_reliability",
    "mace_spamming",
    "median_ms",
    "speeder_share",
    "flags",
    "review",
)


@dataclass(frozen=True)
class Thresholds:
    position_min_n: int = 20
    position_min_deviation: float = 0.15
    position_max_p_holm: float = 0.01
    contradiction_min_votes: int = 5
    contradiction_max_votes: int = 100
    contradiction_max_e: float = 20.0  # 1 / alpha with alpha = 0.05
    reliability_min: float = 0.62
    reliability_min_votes: int = 50
    gold_min_failed: int = 2
    gold_flag_high_below: float = 0.5
    gold_review_high_below: float = 0.8
    consistency_min: float = 0.6
    consistency_min_repeats: int = 5
    spamming_review_above: float = 0.8
    spamming_min_votes: int = 50
    speeder_min_timed: int = 10
    speeder_max_share: float = 0.5


THRESHOLDS = Thresholds()


@dataclass(frozen=True)
class QualityFit:
    """One computation's results: ``raters`` (columns :data:`RATER_COLUMNS`) and ``posteriors``
    (``item``, ``criterion``, ``p_a``, ``p_b``, ``p_tie``, ``votes``: the Dawid–Skene posterior of each
    item's true answer, for the exports' ``<c>_p_a_ds`` columns)."""

    raters: pd.DataFrame
    posteriors: pd.DataFrame


def rater_quality(judgments: pd.DataFrame, *, excluded: Iterable[int] = frozenset()) -> pd.DataFrame:
    """One row per rater; see :func:`quality_fit` to get the posteriors from the same fit."""
    return quality_fit(judgments, excluded=excluded).raters


def posteriors(judgments: pd.DataFrame, *, excluded: Iterable[int] = frozenset()) -> pd.DataFrame:
    """P(A), P(B), P(tie) per item and criterion; see :func:`quality_fit` for the raters from the same fit."""
    return quality_fit(judgments, excluded=excluded).posteriors


def quality_fit(
    judgments: pd.DataFrame | CodedJudgments,
    *,
    excluded: Iterable[int] = frozenset(),
    thresholds: Thresholds = THRESHOLDS,
    mace_iterations: int = 25,
) -> QualityFit:
    """Every rater's figures and flags, and the items' posteriors, from one Dawid–Skene fit per criterion.

    Text columns may come as pandas categoricals, or the judgments already as codes (CodedJudgments):
    everything below works on integer codes, the per-rater figures are counts with ``np.bincount`` over
    each row's rater index. CodedJudgments given are used up: the fit lets go of columns as it is done
    with them."""
    df = judgments if isinstance(judgments, CodedJudgments) else CodedJudgments.from_frame(judgments)
    excluded_set = {int(r) for r in excluded}
    raters_values, df.rater_index = unique_inverse(df.rater, code_type=np.int32)  # far below 2**31 raters
    df.excluded = np.isin(df.rater, np.array(sorted(excluded_set), dtype=np.int64))
    raters = pd.Index(raters_values.astype(np.int64), name="rater")
    table = pd.DataFrame(index=raters)
    table["excluded"] = table.index.isin(excluded_set)

    real = ~df.is_gold & ~df.is_repeat
    table["votes"] = df.count(real)
    _gold(df, table)
    _repeats(df, table)
    _position(df, table)
    _contradiction(df, real, table, thresholds)
    # The only figures that read the videos' lengths (CodedJudgments.duration_ms_at): an export reads them
    # beside the steps above. Before the crowd models, which then hold no response time, and whose
    # posteriors are not held beside these figures' working arrays.
    _timing(df, table)
    gold = df.is_gold & ~df.is_repeat
    df.forget_answer_details()
    reliability, spamming, post = _models(df, real, gold, raters_values, mace_iterations)
    table["ds_reliability"] = reliability.reindex(raters)
    table["mace_spamming"] = spamming.reindex(raters)
    flags, review = _flags(table, thresholds)
    table["flags"] = flags
    table["review"] = review
    out = table.reset_index()
    return QualityFit(raters=out[list(RATER_COLUMNS)], posteriors=post)


CHOICE_ORDER = ("A", "B", "tie", "both_bad")  # choice codes; the first three are also the label codes


class CodedJudgments:
    """The judgments as numpy columns: codes for the text, one row per answer in the order given.

    ``from_frame`` reads a frame of :data:`JUDGMENT_COLUMNS`; a caller that holds codes already (the
    export's compact columns) builds it directly and saves the frame, which at ten million judgments is
    half a gigabyte: ``criterion`` indexes ``criteria`` (sorted by name), ``choice``, ``left`` and
    ``gold`` index :data:`CHOICE_ORDER` (-1: no gold answer known)."""

    rater_index: np.ndarray
    excluded: np.ndarray

    def __init__(
        self,
        *,
        rater: np.ndarray,
        item: np.ndarray,
        criteria: list[str],
        criterion: np.ndarray,
        choice: np.ndarray,
        left: np.ndarray,
        gold: np.ndarray,
        is_gold: np.ndarray,
        is_repeat: np.ndarray,
        same_known: np.ndarray,
        same: np.ndarray,
        response_ms: np.ndarray | Callable[[np.ndarray], np.ndarray],
        duration_ms: np.ndarray | Callable[[np.ndarray], np.ndarray],
        contrast: np.ndarray | None = None,
    ) -> None:
        self.rater, self.item, self.contrast = rater, item, contrast
        self.criteria, self.criterion = criteria, criterion
        self.choice = choice
        self.label = np.minimum(choice, 2)  # both_bad counts as a tie
        self.decisive = choice <= 1
        self.left, self.gold = left, gold
        self.is_gold, self.is_repeat = is_gold, is_repeat
        self.same_known, self.same = same_known, same
        self._response_ms, self._duration_ms = response_ms, duration_ms
        if (choice < 0).any():
            raise ValueError("unknown choice codes: expected A, B, tie or both_bad")

    def response_ms_at(self, rows: np.ndarray) -> np.ndarray:
        """The response time of these rows in ms, NaN when unknown. Given as an array, or as a function
        of the rows (the export's: as float64 the whole column is 80 MB at ten million judgments, and
        only the timing figures, computed a block of rows at a time, read it)."""
        source = self._response_ms
        return source(rows) if callable(source) else source[rows]

    def duration_ms_at(self, rows: np.ndarray) -> np.ndarray:
        """The videos' length of these rows in ms, NaN when unknown; an array or a function of the rows
        (the export reads the videos while the fit's first steps run)."""
        source = self._duration_ms
        return source(rows) if callable(source) else source[rows]

    @classmethod
    def from_frame(cls, judgments: pd.DataFrame) -> CodedJudgments:
        missing = [c for c in JUDGMENT_COLUMNS if c not in judgments.columns]
        if missing:
            raise ValueError(f"judgments lack the columns {', '.join(missing)}")
        choice = _text_codes(judgments["choice"], CHOICE_ORDER)
        if (choice < 0).any():
            bad = set(judgments["choice"][choice < 0].astype(object).unique()) - CHOICES
            raise ValueError(f"unknown choices {sorted(map(str, bad))}: expected A, B, tie or both_bad")
        criteria, criterion = _criterion_codes(judgments["criterion"])
        same = judgments["repeat_choice_same"]
        return cls(
            rater=judgments["rater"].to_numpy(dtype=np.int64),
            item=judgments["item"].to_numpy(dtype=np.int64),
            contrast=(
                judgments["contrast_item"].to_numpy(dtype=np.int64) if "contrast_item" in judgments else None
            ),
            criteria=criteria,
            criterion=criterion,
            choice=choice,
            left=_text_codes(judgments["shown_left"], CHOICE_ORDER),
            gold=_text_codes(judgments["gold_answer"], CHOICE_ORDER),
            is_gold=judgments["is_gold"].to_numpy(dtype=bool),
            is_repeat=judgments["is_repeat"].to_numpy(dtype=bool),
            same_known=same.notna().to_numpy(),
            same=same.fillna(False).to_numpy(dtype=bool),
            response_ms=judgments["response_ms"].to_numpy(dtype=np.float64),
            duration_ms=judgments["duration_ms"].to_numpy(dtype=np.float64),
        )

    def forget_answer_details(self) -> None:
        """Let go of the columns that only the per-answer figures read (gold, repeats, position,
        contradiction, timing), before the crowd models: at ten million judgments 150 MB beside their
        height."""
        del self.choice, self.decisive, self.left, self.is_gold, self.is_repeat
        del self.same_known, self.same, self.contrast
        del self._response_ms, self._duration_ms
        del self.rater  # the models read each rater's index into the sorted raters (rater_index)

    def count(self, where: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
        """Per rater (in sorted rater order): how many rows ``where`` holds (those also in ``weights``)."""
        if weights is not None:
            where = where & weights
        return np.bincount(self.rater_index[where], minlength=int(self.rater_index.max(initial=-1)) + 1)


def _text_codes(column: pd.Series[Any], categories: Sequence[str]) -> np.ndarray:
    """The index of each value in ``categories`` (-1 for a missing or unknown value), from text or a
    categorical (whose codes are translated, never its text per row)."""
    wanted = pd.Index(list(categories), dtype=object)
    if isinstance(column.dtype, pd.CategoricalDtype):
        own = column.cat.codes.to_numpy()
        translate = np.append(wanted.get_indexer(column.cat.categories.astype(object)), -1)
        return translate[own].astype(np.int8 if len(wanted) < 128 else np.int64)
    return wanted.get_indexer(column.astype(object)).astype(np.int8 if len(wanted) < 128 else np.int64)


def _criterion_codes(column: pd.Series[Any]) -> tuple[list[str], np.ndarray]:
    """The criteria present, sorted by name, and each row's index in them."""
    if isinstance(column.dtype, pd.CategoricalDtype):
        values = column.cat.remove_unused_categories().cat.categories
    else:
        values = column.dropna().unique()
    criteria = sorted(str(v) for v in values)
    return criteria, _text_codes(column, criteria).astype(np.int64)


def _rates(table: pd.DataFrame, size: np.ndarray, hits: np.ndarray, names: tuple[str, str, str]) -> None:
    """Per rater: how many rows, how many of them hit, and the share (NaN without rows)."""
    n = pd.Series(size, index=table.index).astype(int)
    k = pd.Series(hits, index=table.index).astype(int)
    table[names[0]] = n
    table[names[1]] = k
    table[names[2]] = (k / n.where(n > 0)).astype(float)


def _gold(df: CodedJudgments, table: pd.DataFrame) -> None:
    # A gold row without a known answer (a study's gold matchup on a question it has none for) checks
    # nothing: it counts for position bias and timing only.
    gold = df.is_gold & (df.gold >= 0)
    n = pd.Series(df.count(gold), index=table.index).astype(int)
    k = pd.Series(df.count(gold, df.choice == df.gold), index=table.index).astype(int)
    table["gold_n"] = n
    table["gold_correct"] = k
    with np.errstate(invalid="ignore", divide="ignore"):
        table["gold_accuracy"] = np.where(n > 0, k / n.where(n > 0, 1), np.nan)
    low, high = proportion_confint(k.to_numpy(), np.maximum(n.to_numpy(), 1), alpha=0.05, method="wilson")
    table["gold_low"] = np.where(n > 0, low, np.nan)
    table["gold_high"] = np.where(n > 0, high, np.nan)


def _repeats(df: CodedJudgments, table: pd.DataFrame) -> None:
    rep = df.is_repeat & df.same_known
    _rates(table, df.count(rep), df.count(rep, df.same), ("repeats_n", "repeats_same", "self_consistency"))


def _position(df: CodedJudgments, table: pd.DataFrame) -> None:
    """Left share of every decisive answer (votes, gold and repeats alike: the habit is the rater's)."""
    n, k = df.count(df.decisive), df.count(df.decisive, df.choice == df.left)
    _rates(table, n, k, ("decisive_n", "left_n", "left_share"))
    p = np.full(len(table), np.nan)
    tested = n > 0
    # One test per distinct (left, decisive) pair: raters with the same counts share their p-value.
    pairs, which = np.unique(np.column_stack([k[tested], n[tested]]), axis=0, return_inverse=True)
    tests = np.array([binomtest(int(ki), int(ni), 0.5).pvalue for ki, ni in pairs], dtype=np.float64)
    p[tested] = tests[which.reshape(-1)]
    table["left_p"] = p
    holm = np.full(len(table), np.nan)
    if tested.any():
        holm[tested] = multipletests(p[tested], method="holm")[1]
    table["left_p_holm"] = holm


# Rows a block of the raters' median response times holds about (pandas' grouping of ten million rows at
# once held 300 MB of keys, order and sorted values; a block of a million, a tenth of that).
TIMING_BLOCK_ROWS = 1 << 20


def _timing(df: CodedJudgments, table: pd.DataFrame) -> None:
    """Each rater's median response time, and how many timed answers came before the videos could have
    played through: computed a block of raters at a time (TIMING_BLOCK_ROWS)."""
    raters = len(table)  # rater codes index the table's rows (sorted rater order)
    medians = np.full(raters, np.nan)
    n = np.zeros(raters, dtype=np.int64)  # timed answers
    k = np.zeros(raters, dtype=np.int64)  # of them, faster than the videos' length
    # A block is a range of rater codes holding about TIMING_BLOCK_ROWS rows (a rater's rows are never
    # split; one rater with more rows is a block of its own).
    ends = np.cumsum(np.bincount(df.rater_index, minlength=raters))
    wanted = np.arange(TIMING_BLOCK_ROWS, len(df.rater_index), TIMING_BLOCK_ROWS)
    edges = np.unique(np.concatenate([[0], np.searchsorted(ends, wanted, side="right"), [raters]]))
    for low, high in itertools.pairwise(edges):
        at = np.flatnonzero((df.rater_index >= low) & (df.rater_index < high))
        rater = df.rater_index[at]
        response = df.response_ms_at(at)
        block = pd.Series(response).groupby(rater).median()
        medians[block.index.to_numpy()] = block.to_numpy()
        duration = df.duration_ms_at(at)
        timed = ~np.isnan(response) & ~np.isnan(duration)
        n += np.bincount(rater[timed], minlength=raters)
        k += np.bincount(rater[timed & (response < duration)], minlength=raters)
    table["median_ms"] = medians
    table["timed_n"] = pd.Series(n, index=table.index).astype(int)
    with np.errstate(invalid="ignore", divide="ignore"):
        table["speeder_share"] = np.where(n > 0, k / np.maximum(n, 1), np.nan)


# Votes a block of the contradiction test's counts holds (about 50 MB of working arrays).
CONTRADICTION_BLOCK_VOTES = 1 << 19


def _contradiction(df: CodedJudgments, real: np.ndarray, table: pd.DataFrame, th: Thresholds) -> None:
    """FastChat's ``outlier_detect`` (fastchat/serve/monitor/elo_analysis.py), vectorised.

    Follows it in: votes 1 (A), 0.5 (tie or both bad), 0 (B); the reference R holds only decisive votes
    (its "only count win and loss"); p+ = share of R ≤ v, p- = share of R ≥ v; M± = Π 1/(2p±) over a
    rater's first (at most 100) votes in the order given (its default, ``randomized=False``); a rater is
    flagged when M+ or M- passes 1/alpha = 20 after any vote, so the reported e-value is the largest of
    max(M+, M-) over those prefixes.

    Differs in: R holds the *other* included raters' decisive votes on the same item and criterion plus
    this one vote, the conformal form (FastChat's R counts the whole crowd, the rater's own votes
    included). For a decisive vote that is FastChat's figure when the rater voted the item once; for a tie
    it keeps p above 0 (FastChat would give 1/0 = ∞ when the crowd was unanimous), and with the three
    votes of a track comparison a single disagreement can never look infinite. Only votes on items with
    at least one other decisive vote are used, and a rater needs at least 5 of them (FastChat counts all
    of a rater's votes towards its 5).
    """
    contrast = df.contrast if df.contrast is not None else df.item
    # Positions as int32 (rows number far below 2**31): this test's per-vote arrays, ten million long
    # at the export's scale, are its height.
    rows = flatnonzero_int32(real & (df.criterion >= 0))
    items, item = unique_inverse(contrast[rows], code_type=np.int32)  # far fewer than 2**31 items
    criterion = df.criterion[rows]
    crowd = ~df.excluded[rows] & df.decisive[rows]
    is_a = df.choice[rows] == 0
    n_criteria = max(len(df.criteria), 1)
    # Per vote, the other included raters' decisive votes on the same (contrast item, criterion): all of
    # them (o1 + o0) and those for A (o1). Counted a block of contrast items at a time (every vote on an
    # item is in its block): ten million votes' keys and groupings at once took 1.3 GB, a block of about a
    # million votes takes a tenth.
    o1 = np.zeros(len(rows), dtype=np.int32)  # counts of votes: far below 2**31
    o0 = np.zeros(len(rows), dtype=np.int32)
    blocks = -(-len(rows) // CONTRADICTION_BLOCK_VOTES)
    for low, high in itertools.pairwise(np.linspace(0, len(items), blocks + 1).astype(np.int64)):
        at = np.flatnonzero((item >= low) & (item < high))
        key = (item[at] - low).astype(np.int64) * n_criteria + criterion[at]
        n_keys = int(high - low) * n_criteria
        decisive, for_a = crowd[at], crowd[at] & is_a[at]
        n = np.bincount(key[decisive], minlength=n_keys)[key]
        n1 = np.bincount(key[for_a], minlength=n_keys)[key]
        # The rater's own votes on it, grouped by hashing: (rater, item, criterion) keys are too sparse for
        # a table, and no order is needed.
        own, owned = pd.factorize(df.rater_index[rows[at]].astype(np.int64) * n_keys + key)
        r = np.bincount(own[decisive], minlength=len(owned))[own]
        r1 = np.bincount(own[for_a], minlength=len(owned))[own]
        o1[at] = n1 - r1
        o0[at] = n - n1 - (r - r1)
    del item, criterion, crowd, is_a
    mm = o0  # every other decisive vote: o0 + o1, summed in o0's array
    mm += o1
    del o0
    used = flatnonzero_int32(mm >= 1)
    # Each rater's first votes only: ranked within the rater by a stable sort of the rater codes, before
    # any per-vote product, so the factors below are computed for at most max_votes rows a rater.
    used = used[first_within(df.rater_index[rows[used]], th.contradiction_max_votes)]
    label = df.label[rows[used]]
    mm, o1 = (v[used].astype(np.float64) for v in (mm, o1))
    o0 = mm - o1
    le = np.where(label == 0, mm, o0)  # R ≤ v: v = 1 takes all, else the zeros
    ge = np.where(label == 1, mm, o1)  # R ≥ v: v = 0 takes all, else the ones
    frame = pd.DataFrame(
        {
            "rater": df.rater[rows[used]],
            "lp": -np.log(2.0 * (le + 1.0) / (mm + 1.0)),
            "lm": -np.log(2.0 * (ge + 1.0) / (mm + 1.0)),
        }
    )
    groups = frame.groupby("rater")
    frame = frame.assign(cp=groups["lp"].cumsum(), cm=groups["lm"].cumsum())
    best = frame.groupby("rater").agg(n=("cp", "size"), cp=("cp", "max"), cm=("cm", "max"))
    e = np.exp(np.maximum(best["cp"], best["cm"])).where(best["n"] >= th.contradiction_min_votes)
    table["contradiction_votes"] = best["n"].reindex(table.index, fill_value=0).astype(int)
    table["contradiction_e"] = e.reindex(table.index).astype(float)


def _models(
    df: CodedJudgments, real: np.ndarray, gold: np.ndarray, raters: np.ndarray, mace_iterations: int
) -> tuple[pd.Series[Any], pd.Series[Any], pd.DataFrame]:
    """Dawid–Skene and MACE per criterion over the included raters' votes, averaged over criteria.

    Gold answers join the Dawid–Skene fit as tasks whose true class is known (crowd-kit's ``true_labels``),
    keyed ``-1 - item`` so that they never meet a real item (item ids are non-negative): a few known
    answers per rater sharpen every rater's confusion matrix, and gold items are left out of the
    posteriors. MACE has no known-answer input and sees the votes only.

    Reliability is the fitted model's probability that the rater answers an item's true class,
    Σ_t prior(t) · P(answer t | true t), from the fit's priors and confusion matrices; an excluded rater's
    confusion matrix comes from Dawid–Skene's M-step against the included fit's posteriors. Both models are
    crowd-kit's, computed by :mod:`annotate.quality_em` (the same figures, a fraction of the time).
    """
    weighted_rel: list[pd.Series[Any]] = []
    weighted_spam: list[pd.Series[Any]] = []
    weights: list[pd.Series[Any]] = []
    # The posteriors' columns, a piece per criterion (POSTERIOR_COLUMNS; "criterion" as a code into
    # ``fitted``): joined a column at a time at the end (_posteriors_frame).
    post_parts: dict[str, list[np.ndarray]] = {name: [] for name in POSTERIOR_COLUMNS}
    fitted: list[str] = []
    for code, criterion in enumerate(df.criteria):
        rows = np.flatnonzero(real & (df.criterion == code))
        if not len(rows):
            continue
        # Raters as their index into ``raters`` (sorted): the same order and the same groups as their ids,
        # named by id in the figures returned.
        item, rater, label = df.item[rows], df.rater_index[rows], df.label[rows]  # label: int8 codes
        inside = ~df.excluded[rows]
        del rows
        if not inside.any():
            continue
        known = np.flatnonzero(gold & (df.criterion == code) & ~df.excluded & (df.gold >= 0))
        # The first known answer of each gold item, both bad as a tie.
        gold_items, first = np.unique(df.item[known], return_index=True)
        truth = np.minimum(df.gold[known][first], 2).astype(np.int64)
        # Codes as narrow as they go (items and raters number far below 2**31): at ten million judgments
        # every per-answer array of a criterion is tens of MB, several held at once.
        tasks, task = unique_inverse(np.concatenate([item[inside], -1 - df.item[known]]), code_type=np.int32)
        workers, worker = unique_inverse(
            np.concatenate([rater[inside], df.rater_index[known]]), code_type=np.int32
        )
        answered = np.concatenate([label[inside], df.label[known]])
        # The classes crowd-kit would see: those answered, and those a gold item is known to have.
        classes = np.unique(np.concatenate([answered, truth]))
        codes = np.full(len(LABELS), -1, dtype=np.int8)
        codes[classes] = np.arange(len(classes))
        true_labels = np.full(len(tasks), -1, dtype=np.int64)
        true_labels[np.searchsorted(tasks, -1 - gold_items)] = codes[truth]
        # Each model's working set is hundreds of MB at ten million judgments, and the export writes its
        # files beside the fit: what the last step freed goes back first, or the two heights add up.
        release_freed_memory()
        ds = quality_em.dawid_skene(
            task, worker, codes[answered], n_tasks=len(tasks), n_workers=len(workers), n_labels=len(classes),
            true_labels=true_labels, n_iter=100, tol=1e-5,
        )  # fmt: skip
        rel = _reliability(ds.errors, ds.answered, ds.priors, raters[workers])
        outside = ~inside & np.isin(item, tasks)
        if outside.any():
            others, other = np.unique(rater[outside], return_inverse=True)
            # In all three classes: an answer the fit never saw still counts in the rater's matrix.
            probas, priors = np.zeros((len(tasks), len(LABELS))), np.zeros(len(LABELS))
            probas[:, classes], priors[classes] = ds.probas, ds.priors
            errors, said = quality_em.dawid_skene_errors_against(
                np.searchsorted(tasks, item[outside]), other, label[outside], probas, n_workers=len(others)
            )
            rel = pd.concat([rel, _reliability(errors, said, priors, raters[others])])
            del probas
        real_items = np.flatnonzero(tasks >= 0)
        post_parts["item"].append(tasks[real_items])  # as narrow as the codes: int64 once joined
        post_parts["criterion"].append(np.full(len(real_items), len(fitted), dtype=np.int8))
        for label_code, name in enumerate(("p_a", "p_b", "p_tie")):
            where = np.flatnonzero(classes == label_code)
            # A class no answer and no gold item has: posterior 0.
            post_parts[name].append(
                ds.probas[real_items, where[0]] if len(where) else np.zeros(len(real_items))
            )
        votes_of_task = np.bincount(task[: int(inside.sum())], minlength=len(tasks))
        post_parts["votes"].append(votes_of_task[real_items].astype(np.int32))  # int64 once joined
        fitted.append(criterion)
        # Dawid–Skene's posteriors and codes go before MACE, whose height is the fit's.
        del ds, votes_of_task, real_items, task, worker, answered, true_labels, tasks
        release_freed_memory()
        # One run: crowd-kit 1.4 starts every restart from the same draw (its random_state is an int), so
        # further restarts repeat the first and only cost time. MACE has no convergence test; 25 rounds
        # (not its 50) halve the time of a million votes, and on a simulated track of 60,000 votes 20
        # rounds already left every spamming figure within 0.05 of the 50-round one.
        mace = quality_em.mace(
            item[inside], rater[inside], label[inside], n_iter=mace_iterations, random_state=0
        )
        spam = pd.Series(mace.spamming[:, 0], index=raters[mace.workers])
        if outside.any():
            spam = pd.concat(
                [spam, _mace_spamming_against(item[outside], raters[rater[outside]], label[outside], mace)]
            )
        used_raters, used_n = np.unique(rater[inside | outside], return_counts=True)
        used = pd.Series(used_n, index=raters[used_raters])
        weighted_rel.append(rel.reindex(used.index) * used)
        weighted_spam.append(spam.reindex(used.index) * used)
        weights.append(used)
    if not weights:
        empty = pd.Series(dtype=float)
        return empty, empty, pd.DataFrame(columns=list(POSTERIOR_COLUMNS))
    total = pd.concat(weights, axis=1).sum(axis=1)
    reliability = pd.concat(weighted_rel, axis=1).sum(axis=1, min_count=1) / total
    spamming = pd.concat(weighted_spam, axis=1).sum(axis=1, min_count=1) / total
    return reliability, spamming, _posteriors_frame(post_parts, fitted)


POSTERIOR_COLUMNS = ("item", "criterion", "p_a", "p_b", "p_tie", "votes")


def _posteriors_frame(parts: dict[str, list[np.ndarray]], criteria: list[str]) -> pd.DataFrame:
    """The posteriors' frame from its pieces, a column at a time, each piece let go once joined: at ten
    million judgments the frame is 300 MB, and joining whole frames held the pieces and the joined copy
    at once. The criterion column is categorical (a byte a row); items and vote counts, held as narrow as
    they fit while the other criteria are fitted, are int64 from here on."""
    columns: dict[str, Any] = {}
    for name in POSTERIOR_COLUMNS:
        joined = np.concatenate(parts.pop(name), dtype=np.int64 if name in ("item", "votes") else None)
        columns[name] = (
            pd.Categorical.from_codes(joined, categories=criteria) if name == "criterion" else joined
        )
    # Not copied into blocks: each column stays the array joined here.
    return pd.DataFrame(columns, copy=False)


def _label_codes(labels: pd.Series[Any]) -> np.ndarray:
    """A, B, tie as 0, 1, 2 (their index in LABELS, which is also their sorted order, as crowd-kit sorts)."""
    return pd.Categorical(labels, categories=LABELS).codes.astype(np.int64)


def _reliability(
    errors: np.ndarray, answered: np.ndarray, priors: np.ndarray, workers: np.ndarray
) -> pd.Series[Any]:
    """Σ_t prior(t) · errors[worker, t, t] over the answers t the rater gave (crowd-kit's rows)."""
    diagonal = np.diagonal(errors, axis1=1, axis2=2)
    return pd.Series(np.where(answered, diagonal, 0.0) @ priors, index=workers)


def _mace_spamming_against(
    item: np.ndarray, rater: np.ndarray, label: np.ndarray, fit: quality_em.MaceFit, iterations: int = 50
) -> pd.Series[Any]:
    """MACE's spamming probability of raters left out of the fit, by plain EM against its fixed posteriors.

    MACE's model: with probability 1 - s the rater knows and answers the true class, with probability s
    they spam and answer class l with probability θ_l. With the items' posteriors q fixed, an answer l is
    "knowing" with probability (1 - s) q_l / (s θ_l + (1 - s) q_l); s and θ are the means of the rest.
    """
    labels = list(fit.labels)
    # An answer the included raters never gave is a class with posterior 0 (it can only be spam).
    rows = pd.Index(fit.tasks).get_indexer(item)
    q = np.column_stack([np.where(rows[:, None] >= 0, fit.probas[rows], np.nan), np.zeros(len(item))])
    position = np.full(len(LABELS), len(labels))
    position[fit.labels] = np.arange(len(labels))
    answer = position[label]
    q_answer = q[np.arange(len(item)), answer]
    workers, names = pd.factorize(rater)
    spam = np.full(len(names), 0.5)
    theta = np.full((len(names), len(labels) + 1), 1.0 / (len(labels) + 1))
    for _ in range(iterations):
        s = spam[workers]
        spam_part = s * theta[workers, answer]
        knowing = (1 - s) * q_answer / np.maximum(spam_part + (1 - s) * q_answer, 1e-12)
        counts = np.bincount(workers, minlength=len(names))
        spam = 1.0 - np.bincount(workers, weights=knowing, minlength=len(names)) / counts
        theta = np.zeros_like(theta)
        np.add.at(theta, (workers, answer), 1.0 - knowing)
        theta = (theta + 0.01) / (theta + 0.01).sum(axis=1, keepdims=True)
    return pd.Series(spam, index=names)


def _flags(table: pd.DataFrame, th: Thresholds) -> tuple[list[list[str]], list[list[str]]]:
    flags: list[list[str]] = []
    review: list[list[str]] = []
    for row in table.itertuples():
        f: list[str] = []
        r: list[str] = []
        n, left = int(row.decisive_n), int(row.left_n)
        if (
            n >= th.position_min_n
            and abs(left / n - 0.5) > th.position_min_deviation
            and row.left_p_holm < th.position_max_p_holm
        ):
            side, k = ("Left", left) if left * 2 > n else ("Right", n - left)
            f.append(f"chose {side} in {k} of {n} votes")
        failed = int(row.gold_n) - int(row.gold_correct)
        if failed >= th.gold_min_failed:
            text = f"failed {failed} of {int(row.gold_n)} gold comparisons"
            if row.gold_high < th.gold_flag_high_below:
                f.append(text)
            elif row.gold_high < th.gold_review_high_below:
                r.append(text)
        if row.contradiction_e > th.contradiction_max_e:
            f.append(f"contradicts the crowd (e-value {_round(row.contradiction_e)})")
        if row.votes >= th.reliability_min_votes and row.ds_reliability < th.reliability_min:
            f.append(f"low reliability ({row.ds_reliability:.2f})")
        if int(row.timed_n) >= th.speeder_min_timed and row.speeder_share > th.speeder_max_share:
            fast = round(row.speeder_share * int(row.timed_n))
            f.append(f"answered {fast} of {int(row.timed_n)} before the videos could have played through")
        if int(row.repeats_n) >= th.consistency_min_repeats and row.self_consistency < th.consistency_min:
            changed = int(row.repeats_n) - int(row.repeats_same)
            r.append(f"answered {changed} of {int(row.repeats_n)} repeats differently")
        if row.votes >= th.spamming_min_votes and row.mace_spamming > th.spamming_review_above:
            r.append(f"answers like a spammer (MACE {row.mace_spamming:.2f})")
        flags.append(f)
        review.append(r)
    return flags, review


def _round(value: float) -> str:
    if value >= 1e6:
        return f"{value:.1e}"
    return f"{value:.0f}" if value >= 10 else f"{value:.1f}"
