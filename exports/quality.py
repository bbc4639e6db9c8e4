"""The raters table and the Dawid–Skene posteriors of an export, from annotate.quality over its judgments.

The fit reads every judgment the export read: the dataset's votes, the gold and repeat checks, and the
votes of excluded track seats (whose raters keep their row, flagged excluded, and are left out of the
crowd models). Withdrawn participants and raters excluded by the export's options were never read.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import TypeVar

import numpy as np
import pandas as pd
import pyarrow as pa

from annotate.models import GoldAnswer, Rater, TrackRaterDecision
from annotate.quality import CHOICE_ORDER, CodedJudgments, QualityFit, quality_fit
from exports import aggregate, read, tables
from lib.arrays import narrow_ids, positions, positions_or_missing, unique_values
from lib.memory import release_freed_memory

T = TypeVar("T")


@dataclass(frozen=True)
class FitInputs:
    """What ``judgments_coded`` reads from the database: the known gold answers, and the videos' lengths
    per comparison id in ms (a function: the export reads them while the fit runs, see PendingQuality)."""

    gold: dict[tuple[int, int], int]  # (comparison, criterion code) → choice code
    durations: Callable[[], pd.Series[float]]


def known_gold(votes: pa.Table) -> dict[tuple[int, int], int]:
    comparison = votes["comparison_id"].to_numpy()
    is_gold = votes["is_gold"].to_numpy(zero_copy_only=False)
    known = GoldAnswer.objects.filter(comparison_id__in=np.unique(comparison[is_gold]).tolist())
    return {
        (c, aggregate.CRITERIA.index(k)): aggregate.CHOICES.index(a)
        for c, k, a in known.values_list("comparison_id", "criterion", "answer")
        if k in aggregate.CRITERIA and a in aggregate.CHOICES
    }


def judgments_coded(votes: pa.Table, inputs: FitInputs) -> CodedJudgments:
    """annotate.quality's coded judgments straight from the export's compact columns (no frame of text
    or categoricals in between), in judgment-id (chronological) order.

    ``inputs``: the known gold answers, read beforehand in the thread that holds the database
    connection, and the videos' lengths, read when the timing figures need them."""
    ids = votes["judgment_id"].to_numpy()
    # Comparison and rater ids as int32 when they fit (they do below two billion rows): every per-vote
    # array the fit derives from them is then half as large.
    comparison = narrow_ids(votes["comparison_id"].to_numpy())
    criterion_codes = votes["criterion_code"].to_numpy()
    choice_codes = votes["choice_code"].to_numpy()
    is_gold = votes["is_gold"].to_numpy(zero_copy_only=False)
    is_repeat = votes["is_repeat"].to_numpy(zero_copy_only=False)

    gold_codes = np.full(len(ids), -1, dtype=np.int8)
    at = np.flatnonzero(is_gold)  # a few percent of the rows
    gold_codes[at] = [
        inputs.gold.get((int(c), int(k)), -1)
        for c, k in zip(comparison[at], criterion_codes[at], strict=True)
    ]

    # A repeat's original is read with it (same rater, track and criterion); unknown where it was not.
    # The rows come in judgment-id order, so the originals are found by a binary search of the repeats.
    original = votes["repeat_of"].fill_null(-1).to_numpy()
    repeats = np.flatnonzero(is_repeat)
    where = positions_or_missing(ids, original[repeats])
    found = where >= 0
    read_with = np.zeros(len(ids), dtype=bool)
    read_with[repeats[found]] = True
    answered_same = np.zeros(len(ids), dtype=bool)
    answered_same[repeats[found]] = choice_codes[where[found]] == choice_codes[repeats[found]]

    # The export's codes index aggregate.CRITERIA and CHOICES; the fit's index the criteria present,
    # sorted by name, and annotate.quality.CHOICE_ORDER.
    present = np.flatnonzero(np.bincount(criterion_codes, minlength=len(aggregate.CRITERIA)))
    criteria = sorted(aggregate.CRITERIA[c] for c in present)
    to_fit = np.full(len(aggregate.CRITERIA), -1, dtype=np.int8)
    to_fit[present] = [criteria.index(aggregate.CRITERIA[c]) for c in present]
    choice_to_fit = np.array([CHOICE_ORDER.index(c) for c in aggregate.CHOICES] + [-1], dtype=np.int8)
    left_a = votes["shown_left_a"].to_numpy(zero_copy_only=False)
    response = votes["response_ms"]

    @functools.cache
    def lengths() -> Callable[[np.ndarray], np.ndarray]:
        return lengths_lookup(inputs.durations())  # once: the first block waits for the videos' lengths

    return CodedJudgments(
        rater=narrow_ids(votes["rater_pk"].to_numpy()),
        item=comparison,
        criteria=criteria,
        criterion=to_fit[criterion_codes],
        choice=choice_to_fit[choice_codes],
        left=np.where(left_a, CHOICE_ORDER.index("A"), CHOICE_ORDER.index("B")).astype(np.int8),
        gold=choice_to_fit[gold_codes],  # -1 stays -1: the table's last entry
        is_gold=is_gold,
        is_repeat=is_repeat,
        same_known=read_with,
        same=answered_same,
        # Whole milliseconds as int32 (null unknown): the timing figures take a block of rows at a time.
        response_ms=lambda rows: (
            response.take(rows).to_numpy(zero_copy_only=False).astype(np.float64, copy=False)
        ),
        duration_ms=lambda rows: lengths()(comparison[rows]),
    )


def lengths_lookup(lengths: pd.Series[float]) -> Callable[[np.ndarray], np.ndarray]:
    """A function giving, for comparison ids, their ``lengths`` (by comparison id), NaN where not known:
    pandas' ``reindex``, asked a block of rows at a time by the fit's timing figures (at ten million rows
    one reindex held an index and an indexer of them, 160 MB, beside its result)."""
    ordered = lengths.sort_index()
    ids, values = ordered.index.to_numpy(), ordered.to_numpy(dtype=np.float64)

    def lengths_of(comparison: np.ndarray) -> np.ndarray:
        at = positions_or_missing(ids, comparison)
        found = np.flatnonzero(at >= 0)
        out = np.full(len(comparison), np.nan)
        out[found] = values[at[found]]
        return out

    return lengths_of


DURATION_SCHEMA = pa.schema([("comparison_id", pa.int64()), ("duration_ms", pa.float64())])


def durations_ms(comparisons: pa.Table, videos: pa.Table) -> pd.Series[float]:
    """The videos' length of each comparison in ms: the longer of the two, played side by side (SQL's
    GREATEST: a length not known is passed over), from the export's tables of both."""
    video_ids = videos["id"].to_numpy()
    length = videos["duration"].to_numpy(zero_copy_only=False).astype(np.float64)
    a = length[positions(video_ids, comparisons["video_a_id"].to_numpy())]
    b = length[positions(video_ids, comparisons["video_b_id"].to_numpy())]
    return pd.Series(np.fmax(a, b) * 1000, index=comparisons["comparison_id"].to_numpy())


def _durations_ms(comparison_ids: np.ndarray) -> pd.Series[float]:
    """durations_ms of comparisons outside the export's table (read for gold and repeat checks alone)."""
    sql = """
        SELECT c.id, GREATEST(va.duration, vb.duration) * 1000
        FROM annotate_comparison AS c
        JOIN unnest(%(ids)s::bigint[]) AS wanted(id) ON wanted.id = c.id
        JOIN generation_video AS va ON va.id = c.video_a_id
        JOIN generation_video AS vb ON vb.id = c.video_b_id
    """
    rows = read.copy_table(sql, {"ids": read.int_array_literal(comparison_ids)}, DURATION_SCHEMA)
    durations = rows["duration_ms"].to_numpy(zero_copy_only=False)
    return pd.Series(durations, index=rows["comparison_id"].to_numpy())


@dataclass
class PendingQuality:
    """A quality fit running on a thread (export_quality_begin). ``videos_read`` hands it the videos'
    lengths once the export has read them; ``posteriors`` and ``raters`` wait for it. ``abandon``: the
    export failed before the videos were read; the fit stops waiting for them."""

    fit: Future[QualityFit | None]
    pool: ThreadPoolExecutor  # one thread: what ``after_fit`` submits runs once the fit is done
    durations: Future[pd.Series[float]]
    judged: np.ndarray  # every comparison a judgment of the fit is on, sorted
    excluded: set[int]

    def videos_read(self, comparisons: pa.Table, videos: pa.Table) -> None:
        known = durations_ms(comparisons, videos)
        # Gold and repeat checks and an excluded seat's votes may be on comparisons with no vote of the
        # dataset: read from the database, in this thread (the snapshot's).
        others = self.judged[~np.isin(self.judged, known.index.to_numpy())]
        self.durations.set_result(pd.concat([known, _durations_ms(others)]) if len(others) else known)

    def abandon(self) -> None:
        if not self.durations.done():
            self.durations.set_exception(RuntimeError("the export stopped before its videos were read"))

    def after_fit(self, task: Callable[[], T]) -> Future[T]:
        """``task`` on the fit's thread once the fit and the tasks handed over before it are done (the
        pairs files, which read its posteriors; the leaderboard), while the caller goes on."""
        return self.pool.submit(task)

    def posteriors(
        self, comparison_ids: np.ndarray, criteria: tuple[str, ...]
    ) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """Per criterion: P(A), P(B), P(tie) of each pair (``comparison_ids``, sorted), NaN where no
        included rater voted. Once: the pairs files are their only reader, and the fit's frame of them
        (hundreds of MB at millions of pairs) is let go here."""
        fit = self.fit.result()
        post = fit.posteriors if fit is not None else pd.DataFrame(columns=["item", "criterion", *PROBAS])
        # The pairs' rows of each criterion's posteriors, and the positions of those rows in the fit's.
        of = post["criterion"]
        fitted = list(of.cat.categories) if isinstance(of.dtype, pd.CategoricalDtype) else []
        codes = of.cat.codes.to_numpy() if fitted else np.zeros(0, dtype=np.int8)
        items = post["item"].to_numpy()
        rows_of, at_of = {}, {}
        for criterion in set(criteria) & set(fitted):
            rows = np.flatnonzero(codes == fitted.index(criterion))
            at = positions_or_missing(comparison_ids, items[rows])
            rows_of[criterion], at_of[criterion] = rows[at >= 0], at[at >= 0]
        probas = {name: post[name].to_numpy(dtype=np.float64) for name in PROBAS}
        if fit is not None:
            # The fit's frame goes here, before the pairs' columns are made (only its raters are kept;
            # a slice of it would keep its arrays), and each probability once spread over the pairs.
            kept: Future[QualityFit | None] = Future()
            kept.set_result(QualityFit(raters=fit.raters, posteriors=post.head(0).copy()))
            self.fit = kept
        del fit, post, of, codes, items
        spread: dict[str, dict[str, np.ndarray]] = {c: {} for c in criteria}
        for name in PROBAS:
            values_of_fit = probas.pop(name)
            for criterion in criteria:
                values = np.full(len(comparison_ids), np.nan)
                if criterion in rows_of:
                    values[at_of[criterion]] = values_of_fit[rows_of[criterion]]
                spread[criterion][name] = values
            del values_of_fit
        return {c: (spread[c]["p_a"], spread[c]["p_b"], spread[c]["p_tie"]) for c in criteria}

    def raters(self) -> pa.Table:
        """The raters table; in the calling thread: it reads the database (in the export's snapshot)."""
        fit = self.fit.result()
        return raters_table(
            fit.raters if fit is not None else pd.DataFrame(columns=["rater"]), excluded=self.excluded
        )


PROBAS = ("p_a", "p_b", "p_tie")


def export_quality_begin(*, votes: pa.Table, pool: ThreadPoolExecutor) -> PendingQuality:
    """Read what the fit needs from the database here, then fit on a thread of ``pool``.

    The fit is numpy and scipy, which let go of the GIL in their loops: an export writes its adapters
    while the fit runs, on a second core. The database is read only in the calling thread, inside the
    export's snapshot (a thread of its own would open a connection of its own, outside it); the videos'
    lengths come last (PendingQuality.videos_read), read by then with the export's catalog.
    """
    seat_excluded = votes["seat_excluded"].to_numpy(zero_copy_only=False)
    raters_pk = votes["rater_pk"].to_numpy()
    excluded = {int(r) for r in np.unique(raters_pk[seat_excluded])}
    durations: Future[pd.Series[float]] = Future()
    inputs = FitInputs(gold=known_gold(votes), durations=durations.result)
    judged = unique_values(votes["comparison_id"].to_numpy())
    # The fit takes the table over: once coded, the columns it no longer reads are let go (a caller that
    # keeps no reference of its own frees them), not held until the fit is done.
    handed = [votes]
    del votes

    def fitted() -> QualityFit | None:
        judgments = handed.pop()
        if not judgments.num_rows:
            return None
        coded = judgments_coded(judgments, inputs)
        del judgments
        fit = quality_fit(coded, excluded=excluded)
        del coded
        # This thread's arena holds the fit's freed working set, which the export's other thread
        # cannot reuse (lib.memory).
        release_freed_memory()
        return fit

    fit = pool.submit(fitted)
    return PendingQuality(
        fit=fit,
        pool=pool,
        durations=durations,
        judged=judged,
        excluded=excluded,
    )


def _exclusion_reasons(raters: set[int]) -> dict[int, str]:
    """The latest exclusion reason of each rater's excluded seats, per track, in track order."""
    reasons: dict[int, dict[str, str]] = {}
    decisions = (
        TrackRaterDecision.objects.filter(
            seat__rater_id__in=raters, seat__excluded=True, action=TrackRaterDecision.Action.EXCLUDE
        )
        .order_by("seat__track__name", "decided_at", "id")
        .values_list("seat__rater_id", "seat__track__name", "reason")
    )
    for rater, track, reason in decisions:
        reasons.setdefault(rater, {})[track] = reason  # the latest decision of a seat wins
    return {
        r: "; ".join(f"track {t}: {why}" for t, why in by_track.items()) for r, by_track in reasons.items()
    }


RATERS_COLUMNS: list[tuple[str, pa.DataType]] = [
    ("rater_id", pa.string()),
    ("kind", pa.string()),
    ("votes", pa.int64()),
    ("gold_n", pa.int64()),
    ("gold_correct", pa.int64()),
    ("gold_accuracy", pa.float64()),
    ("gold_low", pa.float64()),
    ("gold_high", pa.float64()),
    ("repeats_n", pa.int64()),
    ("repeats_same", pa.int64()),
    ("self_consistency", pa.float64()),
    ("decisive_n", pa.int64()),
    ("left_n", pa.int64()),
    ("left_share", pa.float64()),
    ("left_p", pa.float64()),
    ("left_p_holm", pa.float64()),
    ("contradiction_votes", pa.int64()),
    ("contradiction_e", pa.float64()),
    ("ds_reliability", pa.float64()),
    ("mace_spamming", pa.float64()),
    ("median_ms", pa.float64()),
    ("speeder_share", pa.float64()),
    ("flags", pa.list_(pa.string())),
    ("review", pa.list_(pa.string())),
    ("excluded", pa.bool_()),
    ("excluded_reason", pa.string()),
]


TEXT_KINDS = (pa.string(), pa.list_(pa.string()))


def raters_table(fit: pd.DataFrame, *, excluded: set[int]) -> pa.Table:
    """One row per rater, sorted by salted id; keys and names never leave the database."""
    if fit.empty:
        return pa.schema(RATERS_COLUMNS).empty_table()
    rows = fit.copy()
    rows["rater_id"] = [read.rater_public_id(int(pk)) for pk in rows["rater"]]
    kinds = dict(Rater.objects.filter(pk__in=rows["rater"].tolist()).values_list("pk", "kind"))
    reasons = _exclusion_reasons(excluded)
    rows["kind"] = [kinds[int(pk)] for pk in rows["rater"]]
    rows["excluded_reason"] = [
        reasons.get(int(pk), "") if int(pk) in excluded else None for pk in rows["rater"]
    ]
    rows = rows.sort_values("rater_id", kind="stable")
    # Text and lists as Python objects (tables.arrow turns a float NaN into null); numbers as they are.
    return tables.table(
        [
            (name, kind, rows[name].to_numpy(dtype=object if kind in TEXT_KINDS else None))
            for name, kind in RATERS_COLUMNS
        ]
    )
