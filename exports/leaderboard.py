"""The snapshot's leaderboard (schema 2): ``data/leaderboard.parquet``, one row per criterion and method.

Fitted on the exported judgments alone, from the export's own tables (no second read of the database):
each vote's comparison gives its two videos, each video its method. The fit and its intervals are
annotate.rankings' (a Bradley–Terry fit on the Elo scale, a bootstrap that resamples raters), seeded: the
same snapshot gives the same bytes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from annotate.rankings import Judged, Leaderboard, RankingError, leaderboard
from exports import aggregate, write
from lib.arrays import positions, unique_counts, unique_inverse
from lib.memory import release_freed_memory

PATH = "data/leaderboard.parquet"
ROUNDS = 1000
SEED = 0
RESAMPLE = "rater"
# Choice codes (aggregate.CHOICES: A, B, tie, both_bad) to the outcome for video A: a tie or a both-bad
# answer prefers neither video and counts half a win to each side, as in the pairs' p_a.
_OUTCOMES = np.array([0.0, 0.5, 1.0])  # for video A: lost, half a win, won
_OUTCOME_CODE_OF_CHOICE = np.array([2, 0, 1, 1], dtype=np.int8)  # index into _OUTCOMES
SCHEMA = pa.schema(
    [
        ("criterion", pa.string()),
        ("position", pa.int32()),
        ("method", pa.string()),
        ("score", pa.float64()),
        ("low", pa.float64()),
        ("high", pa.float64()),
        ("rank_upper", pa.int32()),
        ("judgments", pa.int64()),
    ]
)


def judged_of(*, votes: pa.Table, comparisons: pa.Table, videos: pa.Table, criterion: str) -> Judged | None:
    """The judgments of one criterion as rankings' input, each kind once with its count; None without any.

    A kind is a rater's judgments on the same ordered pair of methods with the same outcome: rankings
    gives the same leaderboard to the bit (annotate.rankings.Judged), and a few thousand kinds stand for
    millions of votes, which its fit, bootstrap and fragility held several times over (half a gigabyte at
    ten million votes).
    """
    code = aggregate.CRITERIA.index(criterion)
    mine = votes["criterion_code"].to_numpy() == code
    if not mine.any():
        return None
    # Methods as codes of their sorted names: ten million votes never become Python strings.
    names, method_of_video = method_codes(videos)
    methods = len(names)
    # comparisons and videos come sorted by id (exports.read). Each comparison's ordered pair of methods as
    # one code, -1 for two videos of one method (seeds apart), which say nothing about how methods rank:
    # two million lookups, then one per vote, in 32 bits (a handful of methods).
    video_ids = videos["id"].to_numpy()
    first_of = method_of_video[positions(video_ids, comparisons["video_a_id"].to_numpy())]
    second_of = method_of_video[positions(video_ids, comparisons["video_b_id"].to_numpy())]
    pair_of = np.where(first_of != second_of, first_of * methods + second_of, -1).astype(np.int32)
    del first_of, second_of
    at = positions(
        comparisons["comparison_id"].to_numpy(), votes["comparison_id"].to_numpy()[mine], code_type=np.int32
    )
    pair = pair_of[at]
    del at
    across = pair >= 0
    if not across.any():
        return None
    pair = pair[across]
    mine[mine] = across  # the votes used, as a mask of all votes
    # Only the methods judged here, numbered in name order (what np.unique of the names would give).
    present = np.zeros(methods, dtype=bool)
    present[pair // methods] = True
    present[pair % methods] = True
    renumber = (np.cumsum(present) - 1).astype(np.int32)
    n = int(present.sum())
    # Each vote's kind, (rater, first, second, outcome) as one number, built in one array.
    raters, kind = unique_inverse(votes["rater_pk"].to_numpy()[mine])
    kind *= n
    kind += renumber[pair // methods]
    kind *= n
    kind += renumber[pair % methods]
    del pair
    kind *= len(_OUTCOMES)
    kind += _OUTCOME_CODE_OF_CHOICE[votes["choice_code"].to_numpy()[mine]]
    del mine
    kinds, count = unique_counts(kind)
    del kind
    kinds, outcome_code = np.divmod(kinds, len(_OUTCOMES))
    kinds, second_code = np.divmod(kinds, n)
    rater_code, first_code = np.divmod(kinds, n)
    return Judged(
        methods=tuple(str(m) for m in names[present]),
        first=first_code,
        second=second_code,
        outcome=_OUTCOMES[outcome_code],
        rater=raters[rater_code],
        count=count,
    )


def method_codes(videos: pa.Table) -> tuple[np.ndarray, np.ndarray]:
    """The distinct method names, sorted, and each video's index in them."""
    encoded = pc.dictionary_encode(videos["method"]).combine_chunks()
    names = np.asarray(encoded.dictionary.to_pylist(), dtype=object)
    order = np.argsort(names.astype(str), kind="stable")
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order))
    return names[order], rank[encoded.indices.to_numpy(zero_copy_only=False).astype(np.int64)]


def leaderboard_write(
    *, work: Path, votes: pa.Table, comparisons: pa.Table, videos: pa.Table, criteria: tuple[str, ...]
) -> dict[str, Any]:
    """Write data/leaderboard.parquet; return the manifest's ``leaderboard`` entry."""
    boards: dict[str, Leaderboard] = {}
    skipped: dict[str, str] = {}
    for criterion in criteria:
        # On the quality fit's thread beside the adapters: what the pairs files or the last criterion
        # freed goes back first (lib.memory).
        release_freed_memory()
        data = judged_of(votes=votes, comparisons=comparisons, videos=videos, criterion=criterion)
        if data is None:
            continue
        try:
            boards[criterion] = leaderboard(data, rounds=ROUNDS, seed=SEED, resample=RESAMPLE)
        except RankingError as error:  # bad input the export cannot fix: said in the manifest and card
            skipped[criterion] = str(error)
    write.write_parquet(_table(boards), work / PATH)
    return {
        "file": PATH,
        "fit": "Bradley-Terry (annotate.rankings.fit_scores)",
        "scale": "Elo: 1000 + 400 log10(strength), mean 1000",
        "interval": "95 % bootstrap percentile interval",
        "rank_upper": "1 + the number of methods whose low is above this one's high",
        "rounds": ROUNDS,
        "seed": SEED,
        "resample": RESAMPLE,
        "tie_rule": "half: a tie or both-bad answer is half a win to each side",
        "votes": "the snapshot's votes (no gold or repeat check, no excluded rater) between two methods",
        "criteria": {
            criterion: {
                "top": [
                    {
                        "method": m,
                        "score": round(float(s), 1),
                        "low": round(float(lo), 1),
                        "high": round(float(hi), 1),
                    }
                    for m, s, lo, hi in zip(board.methods, board.score, board.low, board.high, strict=True)
                ][:3],
                "judgments": board.total,
                "raters": board.raters,
                "fragility": None
                if board.fragility is None
                else {
                    "removals": board.fragility.removals,
                    "leader": board.fragility.leader,
                    "runner_up": board.fragility.runner_up,
                },
            }
            for criterion, board in boards.items()
        },
        "skipped": skipped,
    }


def _table(boards: dict[str, Leaderboard]) -> pa.Table:
    columns: dict[str, list[Any]] = {name: [] for name in SCHEMA.names}
    for criterion, board in boards.items():
        count = len(board.methods)
        columns["criterion"] += [criterion] * count
        columns["position"] += list(range(1, count + 1))
        columns["method"] += list(board.methods)
        for name in ("score", "low", "high", "rank_upper", "judgments"):
            columns[name] += np.asarray(getattr(board, name)).tolist()
    return pa.table(columns, schema=SCHEMA)
