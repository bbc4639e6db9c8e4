"""The judgments of an export read in judgment-id ranges: ``data/votes.parquet`` written range by range,
and only compact columns kept for the rest of the export.

Read whole, ten million judgments with their text columns would be gigabytes held several times over.
Here each range is read (read.votes_read), turned into its rows of the votes file (tables.votes_table) and
dropped; what the quality fit, the counts and the adapters need stays behind as numbers: ids, codes as
int8, flags, response time as int32. The file's row groups are cut at the same rows as a write in one go
(write.ROW_GROUP_SIZE), so its bytes are the same.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa

from exports import read, tables, trainers, write
from exports.options import ExportOptions
from lib import arrays
from lib.memory import release_freed_memory

# Judgment ids per range: two row groups' worth (a range holds at most this many judgments). Larger
# ranges hold more at once and are not faster: at a million judgments, four groups a range peaked 90 MB
# higher.
RANGE_IDS = 2 * write.ROW_GROUP_SIZE

# The compact columns every later step reads: (name, numpy type, whether -1 stands for null).
COMPACT = [
    ("judgment_id", np.int64, False),
    ("comparison_id", np.int64, False),
    ("rater_pk", np.int64, False),
    ("criterion_code", np.int8, False),
    ("choice_code", np.int8, False),
    ("shown_left_a", np.bool_, False),
    ("response_ms", np.int32, True),
    ("is_gold", np.bool_, False),
    ("is_repeat", np.bool_, False),
    ("repeat_of", np.int64, True),
    ("seat_excluded", np.bool_, False),
]
# Schema 2 adds each judgment's CONDITIONING code (trainers.VOTE_CONDITIONING, a byte), which its
# adapters read. A judgment's track and study ids are needed only as the manifest's sources: the ids seen
# are kept (Streamed), not two int32 per judgment (80 MB at ten million).

# The dataset's votes keep fewer: counts, raters, the leaderboard's and the adapters' columns. Their
# comparison and rater ids are int32 when they fit (lib.arrays.narrow_ids), int64 when they do not.
VOTE_COLUMNS = ["comparison_id", "rater_pk", "criterion_code", "choice_code", trainers.VOTE_CONDITIONING]
NARROWED = ("comparison_id", "rater_pk")


@dataclass(frozen=True)
class Streamed:
    judgments: pa.Table  # every judgment read (COMPACT columns): votes, quality checks, excluded seats
    votes: pa.Table  # the dataset's votes (VOTE_COLUMNS; the conditioning code in schema 2 alone)
    track_ids: list[int]  # the tracks and studies of the dataset's votes, sorted
    study_ids: list[int]
    newest_us: int | None  # created_at of the newest dataset vote, microseconds since the epoch
    gold: int  # quality checks among the written rows
    repeat: int


def votes_stream(*, options: ExportOptions, excluded_raters: set[int], path: Path) -> Streamed:
    """Write ``path`` (data/votes.parquet) from the selected judgments, range by range; compact columns."""
    query = read.votes_query(options=options, excluded_raters=excluded_raters)
    parts: dict[str, list[np.ndarray]] = {name: [] for name, _, _ in COMPACT}
    conditioning_parts: list[np.ndarray] = []
    sources: dict[str, set[int]] = {"track_id": set(), "study_id": set()}
    newest: int | None = None
    gold = repeat = 0
    with write.RowGroupWriter(path) as writer:
        for judgments in read.votes_read_ranges(query=query, id_ranges=read.judgment_id_ranges(RANGE_IDS)):
            # An excluded seat's judgments count nowhere, not even in the votes file.
            kept = ~_numpy(judgments["seat_excluded"])
            written = judgments.filter(pa.array(kept))
            rows = tables.votes_table(written)
            if options.schema == 2:
                conditioning = trainers.vote_conditioning(judgments)
                rows = trainers.votes_with_conditioning(rows, conditioning[kept])
                conditioning_parts.append(conditioning)
            writer.write(rows)
            gold += int(_numpy(written["is_gold"]).sum())
            repeat += int(_numpy(written["is_repeat"]).sum())
            in_dataset = read.dataset_mask(judgments)
            if in_dataset.any():
                latest = int(judgments["created_us"].to_numpy()[in_dataset].max())
                newest = latest if newest is None else max(newest, latest)
                for name, seen in sources.items():
                    ids = _numpy(judgments[name].fill_null(-1))[in_dataset]
                    seen.update(int(i) for i in np.unique(ids[ids >= 0]))
            for name, kind, nullable in COMPACT:
                values = judgments[name]
                parts[name].append(
                    _numpy(values.fill_null(-1) if nullable else values).astype(kind, copy=False)
                )
            del judgments, written, rows
            # Arrow's allocator keeps freed pages for reuse; handed back, the next range starts lower.
            pa.default_memory_pool().release_unused()
    columns: dict[str, pa.Array] = {}
    for name, _, nullable in COMPACT:
        values = np.concatenate(parts.pop(name))
        columns[name] = pa.array(values, mask=values < 0) if nullable else pa.array(values)
    if options.schema == 2:
        codes = np.concatenate(conditioning_parts) if conditioning_parts else np.zeros(0, np.int8)
        columns[trainers.VOTE_CONDITIONING] = pa.array(codes)
        del conditioning_parts, codes
    compact = pa.table(columns)
    kept_columns = [name for name in VOTE_COLUMNS if name in columns]
    votes = compact.select(kept_columns).filter(pa.array(read.dataset_mask(compact)))
    for name in NARROWED:  # the dataset's votes are held to the end of the export
        narrowed = arrays.narrow_ids(_numpy(votes[name]))
        votes = votes.set_column(votes.schema.get_field_index(name), name, pa.array(narrowed))
    release_freed_memory()  # the ranges' pieces, before the quality fit and the catalog take their place
    return Streamed(
        judgments=compact,
        votes=votes,
        track_ids=sorted(sources["track_id"]),
        study_ids=sorted(sources["study_id"]),
        newest_us=newest,
        gold=gold,
        repeat=repeat,
    )


def _numpy(values: pa.ChunkedArray) -> np.ndarray:
    array: np.ndarray = values.to_numpy(zero_copy_only=False)
    return array
