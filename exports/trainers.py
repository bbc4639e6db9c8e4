"""Schema 2's adapters: one self-contained directory per trainer and criterion (shared/export-spec.md).

- ``adapters/videoalign/<c>/<split>.csv``: VideoAlign's columns, one A/B/same column named by the
  criterion's code (``CODES``), paths relative to the snapshot root (its ``--data_dir``);
- ``adapters/dpo/<c>/<split>.parquet``: decided pairs only, ``video_0`` by a seeded, balanced shuffle;
- ``adapters/videodpo/<c>/{metadata,pair}.json``: VideoDPO's loader files, train split only;
- ``adapters/judge/<c>/<split>.jsonl``: conversations for a video judge, both orders;
- ``adapters/rl_prompts/``: the cases (identity, prompt) of each split for online RL.

Each row carries the comparison id, the identity's reference paths (primary first) and what the
annotators of that criterion were shown (``conditioning_shown``). Only comparisons that pass the filters
are written. Every column is built with numpy and Arrow kernels: the only Python loops run over
criteria, splits and distinct texts, never over votes or pairs.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from annotate.models import Criterion, Track
from exports import aggregate, tables, write
from exports.options import SPLITS, ExportOptions
from exports.tables import Pairs, single, table
from lib import arrays
from lib.memory import release_freed_memory
from studies.models import Question
from studies.presets import (
    ELEMENT_CONSISTENCY,
    IDENTITY_FIDELITY,
    PROMPT_CONTROLLABILITY,
    VISUAL_QUALITY,
)

# VideoAlign's label column is named by a short code; the manifest lists them (trainer_codes).
CODES: dict[str, str] = {
    Criterion.IDENTITY_FIDELITY: "IF",
    Criterion.ELEMENT_CONSISTENCY: "EC",
    Criterion.PROMPT_CONTROLLABILITY: "PC",
    Criterion.VISUAL_QUALITY: "VQ",
    Criterion.TEXT_ALIGNMENT: "TA",
    Criterion.DYNAMIC_DEGREE: "DD",
    Criterion.OVERALL_QUALITY: "OQ",
    Criterion.IDENTITY_CONSISTENCY: "IC",
    Criterion.FACIAL_MOTION_ALIGNMENT: "FMA",
    Criterion.FACIAL_MOTION_NATURALNESS: "FMN",
    Criterion.BODY_CONSISTENCY: "BC",
    Criterion.NARRATIVE_ADHERENCE: "NA",
    Criterion.CONTINUITY: "CO",
    "joint": "J",
}
# What the annotators of a vote were shown beside the two videos: an identity-fidelity track shows every
# reference and no prompt; a prompt-controllability track the primary reference and the differential
# prompt; a study the primary reference and the prompt it shows (the differential text for differential
# tasks). Codes are the positions in this tuple.
CONDITIONING = (
    "all_references_no_prompt",
    "primary_reference_differential_prompt",
    "primary_reference_prompt",
    "story_prompts_by_shot",
)
_ALL_REFERENCES, _TRACK_PROMPT, _STUDY_PROMPT, _STORY_PROMPTS = range(4)
# Narrative tracks (two renderings of a story): the identity and body questions show every reference and
# no prompt, as identity fidelity does; narrative adherence and continuity show the story's shot prompts.
_ALL_REFERENCE_KINDS = (
    Track.Kind.IDENTITY_FIDELITY,
    Track.Kind.IDENTITY_CONSISTENCY,
    Track.Kind.BODY_CONSISTENCY,
)
_STORY_PROMPT_KINDS = (Track.Kind.NARRATIVE_ADHERENCE, Track.Kind.CONTINUITY)
_VIDEOALIGN = {"A": "A", "B": "B", "tie": "same"}
ANSWERS = {
    "first": "Video 1 is better",
    "second": "Video 2 is better",
    "tie": "Both videos are equally good",
    "both_bad": "Neither video is acceptable",
}
# Around the annotators' question in a judge conversation: which video is "Video 1", and the answers
# the assistant turn uses, so that a model fine-tuned on it learns the words it will be read by.
JUDGE_INTRO = "The references come first, then Video 1 and Video 2.\n"
JUDGE_ANSWER_HINT = (
    '\nAnswer "Video 1 is better", "Video 2 is better" or "Both videos are equally good", or '
    '"Neither video is acceptable".'
)
# The study presets' questions: what annotators read for a criterion no exported study words itself.
_PRESET_QUESTIONS = {
    q.criterion: q.text
    for q in (IDENTITY_FIDELITY, ELEMENT_CONSISTENCY, PROMPT_CONTROLLABILITY, VISUAL_QUALITY)
}
_SPLITMIX_GAMMA = np.uint64(0x9E3779B97F4A7C15)


def manifest_entry(counts: dict[str, Any]) -> dict[str, Any]:
    """What the manifest says about the schema-2 adapters; takes the questions out of write_trainers'."""
    return {
        "codes": dict(CODES),
        "questions": counts.pop("questions"),
        "conditioning_shown": list(CONDITIONING),
        "conditioning_rule": "per vote by its source (see CONDITIONING); per adapter row the value of most "
        "of that comparison's counted votes on that criterion (equal counts: the first in this list)",
        "video_0_rule": "per DPO file, the A-won rows in the order of splitmix64(split_seed * "
        "0x9E3779B97F4A7C15 xor comparison_id) get video_0_is_a true, false, true, ... and so do the B-won "
        "rows: the winner is video_0 in half the rows (one more at most), never by canonical order",
        "judge_answers": ANSWERS,
        "videodpo_score": "left out: VideoDPO weighs a pair by (0.72 / score) ** beta",
        "reference_paths": "primary first; ';'-separated in CSV, a list in Parquet and JSON",
    }


# --- votes --------------------------------------------------------------------------------------


# The column of the export's compact votes (exports.votes_stream) holding vote_conditioning's codes.
VOTE_CONDITIONING = "conditioning"


def vote_conditioning(votes: pa.Table) -> np.ndarray:
    """The CONDITIONING code of each vote, from its track's kind (a study vote has no track)."""
    track = votes["track_id"].to_numpy(zero_copy_only=False)
    has_track = ~np.isnan(track) if track.dtype.kind == "f" else np.ones(len(track), dtype=bool)
    codes = np.full(len(track), _STUDY_PROMPT, dtype=np.int8)
    if not has_track.any():
        return codes
    ids = np.nan_to_num(track.astype(np.float64), nan=-1).astype(np.int64)
    kinds = dict(Track.objects.filter(pk__in=np.unique(ids[has_track]).tolist()).values_list("pk", "kind"))
    fidelity = np.array(sorted(pk for pk, kind in kinds.items() if kind in _ALL_REFERENCE_KINDS))
    story = np.array(sorted(pk for pk, kind in kinds.items() if kind in _STORY_PROMPT_KINDS))
    codes[has_track] = _TRACK_PROMPT
    codes[has_track & np.isin(ids, fidelity)] = _ALL_REFERENCES
    codes[has_track & np.isin(ids, story)] = _STORY_PROMPTS
    return codes


def votes_with_conditioning(written: pa.Table, codes: np.ndarray) -> pa.Table:
    """``written`` (tables.votes_table's rows) with schema 2's conditioning_shown column, from each
    row's CONDITIONING code (vote_conditioning)."""
    names = pa.array(CONDITIONING, type=pa.string())
    column = names.take(pa.array(codes, type=pa.int64()))
    return written.append_column(pa.field("conditioning_shown", pa.string()), column)


# --- shared per-row pieces ----------------------------------------------------------------------


@dataclass(frozen=True)
class _References:
    """Per identity: reference paths (list, primary first), ";"-joined, primary path, judge media entries
    (JSON fragments, ", "-joined); ``at``: each pair's identity's position. Taken per slice of pairs, so
    that no per-pair copy of these texts is ever held whole."""

    paths: pa.ListArray
    joined: pa.Array
    primary: pa.Array
    all_media: pa.Array
    primary_media: pa.Array
    at: np.ndarray

    def of(self, name: str, rows: pa.Array) -> pa.Array:
        return tables.Lookup(getattr(self, name), self.at).take(rows)


def _references(
    galleries: tables.Galleries, references: pa.Table, identity_of_pair: np.ndarray
) -> _References:
    # references_read orders them by identity, primary first, then position: the galleries' lists
    # hold exactly these rows in this order, so the flat values line up with the table's rows.
    flat_paths = tables.media_paths(references)
    is_video = pc.equal(references["kind"], "video")
    media = pc.if_else(
        is_video,
        pc.binary_join_element_wise('{"type": "video", "video": "', flat_paths, '"}', ""),
        pc.binary_join_element_wise('{"type": "image", "image": "', flat_paths, '"}', ""),
    )
    offsets = galleries.reference_ids.offsets
    per_identity_paths = pa.ListArray.from_arrays(offsets, single(flat_paths))
    per_identity_media = pa.ListArray.from_arrays(offsets, single(media))
    # The first reference of an identity is its primary one when it has one (Galleries.primary).
    starts = np.minimum(offsets.to_numpy()[:-1], max(len(flat_paths) - 1, 0))
    no_primary = ~pc.is_valid(galleries.primary).to_numpy(zero_copy_only=False)
    if len(flat_paths):
        first_path = pc.if_else(
            pa.array(no_primary), pa.scalar(None, pa.string()), single(flat_paths).take(pa.array(starts))
        )
        first_media = pc.if_else(pa.array(no_primary), "", single(media).take(pa.array(starts)))
    else:
        first_path = pa.nulls(len(starts), pa.string())
        first_media = pa.array([""] * len(starts), pa.string())
    return _References(
        paths=per_identity_paths,
        joined=single(pc.binary_join(per_identity_paths, ";")),
        primary=single(first_path),
        all_media=single(pc.binary_join(per_identity_media, ", ")),
        primary_media=single(first_media),
        at=tables.positions(galleries.identity_ids, identity_of_pair).to_numpy(),
    )


def _json_literals(values: pa.Array) -> pa.Array:
    """Each value as a JSON string literal, encoding every distinct value once (they repeat a lot)."""
    encoded = pc.dictionary_encode(values)
    literals = pa.array(
        [json.dumps(v, ensure_ascii=False) for v in encoded.dictionary.to_pylist()], pa.string()
    )
    return literals.take(encoded.indices)


def _row_conditioning(
    votes: pa.Table, vote_codes: np.ndarray, comparison_ids: np.ndarray, criterion_codes: list[int]
) -> np.ndarray:
    """Per pair, the CONDITIONING code most of its votes on these criteria were given."""
    mask = np.isin(votes["criterion_code"].to_numpy(), criterion_codes)
    kinds = len(CONDITIONING)
    # (pair, code) as one 32-bit number, made in place: pairs number far below 2**31 / kinds, and each
    # per-vote array is tens of MB at ten million votes.
    key = arrays.positions(comparison_ids, votes["comparison_id"].to_numpy()[mask], code_type=np.int32)
    key *= kinds
    key += vote_codes[mask]
    counts = np.bincount(key, minlength=len(comparison_ids) * kinds)
    del key
    return np.asarray(counts.reshape(len(comparison_ids), kinds).argmax(axis=1), dtype=np.int8)


def splitmix_hash(seed: int, ids: np.ndarray) -> np.ndarray:
    """A seeded 64-bit hash per id (splitmix64's finaliser): the same on every machine and database."""
    with np.errstate(over="ignore"):
        z = (np.uint64(seed & 0xFFFFFFFFFFFFFFFF) * _SPLITMIX_GAMMA) ^ ids.astype(np.uint64)
        z = z + _SPLITMIX_GAMMA
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return np.asarray(z ^ (z >> np.uint64(31)))


def splitmix_coin(seed: int, ids: np.ndarray) -> np.ndarray:
    """A fair, seeded coin per id: the top bit of ``splitmix_hash``."""
    return (splitmix_hash(seed, ids) >> np.uint64(63)).astype(bool)


def winner_first_balanced(seed: int, comparison_ids: np.ndarray, a_won: np.ndarray) -> np.ndarray:
    """``video_0_is_a`` for one DPO file's decided rows: a seeded shuffle that puts the winner first in
    half of the rows (one more at most).

    An independent coin per comparison leaves the winner-first share at 50 % give or take a few points
    by chance (44 % in one database's demo export, a few hundred rows): a position signal of its own.
    Here the A-won rows, walked in the order of a seeded hash of their comparison ids, get A first and
    second in turn, and so do the B-won rows: which comparison gets which order is still the hash's, but
    the shares are exact.
    """
    a_first = np.zeros(len(comparison_ids), dtype=bool)
    order = np.lexsort((comparison_ids, splitmix_hash(seed, comparison_ids)))
    for won in (True, False):
        members = order[a_won[order] == won]
        turns = np.arange(len(members)) % 2 == 0
        # A-won rows start with the winner first, B-won rows with the winner second: the two
        # rounding-ups cancel, so the winner is first in half the rows give or take one.
        a_first[members] = turns
    return a_first


def _question(criterion: str, study_ids: list[int]) -> str:
    """The question annotators read for ``criterion``: an exported study's wording, else the preset's."""
    if criterion == "joint":
        return "Which video is better overall?"
    asked = (
        Question.objects.filter(study_id__in=study_ids, criterion=criterion)
        .order_by("study_id")
        .values_list("text", flat=True)
        .first()
    )
    label = Criterion(criterion).label if criterion in Criterion.values else criterion
    return asked or _PRESET_QUESTIONS.get(criterion) or f"Which video is better for {label.lower()}?"


def questions(criteria: list[str], study_ids: list[int]) -> dict[str, str]:
    return {c: _question(c, study_ids) for c in criteria}


# --- the writer ---------------------------------------------------------------------------------


def write_trainers(
    *,
    work: Path,
    options: ExportOptions,
    pairs: Pairs,
    criteria: tuple[str, ...],
    labels: dict[str, aggregate.Labels],
    joint: aggregate.Labels | None,
    votes: pa.Table,
    videos: pa.Table,
    references: pa.Table,
    identities: pa.Table,
    galleries: tables.Galleries,
    study_ids: list[int],
) -> dict[str, Any]:
    """Write every schema-2 adapter under ``work/adapters``; return the row counts for the manifest."""
    comparison_ids = pairs.numbers("comparison_id")
    identity_of_pair = pairs.numbers("identity_id")
    refs = _references(galleries, references, identity_of_pair)
    vote_codes = votes[VOTE_CONDITIONING].to_numpy()
    named = [(c, labels[c]) for c in criteria] + ([("joint", joint)] if joint is not None else [])
    joint_codes = [aggregate.CRITERIA.index(c) for c in options.joint_criteria]
    both_bad = _both_bad_counts(votes, comparison_ids)
    texts = questions([name for name, _ in named], study_ids)
    settings = _settings(videos)
    adapters: dict[str, Callable[[_Criterion], dict[str, int]]] = {
        "videoalign": lambda view: _videoalign(work, pairs, refs, view),
        "dpo": lambda view: _dpo(work, pairs, refs, view, settings, options.split_seed),
        "videodpo": lambda view: _videodpo(work, pairs, view),
        "judge": lambda view: _judge(work, pairs, refs, view),
    }
    counts: dict[str, Any] = {adapter: {} for adapter in adapters}
    for name, lab in named:
        codes = joint_codes if name == "joint" else [aggregate.CRITERIA.index(name)]
        conditioning = _row_conditioning(votes, vote_codes, comparison_ids, codes)
        view = _Criterion(
            name=name,
            lab=lab,
            conditioning=conditioning,
            both_bad=both_bad.of(codes),
            question=texts[name],
        )
        for adapter, write_adapter in adapters.items():
            # Between adapters the slices of the last are handed back (lib.memory): the quality fit runs
            # beside them on a thread of its own, and freed memory kept for reuse adds to its height.
            release_freed_memory()
            counts[adapter][name] = write_adapter(view)
    release_freed_memory()
    counts["rl_prompts"] = _rl_prompts(work, pairs, refs, identities)
    counts["questions"] = texts
    return counts


@dataclass(frozen=True)
class _Criterion:
    name: str
    lab: aggregate.Labels
    conditioning: np.ndarray
    both_bad: np.ndarray
    question: str

    def rows(self, pairs: Pairs, split: int, *, decided_only: bool = False) -> np.ndarray:
        keep = (pairs.split == split) & self.lab.passes_filter
        if decided_only:
            keep &= (self.lab.label == "A") | (self.lab.label == "B")
        return np.flatnonzero(keep)

    def shown_prompt(self, pairs: Pairs, at: pa.Array) -> pa.Array:
        """The prompt beside the videos: empty where the annotators saw none."""
        no_prompt = pa.array(self.conditioning[at.to_numpy()] == _ALL_REFERENCES, type=pa.bool_())
        return pc.if_else(no_prompt, pa.scalar("", pa.string()), pairs.columns["shown_prompt"].take(at))

    def conditioning_names(self, at: pa.Array) -> pa.Array:
        return _CONDITIONING_NAMES.take(pa.array(self.conditioning[at.to_numpy()], type=pa.int64()))


_CONDITIONING_NAMES = pa.array(CONDITIONING, type=pa.string())


# --- slices and appending writers ---------------------------------------------------------------

# Rows built and written at a time: each adapter file is appended slice by slice, so that its text is
# never held whole (the judge's conversations run to about a kilobyte per pair). Parquet files are cut
# at write.ROW_GROUP_SIZE, the row groups write.write_parquet makes, so their bytes are the same.
SLICE_ROWS = 65_536
# The judge's conversations, about two kilobytes a pair: a quarter of a slice is 32 MB of text, and with
# the pieces waiting for the disk (write.BackgroundFile) the judge holds about a hundred megabytes.
JUDGE_SLICE_ROWS = SLICE_ROWS // 4


def _slices(rows: np.ndarray, size: int | None = None) -> Iterator[pa.Array]:
    step = size or SLICE_ROWS
    for start in range(0, len(rows), step):
        yield pa.array(rows[start : start + step], type=pa.int64())


def _text(handle: Any, values: pa.Array, skip: int = 0) -> None:
    """Write the characters of every value of a string array, back to back, straight from its buffer
    (less the first ``skip`` bytes)."""
    values = single(values)
    if not len(values):
        return
    _, offsets, data = values.buffers()
    width = np.int64 if pa.types.is_large_string(values.type) else np.int32
    bounds = np.frombuffer(offsets, dtype=width)[values.offset : values.offset + len(values) + 1]
    handle.write(memoryview(data)[int(bounds[0]) + skip : int(bounds[-1])])


def _open(path: Path) -> write.BackgroundFile:
    # Adapter text runs to gigabytes at scale: written and hashed on a thread of its own.
    return write.BackgroundFile(path)


def _lines(handle: Any, lines: pa.Array) -> None:
    """Append one line per value (write.write_lines' bytes, a slice at a time)."""
    _text(handle, pc.binary_join_element_wise(single(lines), "\n", ""))


class _JsonArray:
    """A JSON array written an item at a time, in write.write_lines' layout of trainers' arrays: "[",
    then each item indented by two spaces, a comma after every item but the last, then "]"; "[]" when
    empty."""

    def __init__(self, path: Path) -> None:
        self.handle = _open(path)
        self.empty = True

    def add(self, items: pa.Array) -> None:
        if not len(items):
            return
        joined = pc.binary_join_element_wise(",\n  ", single(items), "")
        if self.empty:
            # The first item has no comma before it: skip the 4 bytes of its ",\n  " after writing "[\n  ".
            self.handle.write(b"[\n  ")
            _text(self.handle, joined, skip=4)
            self.empty = False
        else:
            _text(self.handle, joined)

    def close(self) -> None:
        self.handle.write(b"[]\n" if self.empty else b"\n]\n")
        self.handle.close()


def _csv(path: Path, schema: pa.Schema) -> pacsv.CSVWriter:
    path.parent.mkdir(parents=True, exist_ok=True)
    return pacsv.CSVWriter(path, schema, write_options=pacsv.WriteOptions(quoting_style="needed"))


def _csv_rows(writer: pacsv.CSVWriter, rows: pa.Table, free_text: tuple[str, ...]) -> None:
    """Append rows as write.write_csv writes them: cells a spreadsheet would run as a formula get a
    leading quote. Only the ``free_text`` columns are searched: media paths ("media/..."), labels and
    conditioning names never start like a formula."""
    for name in free_text:
        index = rows.schema.get_field_index(name)
        # A free-text column of an adapter repeats a few texts (the prompts): each distinct one is
        # checked once, where two regular expressions per row took most of the CSV adapters' time.
        encoded = pc.dictionary_encode(rows.column(index)).combine_chunks()
        safe = write._formula_safe(pa.table({name: encoded.dictionary})).column(0).combine_chunks()
        rows = rows.set_column(index, rows.schema.field(index), safe.take(encoded.indices))
    writer.write_table(rows)


@dataclass(frozen=True)
class _BothBad:
    """The counted both-bad answers: their pair (row) and criterion code, to count per pair on demand."""

    row: np.ndarray
    criterion: np.ndarray
    pairs: int

    def of(self, criterion_codes: list[int]) -> np.ndarray:
        """Per pair: the both-bad answers on these criteria."""
        rows = self.row[np.isin(self.criterion, criterion_codes)]
        return np.bincount(rows, minlength=self.pairs)


def _both_bad_counts(votes: pa.Table, comparison_ids: np.ndarray) -> _BothBad:
    counted = votes["choice_code"].to_numpy() == aggregate.CHOICES.index("both_bad")
    row = arrays.positions(comparison_ids, votes["comparison_id"].to_numpy()[counted])
    return _BothBad(row, votes["criterion_code"].to_numpy()[counted], len(comparison_ids))


_VIDEOALIGN_CELLS = pa.array([*_VIDEOALIGN.values(), ""], type=pa.string())


def _videoalign(work: Path, pairs: Pairs, refs: _References, view: _Criterion) -> dict[str, int]:
    cols = pairs.columns
    # The cell of each label (A, B, same), "" for none: codes into _VIDEOALIGN_CELLS.
    cells = np.full(len(view.lab.label), len(_VIDEOALIGN), dtype=np.int8)
    for code, label in enumerate(_VIDEOALIGN):
        cells[view.lab.label == label] = code
    code_name = CODES.get(view.name, view.name)
    schema = pa.schema(
        [
            ("path_A", pa.string()),
            ("path_B", pa.string()),
            ("prompt", pa.string()),
            (code_name, pa.string()),
            ("fps_A", pa.float64()),
            ("num_frames_A", pa.int64()),
            ("fps_B", pa.float64()),
            ("num_frames_B", pa.int64()),
            ("comparison_id", pa.int64()),
            ("reference_paths", pa.string()),
            ("conditioning_shown", pa.string()),
        ]
    )
    counts = {}
    for index, split in enumerate(SPLITS):
        rows = view.rows(pairs, index)
        with _csv(work / f"adapters/videoalign/{view.name}/{split}.csv", schema) as writer:
            for at in _slices(rows):
                values = [
                    cols["video_a_path"].take(at),
                    cols["video_b_path"].take(at),
                    view.shown_prompt(pairs, at),
                    _VIDEOALIGN_CELLS.take(pa.array(cells[at.to_numpy()])),
                    cols["fps_a"].take(at),
                    cols["num_frames_a"].take(at),
                    cols["fps_b"].take(at),
                    cols["num_frames_b"].take(at),
                    cols["comparison_id"].take(at),
                    refs.of("joined", at),
                    view.conditioning_names(at),
                ]
                rows_out = table([(f.name, f.type, v) for f, v in zip(schema, values, strict=True)])
                _csv_rows(writer, rows_out, free_text=("prompt",))
                del values, rows_out  # written: not held beside the next slice's
        counts[split] = len(rows)
    return counts


_SETTINGS = (
    ("id", pa.int64()),
    ("seed", pa.int64()),
    ("steps", pa.int64()),
    ("guidance", pa.float64()),
    ("scheduler", pa.string()),
    ("checkpoint", pa.string()),
    ("lora", pa.string()),
    ("settings", pa.string()),
)


def _settings(videos: pa.Table) -> pa.Table:
    """The videos' generation settings, as tables.videos_table has them (those columns alone). The text
    a method shares among its videos stays dictionary-encoded, as read (read.REPEATED_VIDEO_TEXT), and
    becomes text a slice at a time in ``_dpo_rows``: decoded whole, it held 90 MB at a million videos
    through every adapter."""
    numbers = {"steps": True, "guidance": False}
    columns = {
        name: tables.arrow(tables._number(videos[name], integer=numbers[name]), kind)
        if name in numbers
        else single(videos[name])
        for name, kind in _SETTINGS
    }
    return pa.table(columns)


def _dpo(
    work: Path,
    pairs: Pairs,
    refs: _References,
    view: _Criterion,
    settings: pa.Table,
    seed: int,
) -> dict[str, int]:
    video_ids = settings["id"].to_numpy()
    a_at = tables.positions(video_ids, pairs.numbers("video_a_id")).to_numpy()
    b_at = tables.positions(video_ids, pairs.numbers("video_b_id")).to_numpy()
    counts = {}
    for index, split in enumerate(SPLITS):
        path = work / f"adapters/dpo/{view.name}/{split}.parquet"
        path.parent.mkdir(parents=True, exist_ok=True)
        rows = view.rows(pairs, index, decided_only=True)
        # Indexed by pair, like every other per-pair array: only this file's decided rows are set.
        a_first = np.zeros(len(pairs), dtype=bool)
        a_first[rows] = winner_first_balanced(
            seed, pairs.numbers("comparison_id")[rows], view.lab.label[rows] == "A"
        )
        writer = None
        # One slice per row group: the same cuts as write.write_parquet's.
        for at in _slices(rows, write.ROW_GROUP_SIZE) if len(rows) else [pa.array([], pa.int64())]:
            frame = _dpo_rows(pairs, refs, view, settings, a_first, at, a_at, b_at)
            if writer is None:
                writer = pq.ParquetWriter(path, frame.schema, **write.PARQUET_OPTIONS)
            if frame.num_rows:
                writer.write_table(frame, row_group_size=write.ROW_GROUP_SIZE)
            # Written: gone before the next group is made, not held beside it (a group is 100 MB at
            # ten million judgments).
            del frame
        assert writer is not None
        writer.close()
        counts[split] = len(rows)
    return counts


def _dpo_rows(
    pairs: Pairs,
    refs: _References,
    view: _Criterion,
    settings: pa.Table,
    a_first_of_pair: np.ndarray,
    at: pa.Array,
    a_at: np.ndarray,
    b_at: np.ndarray,
) -> pa.Table:
    cols = pairs.columns
    rows = at.to_numpy()
    a_first = a_first_of_pair[rows]
    flags = pa.array(a_first, type=pa.bool_())
    a_path, b_path = cols["video_a_path"].take(at), cols["video_b_path"].take(at)
    first_wins = (view.lab.label[rows] == "A") == a_first
    columns: list[tables.Column] = [
        ("comparison_id", pa.int64(), cols["comparison_id"].take(at)),
        # The prompt the videos were generated from (the differential text for differential tasks),
        # whatever the annotators were shown: conditioning_shown says what that was.
        ("caption", pa.string(), cols["shown_prompt"].take(at)),
        ("video_0", pa.string(), pc.if_else(flags, a_path, b_path)),
        ("video_1", pa.string(), pc.if_else(flags, b_path, a_path)),
        ("label_0", pa.float64(), first_wins.astype(np.float64)),
        ("label_1", pa.float64(), (~first_wins).astype(np.float64)),
        ("video_0_is_a", pa.bool_(), a_first),
        ("reference_paths", pa.list_(pa.string()), refs.of("paths", at)),
        ("primary_reference_path", pa.string(), refs.of("primary", at)),
        ("conditioning_shown", pa.string(), view.conditioning_names(at)),
    ]
    first_at = np.where(a_first, a_at[rows], b_at[rows])
    second_at = np.where(a_first, b_at[rows], a_at[rows])
    for side, where in (("video_0", first_at), ("video_1", second_at)):
        picked = settings.take(pa.array(where, type=pa.int64()))
        columns += [(f"{side}_{name}", kind, picked[name]) for name, kind in _SETTINGS]
    return table(columns)


def _videodpo(work: Path, pairs: Pairs, view: _Criterion) -> dict[str, int]:
    """VideoDPO's metadata.json (one item per video) and pair.json (winner and loser indices), train only.

    VideoDPO trains on one file pair and has no evaluation split of its own: the validation and test
    pairs stay for the other adapters. ``score`` is left out (see manifest_entry).
    """
    cols = pairs.columns
    rows = view.rows(pairs, SPLITS.index("train"), decided_only=True)
    a_ids, b_ids = pairs.numbers("video_a_id")[rows], pairs.numbers("video_b_id")[rows]
    videos, inverse = np.unique(np.concatenate([a_ids, b_ids]), return_inverse=True)
    inverse = inverse.reshape(-1)
    a_index, b_index = inverse[: len(rows)], inverse[len(rows) :]
    # Each video's path, duration and caption from the first pair that shows it.
    first_seen = np.full(len(videos), -1, dtype=np.int64)
    both_rows = np.concatenate([rows, rows])
    order = np.argsort(inverse, kind="stable")
    starts = np.searchsorted(inverse[order], np.arange(len(videos)))
    first_seen = both_rows[order[starts]] if len(videos) else first_seen
    is_a = order[starts] < len(rows) if len(videos) else np.zeros(0, dtype=bool)
    folder = work / f"adapters/videodpo/{view.name}"
    metadata = _JsonArray(folder / "metadata.json")
    for at in _slices(np.arange(len(videos))):
        part = at.to_numpy()
        seen = pa.array(first_seen[part], type=pa.int64())
        on_a = pa.array(is_a[part])
        path = pc.if_else(on_a, cols["video_a_path"].take(seen), cols["video_b_path"].take(seen))
        frames = pc.if_else(on_a, cols["num_frames_a"].take(seen), cols["num_frames_b"].take(seen))
        fps = pc.if_else(on_a, cols["fps_a"].take(seen), cols["fps_b"].take(seen))
        duration = pc.divide(pc.cast(frames, pa.float64()), fps)
        duration_text = pc.cast(pc.fill_null(pc.round(duration, 6), 0.0), pa.string())
        metadata.add(
            pc.binary_join_element_wise(
                '{"basic": {"clip_path": "',
                path,
                '", "clip_duration": ',
                duration_text,
                '}, "misc": {"frame_caption": ',
                _json_literals(cols["shown_prompt"].take(seen)),
                "}}",
                "",
            )
        )
    metadata.close()
    a_wins = view.lab.label[rows] == "A"
    winner = np.where(a_wins, a_index, b_index)
    loser = np.where(a_wins, b_index, a_index)
    pair = _JsonArray(folder / "pair.json")
    for at in _slices(np.arange(len(rows))):
        part = at.to_numpy()
        taken = pa.array(rows[part], type=pa.int64())
        pair.add(
            pc.binary_join_element_wise(
                '{"video1": ',
                pc.cast(pa.array(winner[part], type=pa.int64()), pa.string()),
                ', "video2": ',
                pc.cast(pa.array(loser[part], type=pa.int64()), pa.string()),
                ', "frame_caption": ',
                _json_literals(cols["shown_prompt"].take(taken)),
                ', "comparison_id": ',
                pc.cast(cols["comparison_id"].take(taken), pa.string()),
                "}",
                "",
            )
        )
    pair.close()
    return {"metadata": len(videos), "pairs": len(rows)}


_ANSWERS = pa.array(list(ANSWERS.values()), type=pa.string())
_FIRST, _SECOND, _TIE, _BOTH_BAD = range(4)


def _judge(work: Path, pairs: Pairs, refs: _References, view: _Criterion) -> dict[str, int]:
    """Both orders of each passing comparison; a tie answers "equally good", a both-bad majority apart.

    Each pair's two lines (AB, then BA) are one string built by a single join: the file is in comparison
    order, AB before BA.
    """
    label = view.lab.label
    n = view.lab.n_a + view.lab.n_b + view.lab.n_tie
    both_bad = (label == "tie") & (2 * view.both_bad > n)
    answer_ab = np.where(label == "A", _FIRST, _SECOND).astype(np.int8)
    answer_ba = np.where(label == "B", _FIRST, _SECOND).astype(np.int8)
    for answer in (answer_ab, answer_ba):
        answer[label == "tie"] = _TIE
        answer[both_bad] = _BOTH_BAD
    all_refs = view.conditioning == _ALL_REFERENCES
    counts = {}
    for index, split in enumerate(SPLITS):
        rows = view.rows(pairs, index)
        with _open(work / f"adapters/judge/{view.name}/{split}.jsonl") as handle:
            for at in _slices(rows, JUDGE_SLICE_ROWS):
                # Made in a call of its own: the slice's columns go once written, before the next's.
                _text(handle, _judge_lines(pairs, refs, view, at, all_refs, answer_ab, answer_ba))
        counts[split] = 2 * len(rows)
    return counts


def _judge_lines(
    pairs: Pairs,
    refs: _References,
    view: _Criterion,
    at: pa.Array,
    all_refs: np.ndarray,
    answer_ab: np.ndarray,
    answer_ba: np.ndarray,
) -> pa.Array:
    """The two lines (AB, then BA) of each pair of the slice ``at``, one string per pair."""
    cols = pairs.columns
    part = at.to_numpy()
    every = pa.array(all_refs[part], type=pa.bool_())
    media = pc.if_else(every, refs.of("all_media", at), refs.of("primary_media", at))
    media = pc.if_else(pc.equal(media, ""), media, pc.binary_join_element_wise(media, ", ", ""))
    question = JUDGE_INTRO + view.question
    with_prompt = pc.binary_join_element_wise(
        question + "\nPrompt: ", pc.cast(cols["shown_prompt"].take(at), pa.string()), ""
    )
    asked = pc.if_else(every, pa.scalar(question, pa.string()), with_prompt)
    text = _json_literals(pc.binary_join_element_wise(asked, JUDGE_ANSWER_HINT, ""))
    comparison = pc.cast(cols["comparison_id"].take(at), pa.string())
    conditioning = view.conditioning_names(at)
    a_path, b_path = cols["video_a_path"].take(at), cols["video_b_path"].take(at)
    pieces: list[Any] = []
    for order, first, second, answer in (
        ("AB", a_path, b_path, answer_ab),
        ("BA", b_path, a_path, answer_ba),
    ):
        pieces += [
            '{"comparison_id": ',
            comparison,
            ', "order": "' + order + '", "conditioning_shown": "',
            conditioning,
            '", "messages": [{"role": "user", "content": [',
            media,
            '{"type": "video", "video": "',
            first,
            '"}, {"type": "video", "video": "',
            second,
            '"}, {"type": "text", "text": ',
            text,
            '}]}, {"role": "assistant", "content": [{"type": "text", "text": "',
            _ANSWERS.take(pa.array(answer[part])),
            '"}]}]}\n',
        ]
    return pc.binary_join_element_wise(*pieces, "")


def _rl_prompts(work: Path, pairs: Pairs, refs: _References, identities: pa.Table) -> dict[str, int]:
    """One row per distinct (identity, prompt) case of each split, sorted by identity and prompt id.

    Every exported comparison's case counts, passing or not: a prompt set needs no label.
    """
    cols = pairs.columns
    identity = pairs.numbers("identity_id")
    prompt = pairs.numbers("prompt_id")
    counts = {}
    folder = work / "adapters/rl_prompts"
    for index, split in enumerate(SPLITS):
        in_split = np.flatnonzero(pairs.split == index)
        order = in_split[np.lexsort((prompt[in_split], identity[in_split]))]
        keys = np.stack([identity[order], prompt[order]], axis=1)
        first = np.ones(len(order), dtype=bool)
        first[1:] = np.any(keys[1:] != keys[:-1], axis=1)
        at = pa.array(order[first], type=pa.int64())
        one_line = pc.replace_substring_regex(cols["shown_prompt"].take(at), r"[\r\n]+", " ")
        prompt_json = _json_literals(one_line)
        slugs = identities["slug"].take(
            tables.positions(identities["identity_id"].to_numpy(), identity[order[first]])
        )
        primary = refs.of("primary", at)
        primary_json = pc.if_else(
            pc.is_valid(primary),
            pc.binary_join_element_wise('"', primary, '"', ""),
            pa.scalar("null", pa.string()),
        )
        paths_json = pc.binary_join_element_wise(
            "[", pc.binary_join(_quoted_list(refs.of("paths", at)), ", "), "]", ""
        )
        write.write_lines(one_line, folder / f"{split}.txt")
        metadata = pc.binary_join_element_wise(
            '{"prompt": ',
            prompt_json,
            ', "differential_prompt": ',
            _json_literals(cols["differential_prompt"].take(at)),
            ', "identity": ',
            _json_literals(single(slugs)),
            ', "identity_id": ',
            pc.cast(cols["identity_id"].take(at), pa.string()),
            ', "prompt_id": ',
            pc.cast(cols["prompt_id"].take(at), pa.string()),
            ', "reference_paths": ',
            paths_json,
            ', "primary_reference_path": ',
            primary_json,
            "}",
            "",
        )
        write.write_lines(metadata, folder / f"{split}_metadata.jsonl")
        csv_rows = table(
            [
                ("ref_paths", pa.string(), refs.of("joined", at)),
                ("prompt", pa.string(), one_line),
                ("identity", pa.string(), single(slugs)),
                ("primary_reference_path", pa.string(), primary),
            ]
        )
        write.write_csv(csv_rows, folder / f"{split}.csv")
        # DanceGRPO: "path" is the case's conditioning image (its primary reference), "cap" the prompt.
        captions = pc.binary_join_element_wise('{"path": ', primary_json, ', "cap": ', prompt_json, "}", "")
        name = "videos2caption.json" if split == "train" else f"{split}_videos2caption.json"
        captions_file = _JsonArray(folder / name)
        captions_file.add(captions)
        captions_file.close()
        counts[split] = len(at)
    return counts


def _quoted_list(paths: pa.ListArray) -> pa.ListArray:
    offsets = paths.offsets.to_numpy()
    quoted = pc.binary_join_element_wise('"', paths.flatten(), '"', "")
    return pa.ListArray.from_arrays(pa.array(offsets - offsets[0], type=pa.int32()), single(quoted))
