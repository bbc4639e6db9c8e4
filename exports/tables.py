"""The snapshot's tables, assembled column by column in Arrow (no pandas objects on the hot path)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from exports import aggregate, read
from exports.options import SPLITS
from lib import arrays

Column = tuple[str, pa.DataType, Any]


def arrow(values: Any, kind: pa.DataType) -> pa.Array | pa.ChunkedArray:
    """``values`` as an Arrow array of ``kind``; NaN becomes null."""
    if isinstance(values, pa.Array | pa.ChunkedArray):
        return values if values.type == kind else values.cast(kind)
    if isinstance(values, pd.Series):
        values = values.to_numpy(dtype=object if kind in (pa.string(), pa.bool_()) else None)
    return pa.array(values, type=kind, from_pandas=True)


def table(columns: list[Column]) -> pa.Table:
    schema = pa.schema([(name, kind) for name, kind, _ in columns])
    arrays = [arrow(values, kind) for _, kind, values in columns]
    chunked = [a if isinstance(a, pa.ChunkedArray) else pa.chunked_array([a], type=a.type) for a in arrays]
    return pa.Table.from_arrays(chunked, schema=schema)


def positions(sorted_ids: np.ndarray, wanted: np.ndarray) -> pa.Array:
    """Where each of ``wanted`` sits in ``sorted_ids`` (every one is there: the foreign keys say so)."""
    return pa.array(arrays.positions(sorted_ids, wanted), type=pa.int64())


def media_paths(rows: pa.Table) -> pa.Array:
    """``media/<sha256><suffix>``: where the file is (or would be, with ``--media none``) in the snapshot."""
    return _media_path(rows["sha256"], _suffixes(rows["file"]))


def _suffixes(files: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    suffix = pc.struct_field(pc.extract_regex(files, r"(?P<suffix>\.[A-Za-z0-9]+)$"), "suffix")
    return pc.fill_null(pc.utf8_lower(suffix), "")


def _media_path(sha256: pa.Array | pa.ChunkedArray, suffix: pa.Array | pa.ChunkedArray) -> pa.Array:
    return pc.binary_join_element_wise("media/", sha256, suffix, "")


@dataclass(frozen=True)
class MediaPaths:
    """The videos' ``media_paths``, made for the videos asked (``take``) from their hashes and their
    files' suffixes (dictionary-encoded: a few kinds of file): a million paths held whole were 75 MB
    beside the hashes they repeat."""

    sha256: pa.Array
    suffix: pa.DictionaryArray

    @classmethod
    def of(cls, videos: pa.Table) -> MediaPaths:
        suffix = pc.dictionary_encode(_suffixes(videos["file"]))
        return cls(single(videos["sha256"]), single(suffix))

    def take(self, indices: pa.Array) -> pa.Array:
        return _media_path(self.sha256.take(indices), self.suffix.take(indices).cast(pa.string()))


# --- votes --------------------------------------------------------------------------------------


def votes_table(votes: pa.Table) -> pa.Table:
    raters, codes = np.unique(votes["rater_pk"].to_numpy(), return_inverse=True)
    public = pa.array([read.rater_public_id(int(pk)) for pk in raters], type=pa.string())
    names = pa.array(aggregate.CRITERIA, type=pa.string())
    choices = pa.array(aggregate.CHOICES, type=pa.string())
    return table(
        [
            ("judgment_id", pa.int64(), votes["judgment_id"]),
            ("comparison_id", pa.int64(), votes["comparison_id"]),
            ("rater_id", pa.string(), public.take(pa.array(codes, type=pa.int64()))),
            ("source", pa.string(), pc.if_else(pc.is_valid(votes["track_id"]), "track", "study")),
            ("source_id", pa.int64(), pc.coalesce(votes["track_id"], votes["study_id"])),
            ("criterion", pa.string(), names.take(votes["criterion_code"])),
            ("choice", pa.string(), choices.take(votes["choice_code"])),
            ("shown_left", pa.string(), pc.if_else(votes["shown_left_a"], "A", "B")),
            ("created_at", pa.timestamp("us", tz="UTC"), votes["created_us"]),
            ("response_ms", pa.int64(), votes["response_ms"]),
            ("watched_a", pa.float64(), votes["watched_a"]),
            ("watched_b", pa.float64(), votes["watched_b"]),
            ("selection_policy", pa.string(), votes["selection_policy"]),
            ("selection_probability", pa.float64(), votes["selection_probability"]),
            # Quality checks (annotate.models.Judgment): in the raters table only, never in a pair.
            ("is_gold", pa.bool_(), votes["is_gold"]),
            ("is_repeat", pa.bool_(), votes["is_repeat"]),
            ("repeat_of", pa.int64(), votes["repeat_of"]),
        ]
    )


# --- references by identity --------------------------------------------------------------------


@dataclass(frozen=True)
class Galleries:
    """Each identity's reference ids in gallery order, and its primary reference."""

    identity_ids: np.ndarray
    reference_ids: pa.ListArray
    primary: pa.Array

    @classmethod
    def build(cls, references: pa.Table, identity_ids: np.ndarray) -> Galleries:
        # references_read returns exactly these identities' references, ordered by identity, primary
        # first, then position: each identity's gallery is one run, and the runs follow identity_ids.
        owners = references["identity_id"].to_numpy()
        ids = references["id"].to_numpy()
        starts = np.searchsorted(owners, identity_ids, side="left")
        lengths = np.searchsorted(owners, identity_ids, side="right") - starts
        offsets = pa.array(np.concatenate([[0], np.cumsum(lengths)]), type=pa.int32())
        lists = pa.ListArray.from_arrays(offsets, pa.array(ids, type=pa.int64()))
        first = np.minimum(starts, max(len(ids) - 1, 0))
        is_primary = references["is_primary"].to_numpy(zero_copy_only=False).astype(bool)
        has_primary = (lengths > 0) & (is_primary[first] if len(ids) else False)
        primary = ids[first] if len(ids) else np.zeros(len(identity_ids), dtype=np.int64)
        return cls(identity_ids, lists, pa.array(primary, type=pa.int64(), mask=~has_primary))

    def lists_for(self, identity_of_row: np.ndarray) -> pa.Array:
        return self.reference_ids.take(positions(self.identity_ids, identity_of_row))

    def primary_for(self, identity_of_row: np.ndarray) -> pa.Array:
        return self.primary.take(positions(self.identity_ids, identity_of_row))


# --- pairs --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Lookup:
    """A per-pair column held as each pair's position in a shorter one (a video's path, a prompt's text,
    an identity's references, a split's name): taken a slice of pairs at a time, so that no per-pair copy
    is held whole. At two million pairs the paths, hashes and prompts held per pair were 0.9 GB, and the
    reference lists, splits, frame rates and frame counts another 0.2 GB."""

    values: pa.Array | MediaPaths
    at: np.ndarray  # integers: each pair's position in ``values``

    def take(self, rows: pa.Array | np.ndarray) -> pa.Array:
        wanted = rows.to_numpy() if isinstance(rows, pa.Array) else rows
        return self.values.take(pa.array(self.at[wanted], type=pa.int64()))

    def whole(self) -> pa.Array:
        return self.values.take(pa.array(self.at, type=pa.int64()))


@dataclass(frozen=True)
class Pairs:
    """One row per comparison: what the pairs files and the adapters are made of."""

    columns: dict[str, pa.Array | Lookup]
    split: np.ndarray  # 0 train, 1 validation, 2 test

    def __len__(self) -> int:
        return len(self.split)

    def whole(self, name: str) -> pa.Array:
        """Column ``name`` for every pair (a Lookup's text copied per pair)."""
        column = self.columns[name]
        return column.whole() if isinstance(column, Lookup) else column

    def numbers(self, name: str) -> np.ndarray:
        """Numeric column ``name`` for every pair, as numpy."""
        values: np.ndarray = self.whole(name).to_numpy()
        return values


def shown_prompts(prompts: pa.Table) -> pa.Array:
    # What raters read and what the model was asked for: the differential text for differential tasks.
    has_text = pc.greater(pc.utf8_length(prompts["differential_text"]), 0)
    differential = pc.and_(pc.equal(prompts["task"], "differential"), has_text)
    return pc.if_else(differential, prompts["differential_text"], prompts["full_text"])


def pairs_build(
    *,
    comparisons: pa.Table,
    videos: pa.Table,
    prompts: pa.Table,
    galleries: Galleries,
    split_of_pair: np.ndarray,
) -> Pairs:
    video_ids = videos["id"].to_numpy()

    def at(sorted_ids: np.ndarray, column: str) -> np.ndarray:
        # Positions as int32 where they fit (they always do below two billion rows): held per pair.
        return arrays.narrow_ids(arrays.positions(sorted_ids, comparisons[column].to_numpy()))

    a_at, b_at = at(video_ids, "video_a_id"), at(video_ids, "video_b_id")
    prompt_at = at(prompts["prompt_id"].to_numpy(), "prompt_id")
    identity_at = at(galleries.identity_ids, "identity_id")
    paths = MediaPaths.of(videos)
    sha = single(videos["sha256"])
    sha_a, sha_b = Lookup(sha, a_at), Lookup(sha, b_at)
    fps, frames = single(videos["fps"]), single(videos["num_frames"])
    columns: dict[str, pa.Array | Lookup] = {
        "comparison_id": comparisons["comparison_id"],
        "split": Lookup(pa.array(SPLITS, type=pa.string()), split_of_pair),
        "identity_id": comparisons["identity_id"],
        "prompt_id": comparisons["prompt_id"],
        "prompt": Lookup(single(prompts["full_text"]), prompt_at),
        "differential_prompt": Lookup(single(prompts["differential_text"]), prompt_at),
        "reference_ids": Lookup(galleries.reference_ids, identity_at),
        "primary_reference_id": Lookup(galleries.primary, identity_at),
        "video_a_id": comparisons["video_a_id"],
        "video_b_id": comparisons["video_b_id"],
        "video_a_path": Lookup(paths, a_at),
        "video_b_path": Lookup(paths, b_at),
        "video_a_sha256": sha_a,
        "video_b_sha256": sha_b,
        "are_different": _sliced(lambda rows: pc.not_equal(sha_a.take(rows), sha_b.take(rows)), len(a_at)),
        # Used by the adapters, not written to the pairs files.
        "shown_prompt": Lookup(single(shown_prompts(prompts)), prompt_at),
        "fps_a": Lookup(fps, a_at),
        "num_frames_a": Lookup(frames, a_at),
        "fps_b": Lookup(fps, b_at),
        "num_frames_b": Lookup(frames, b_at),
    }
    return Pairs({k: v if isinstance(v, Lookup) else single(v) for k, v in columns.items()}, split_of_pair)


def single(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    """``values`` as one array: a column of one chunk is that chunk itself, where ``combine_chunks``
    copies it (the pairs held the comparisons' ids and the videos' hashes twice, 150 MB at two million
    pairs)."""
    if isinstance(values, pa.Array):
        return values
    return values.chunk(0) if values.num_chunks == 1 else values.combine_chunks()


def _sliced(compute: Any, length: int, size: int = 1 << 18) -> pa.Array:
    """``compute(rows)`` over every row, a slice of rows at a time (no whole-length text in between)."""
    parts = [compute(np.arange(start, min(start + size, length))) for start in range(0, length, size)]
    return pa.concat_arrays(parts) if parts else compute(np.arange(0))


PAIR_COLUMNS: list[tuple[str, pa.DataType]] = [
    ("comparison_id", pa.int64()),
    ("split", pa.string()),
    ("identity_id", pa.int64()),
    ("prompt_id", pa.int64()),
    ("prompt", pa.string()),
    ("differential_prompt", pa.string()),
    ("reference_ids", pa.list_(pa.int64())),
    ("primary_reference_id", pa.int64()),
    ("video_a_id", pa.int64()),
    ("video_b_id", pa.int64()),
    ("video_a_path", pa.string()),
    ("video_b_path", pa.string()),
    ("video_a_sha256", pa.string()),
    ("video_b_sha256", pa.string()),
    ("are_different", pa.bool_()),
]


def pairs_table(
    pairs: Pairs,
    rows: np.ndarray,
    criteria: tuple[str, ...],
    labels: dict[str, aggregate.Labels],
    joint: aggregate.Labels | None,
    posteriors: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]],
    decisions: dict[str, pa.Array],
) -> pa.Table:
    """The pairs files' rows ``rows`` (positions in ``pairs``): written a row group at a time."""
    at = pa.array(rows, type=pa.int64())
    columns: list[Column] = [(name, kind, pairs.columns[name].take(at)) for name, kind in PAIR_COLUMNS]
    for criterion in criteria:
        lab = labels[criterion]
        p_a, p_b, p_tie = posteriors[criterion]
        columns += [
            (f"{criterion}_n_a", pa.int64(), lab.n_a[rows]),
            (f"{criterion}_n_b", pa.int64(), lab.n_b[rows]),
            (f"{criterion}_n_tie", pa.int64(), lab.n_tie[rows]),
            (f"{criterion}_label", pa.string(), np.asarray(lab.label[rows])),
            (f"{criterion}_p_a", pa.float64(), lab.p_a_of(rows)),
            (f"{criterion}_majority_share", pa.float64(), lab.majority_share_of(rows)),
            (f"{criterion}_passes_filter", pa.bool_(), lab.passes_filter[rows]),
            # Dawid–Skene posterior of the true answer (annotate.quality); null without an included vote.
            (f"{criterion}_p_a_ds", pa.float64(), p_a[rows]),
            (f"{criterion}_p_b_ds", pa.float64(), p_b[rows]),
            (f"{criterion}_p_tie_ds", pa.float64(), p_tie[rows]),
            # Where its track left it: decided, open, or undecided_at_max (a genuine near-tie).
            (f"{criterion}_decision", pa.string(), decisions[criterion].take(at)),
        ]
    if joint is not None:
        columns += [
            ("joint_label", pa.string(), np.asarray(joint.label[rows])),
            ("joint_p_a", pa.float64(), joint.p_a_of(rows)),
            ("joint_passes_filter", pa.bool_(), joint.passes_filter[rows]),
        ]
    return table(columns)


# --- videos and references ----------------------------------------------------------------------


def _number(values: pa.ChunkedArray | pa.Array, *, integer: bool) -> np.ndarray | pd.Series:
    """A setting read as text (JSON allows any type) as a number; anything else becomes null."""
    numbers = pd.to_numeric(pd.Series(values.to_numpy(zero_copy_only=False), dtype=object), errors="coerce")
    if integer:
        return numbers.where(numbers == numbers.round()).astype("Int64")
    return numbers.to_numpy(dtype=np.float64, na_value=np.nan)


def videos_table(videos: pa.Table, galleries: Galleries, *, schema: int = 2) -> pa.Table:
    # Schema 2: the story, rendering and shot of a story's videos (null for clips).
    stories: list[Column] = [
        ("story_id", pa.int64(), videos["story_id"]),
        ("rendering_id", pa.int64(), videos["rendering_id"]),
        ("shot", pa.int64(), videos["shot"]),
        ("story_mode", pa.string(), videos["story_mode"]),
    ]
    return table(
        [
            ("id", pa.int64(), videos["id"]),
            ("sha256", pa.string(), videos["sha256"]),
            ("path", pa.string(), media_paths(videos)),
            ("storage_name", pa.string(), videos["file"]),
            ("bytes", pa.int64(), videos["bytes"]),
            ("width", pa.int64(), videos["width"]),
            ("height", pa.int64(), videos["height"]),
            ("num_frames", pa.int64(), videos["num_frames"]),
            ("fps", pa.float64(), videos["fps"]),
            ("duration", pa.float64(), videos["duration"]),
            ("codec", pa.string(), videos["codec"]),
            ("identity_id", pa.int64(), videos["identity_id"]),
            ("prompt_id", pa.int64(), videos["prompt_id"]),
            ("reference_ids", pa.list_(pa.int64()), galleries.lists_for(videos["identity_id"].to_numpy())),
            ("method_id", pa.int64(), videos["method_id"]),
            ("method", pa.string(), videos["method"]),
            ("method_role", pa.string(), videos["method_role"]),
            ("base_model", pa.string(), videos["base_model"]),
            ("checkpoint", pa.string(), videos["checkpoint"]),
            ("lora", pa.string(), videos["lora"]),
            ("lora_sha256", pa.string(), videos["lora_sha256"]),
            ("seed", pa.int64(), videos["seed"]),
            ("scheduler", pa.string(), videos["scheduler"]),
            ("steps", pa.int64(), _number(videos["steps"], integer=True)),
            ("guidance", pa.float64(), _number(videos["guidance"], integer=False)),
            ("flow_shift", pa.float64(), _number(videos["flow_shift"], integer=False)),
            ("negative_prompt", pa.string(), videos["negative_prompt"]),
            ("settings", pa.string(), videos["settings"]),
            ("origin", pa.string(), videos["origin"]),
            *(stories if schema == 2 else []),
        ]
    )


# The framing as the catalog import names it: a reference of kind "video" is a clip.
FRAMING_OF_KIND = {"face": "face", "portrait": "portrait", "full_body": "full_body", "video": "clip"}


def references_table(references: pa.Table, *, schema: int = 2) -> pa.Table:
    rows = references.sort_by("id")
    # Schema 2: the framing, the viewpoint, and membership of the canonical three-view set.
    views: list[Column] = [
        ("framing", pa.string(), [FRAMING_OF_KIND.get(kind, kind) for kind in rows["kind"].to_pylist()]),
        ("viewpoint", pa.string(), rows["viewpoint"]),
        ("in_three_view", pa.bool_(), rows["in_three_view"]),
    ]
    return table(
        [
            ("id", pa.int64(), rows["id"]),
            ("identity_id", pa.int64(), rows["identity_id"]),
            ("kind", pa.string(), rows["kind"]),
            ("path", pa.string(), media_paths(rows)),
            ("storage_name", pa.string(), rows["file"]),
            ("sha256", pa.string(), rows["sha256"]),
            ("bytes", pa.int64(), rows["bytes"]),
            ("width", pa.int64(), rows["width"]),
            ("height", pa.int64(), rows["height"]),
            ("duration", pa.float64(), rows["duration"]),
            ("fps", pa.float64(), rows["fps"]),
            ("num_frames", pa.int64(), rows["num_frames"]),
            ("is_primary", pa.bool_(), rows["is_primary"]),
            ("position", pa.int64(), rows["position"]),
            ("note", pa.string(), rows["note"]),
            ("consent_note", pa.string(), rows["consent_note"]),
            *(views if schema == 2 else []),
        ]
    )
