"""Schema 2's adapters: one self-contained directory per trainer and criterion (shared/export-spec.md).

- ``adapters/videoalign/<c>/<split>.csv``: VideoAlign's columns, one A/B/same column named by the
  criterion's code (``CODES``), paths relative to the snapshot root (its ``--data_dir``);
- ``adapters/dpo/<c>/<split>.parquet``: decided pairs only, ``video_0`` chosen by a seeded coin;
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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from annotate.models import Criterion, Track
from exports import aggregate, tables, write
from exports.options import SPLITS, ExportOptions
from exports.tables import Pairs, table
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
)
_ALL_REFERENCES, _TRACK_PROMPT, _STUDY_PROMPT = range(3)
_VIDEOALIGN = {"A": "A", "B": "B", "tie": "same"}
ANSWERS = {
    "first": "Video 1 is better",
    "second": "Video 2 is better",
    "tie": "Both videos are equally good",
    "both_bad": "Neither video is acceptable",
}
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
        "video_0_rule": "video_0_is_a = top bit of splitmix64(split_seed * 0x9E3779B97F4A7C15 xor "
        "comparison_id)",
        "judge_answers": ANSWERS,
        "videodpo_score": "left out: VideoDPO weighs a pair by (0.72 / score) ** beta",
        "reference_paths": "primary first; ';'-separated in CSV, a list in Parquet and JSON",
    }


# --- votes --------------------------------------------------------------------------------------


def vote_conditioning(votes: pa.Table) -> np.ndarray:
    """The CONDITIONING code of each vote, from its track's kind (a study vote has no track)."""
    track = votes["track_id"].to_numpy(zero_copy_only=False)
    has_track = ~np.isnan(track) if track.dtype.kind == "f" else np.ones(len(track), dtype=bool)
    codes = np.full(len(track), _STUDY_PROMPT, dtype=np.int64)
    if not has_track.any():
        return codes
    ids = np.nan_to_num(track.astype(np.float64), nan=-1).astype(np.int64)
    kinds = dict(Track.objects.filter(pk__in=np.unique(ids[has_track]).tolist()).values_list("pk", "kind"))
    fidelity = np.array(sorted(pk for pk, kind in kinds.items() if kind == Track.Kind.IDENTITY_FIDELITY))
    codes[has_track] = _TRACK_PROMPT
    codes[has_track & np.isin(ids, fidelity)] = _ALL_REFERENCES
    return codes


def votes_with_conditioning(written: pa.Table, judgments: pa.Table) -> pa.Table:
    """``written`` (tables.votes_table of ``judgments``) with schema 2's conditioning_shown column."""
    names = pa.array(CONDITIONING, type=pa.string())
    column = names.take(pa.array(vote_conditioning(judgments), type=pa.int64()))
    return written.append_column(pa.field("conditioning_shown", pa.string()), column)


# --- shared per-row pieces ----------------------------------------------------------------------


@dataclass(frozen=True)
class _References:
    """Per pair: reference paths (list, primary first), primary path, judge media entries."""

    paths: pa.ListArray
    joined: pa.Array
    primary: pa.Array
    all_media: pa.Array  # JSON fragments: every reference as a media entry, ", "-joined
    primary_media: pa.Array


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
    per_identity_paths = pa.ListArray.from_arrays(offsets, _single(flat_paths))
    per_identity_media = pa.ListArray.from_arrays(offsets, _single(media))
    # The first reference of an identity is its primary one when it has one (Galleries.primary).
    starts = np.minimum(offsets.to_numpy()[:-1], max(len(flat_paths) - 1, 0))
    no_primary = ~pc.is_valid(galleries.primary).to_numpy(zero_copy_only=False)
    if len(flat_paths):
        first_path = pc.if_else(
            pa.array(no_primary), pa.scalar(None, pa.string()), _single(flat_paths).take(pa.array(starts))
        )
        first_media = pc.if_else(pa.array(no_primary), "", _single(media).take(pa.array(starts)))
    else:
        first_path = pa.nulls(len(starts), pa.string())
        first_media = pa.array([""] * len(starts), pa.string())
    at = tables.positions(galleries.identity_ids, identity_of_pair)
    paths = per_identity_paths.take(at)
    return _References(
        paths=paths,
        joined=pc.binary_join(paths, ";"),
        primary=first_path.take(at),
        all_media=pc.binary_join(per_identity_media, ", ").take(at),
        primary_media=_single(first_media).take(at),
    )


def _single(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    return values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values


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
    row = np.searchsorted(comparison_ids, votes["comparison_id"].to_numpy()[mask])
    counts = np.bincount(row * 3 + vote_codes[mask], minlength=len(comparison_ids) * 3)
    return np.asarray(counts.reshape(len(comparison_ids), 3).argmax(axis=1), dtype=np.int64)


def splitmix_coin(seed: int, ids: np.ndarray) -> np.ndarray:
    """A fair, seeded coin per id (splitmix64's finaliser): True puts the canonical A in video_0."""
    with np.errstate(over="ignore"):
        z = (np.uint64(seed & 0xFFFFFFFFFFFFFFFF) * _SPLITMIX_GAMMA) ^ ids.astype(np.uint64)
        z = z + _SPLITMIX_GAMMA
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
    return (z >> np.uint64(63)).astype(bool)


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
    cols = pairs.columns
    comparison_ids = cols["comparison_id"].to_numpy()
    identity_of_pair = cols["identity_id"].to_numpy()
    refs = _references(galleries, references, identity_of_pair)
    vote_codes = vote_conditioning(votes)
    named = [(c, labels[c]) for c in criteria] + ([("joint", joint)] if joint is not None else [])
    joint_codes = [aggregate.CRITERIA.index(c) for c in options.joint_criteria]
    both_bad = _both_bad_counts(votes, comparison_ids)
    texts = questions([name for name, _ in named], study_ids)
    counts: dict[str, Any] = {"videoalign": {}, "dpo": {}, "videodpo": {}, "judge": {}}
    settings = _settings(videos, galleries)
    coin = splitmix_coin(options.split_seed, comparison_ids)
    for name, lab in named:
        codes = joint_codes if name == "joint" else [aggregate.CRITERIA.index(name)]
        conditioning = _row_conditioning(votes, vote_codes, comparison_ids, codes)
        view = _Criterion(
            name=name,
            lab=lab,
            conditioning=conditioning,
            both_bad=both_bad[:, codes].sum(axis=1),
            question=texts[name],
        )
        counts["videoalign"][name] = _videoalign(work, pairs, refs, view)
        counts["dpo"][name] = _dpo(work, pairs, refs, view, settings, coin)
        counts["videodpo"][name] = _videodpo(work, pairs, view)
        counts["judge"][name] = _judge(work, pairs, refs, view)
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

    def rows(self, pairs: Pairs, split: int, *, decided_only: bool = False) -> pa.Array:
        keep = (pairs.split == split) & self.lab.passes_filter
        if decided_only:
            keep &= (self.lab.label == "A") | (self.lab.label == "B")
        return pa.array(np.flatnonzero(keep), type=pa.int64())

    def shown_prompt(self, pairs: Pairs) -> pa.Array:
        """The prompt beside the videos: empty where the annotators saw none."""
        no_prompt = pa.array(self.conditioning == _ALL_REFERENCES, type=pa.bool_())
        return pc.if_else(no_prompt, pa.scalar("", pa.string()), pairs.columns["shown_prompt"])

    def conditioning_names(self) -> pa.Array:
        return pa.array(CONDITIONING, type=pa.string()).take(pa.array(self.conditioning, type=pa.int64()))


def _both_bad_counts(votes: pa.Table, comparison_ids: np.ndarray) -> np.ndarray:
    """Per pair and criterion (aggregate.CRITERIA order): the counted both-bad answers."""
    counted = votes["choice_code"].to_numpy() == aggregate.CHOICES.index("both_bad")
    row = np.searchsorted(comparison_ids, votes["comparison_id"].to_numpy()[counted])
    column = votes["criterion_code"].to_numpy()[counted].astype(np.int64)
    width = len(aggregate.CRITERIA)
    flat = np.bincount(row * width + column, minlength=len(comparison_ids) * width)
    return flat.reshape(len(comparison_ids), width)


def _videoalign(work: Path, pairs: Pairs, refs: _References, view: _Criterion) -> dict[str, int]:
    cols = pairs.columns
    cells = np.full(len(view.lab.label), "", dtype=object)
    for label, cell in _VIDEOALIGN.items():
        cells[view.lab.label == label] = cell
    prompt = view.shown_prompt(pairs)
    conditioning = view.conditioning_names()
    counts = {}
    for index, split in enumerate(SPLITS):
        at = view.rows(pairs, index)
        rows = table(
            [
                ("path_A", pa.string(), cols["video_a_path"].take(at)),
                ("path_B", pa.string(), cols["video_b_path"].take(at)),
                ("prompt", pa.string(), prompt.take(at)),
                (CODES.get(view.name, view.name), pa.string(), cells[at.to_numpy()]),
                ("fps_A", pa.float64(), cols["fps_a"].take(at)),
                ("num_frames_A", pa.int64(), cols["num_frames_a"].take(at)),
                ("fps_B", pa.float64(), cols["fps_b"].take(at)),
                ("num_frames_B", pa.int64(), cols["num_frames_b"].take(at)),
                ("comparison_id", pa.int64(), cols["comparison_id"].take(at)),
                ("reference_paths", pa.string(), refs.joined.take(at)),
                ("conditioning_shown", pa.string(), conditioning.take(at)),
            ]
        )
        write.write_csv(rows, work / f"adapters/videoalign/{view.name}/{split}.csv")
        counts[split] = rows.num_rows
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


def _settings(videos: pa.Table, galleries: tables.Galleries) -> pa.Table:
    full = tables.videos_table(videos, galleries)
    return full.select([name for name, _ in _SETTINGS])


def _dpo(
    work: Path,
    pairs: Pairs,
    refs: _References,
    view: _Criterion,
    settings: pa.Table,
    coin: np.ndarray,
) -> dict[str, int]:
    cols = pairs.columns
    video_ids = settings["id"].to_numpy()
    a_first = pa.array(coin, type=pa.bool_())
    first_id = pc.if_else(a_first, cols["video_a_id"], cols["video_b_id"])
    second_id = pc.if_else(a_first, cols["video_b_id"], cols["video_a_id"])
    first_path = pc.if_else(a_first, cols["video_a_path"], cols["video_b_path"])
    second_path = pc.if_else(a_first, cols["video_b_path"], cols["video_a_path"])
    first_at = tables.positions(video_ids, first_id.to_numpy())
    second_at = tables.positions(video_ids, second_id.to_numpy())
    conditioning = view.conditioning_names()
    counts = {}
    for index, split in enumerate(SPLITS):
        at = view.rows(pairs, index, decided_only=True)
        rows = at.to_numpy()
        first_wins = (view.lab.label[rows] == "A") == coin[rows]
        columns: list[tables.Column] = [
            ("comparison_id", pa.int64(), cols["comparison_id"].take(at)),
            # The prompt the videos were generated from (the differential text for differential tasks),
            # whatever the annotators were shown: conditioning_shown says what that was.
            ("caption", pa.string(), cols["shown_prompt"].take(at)),
            ("video_0", pa.string(), first_path.take(at)),
            ("video_1", pa.string(), second_path.take(at)),
            ("label_0", pa.float64(), first_wins.astype(np.float64)),
            ("label_1", pa.float64(), (~first_wins).astype(np.float64)),
            ("video_0_is_a", pa.bool_(), coin[rows]),
            ("reference_paths", pa.list_(pa.string()), refs.paths.take(at)),
            ("primary_reference_path", pa.string(), refs.primary.take(at)),
            ("conditioning_shown", pa.string(), conditioning.take(at)),
        ]
        for side, where in (("video_0", first_at), ("video_1", second_at)):
            picked = settings.take(where.take(at))
            columns += [(f"{side}_{name}", kind, picked[name]) for name, kind in _SETTINGS]
        frame = table(columns)
        write.write_parquet(frame, work / f"adapters/dpo/{view.name}/{split}.parquet")
        counts[split] = frame.num_rows
    return counts


def _json_array(items: pa.Array) -> pa.Array:
    """Lines of a JSON array of ``items`` (each already JSON): "[", items with commas, "]"."""
    if not len(items):
        return pa.array(["[]"], pa.string())
    commas = pa.array(np.r_[np.full(len(items) - 1, ","), [""]].astype(object), pa.string())
    body = pc.binary_join_element_wise("  ", items, commas, "")
    return pa.concat_arrays(
        [pa.array(["["], pa.string()), body.cast(pa.string()), pa.array(["]"], pa.string())]
    )


def _videodpo(work: Path, pairs: Pairs, view: _Criterion) -> dict[str, int]:
    """VideoDPO's metadata.json (one item per video) and pair.json (winner and loser indices), train only.

    VideoDPO trains on one file pair and has no evaluation split of its own: the validation and test
    pairs stay for the other adapters. ``score`` is left out (see manifest_entry).
    """
    cols = pairs.columns
    at = view.rows(pairs, SPLITS.index("train"), decided_only=True)
    rows = at.to_numpy()
    a_ids, b_ids = cols["video_a_id"].to_numpy()[rows], cols["video_b_id"].to_numpy()[rows]
    videos, inverse = np.unique(np.concatenate([a_ids, b_ids]), return_inverse=True)
    a_index, b_index = inverse[: len(rows)], inverse[len(rows) :]
    # Each video's path, duration and caption from the first pair that shows it.
    first_seen = np.full(len(videos), -1, dtype=np.int64)
    both_rows = np.concatenate([rows, rows])
    order = np.argsort(inverse, kind="stable")
    starts = np.searchsorted(inverse[order], np.arange(len(videos)))
    first_seen = both_rows[order[starts]] if len(videos) else first_seen
    is_a = order[starts] < len(rows) if len(videos) else np.zeros(0, dtype=bool)
    seen = pa.array(first_seen, type=pa.int64())
    path = pc.if_else(pa.array(is_a), cols["video_a_path"].take(seen), cols["video_b_path"].take(seen))
    frames = pc.if_else(pa.array(is_a), cols["num_frames_a"].take(seen), cols["num_frames_b"].take(seen))
    fps = pc.if_else(pa.array(is_a), cols["fps_a"].take(seen), cols["fps_b"].take(seen))
    duration = pc.divide(pc.cast(frames, pa.float64()), fps)
    caption = _json_literals(cols["shown_prompt"].take(seen)) if len(videos) else pa.array([], pa.string())
    duration_text = pc.cast(pc.fill_null(pc.round(duration, 6), 0.0), pa.string())
    metadata = pc.binary_join_element_wise(
        '{"basic": {"clip_path": "',
        path,
        '", "clip_duration": ',
        duration_text,
        '}, "misc": {"frame_caption": ',
        caption,
        "}}",
        "",
    )
    a_wins = view.lab.label[rows] == "A"
    winner = np.where(a_wins, a_index, b_index)
    loser = np.where(a_wins, b_index, a_index)
    pair_caption = _json_literals(cols["shown_prompt"].take(at)) if len(rows) else pa.array([], pa.string())
    pair = pc.binary_join_element_wise(
        '{"video1": ',
        pc.cast(pa.array(winner, type=pa.int64()), pa.string()),
        ', "video2": ',
        pc.cast(pa.array(loser, type=pa.int64()), pa.string()),
        ', "frame_caption": ',
        pair_caption,
        ', "comparison_id": ',
        pc.cast(cols["comparison_id"].take(at), pa.string()),
        "}",
        "",
    )
    folder = work / f"adapters/videodpo/{view.name}"
    write.write_lines(_json_array(metadata), folder / "metadata.json")
    write.write_lines(_json_array(pair), folder / "pair.json")
    return {"metadata": len(videos), "pairs": len(rows)}


def _judge(work: Path, pairs: Pairs, refs: _References, view: _Criterion) -> dict[str, int]:
    """Both orders of each passing comparison; a tie answers "equally good", a both-bad majority apart."""
    cols = pairs.columns
    label = view.lab.label
    n = view.lab.n_a + view.lab.n_b + view.lab.n_tie
    both_bad = (label == "tie") & (2 * view.both_bad > n)
    all_refs = pa.array(view.conditioning == _ALL_REFERENCES, type=pa.bool_())
    media = pc.if_else(all_refs, refs.all_media, refs.primary_media)
    media = pc.if_else(pc.equal(media, ""), media, pc.binary_join_element_wise(media, ", ", ""))
    with_prompt = pc.binary_join_element_wise(
        view.question + "\nPrompt: ", pc.cast(cols["shown_prompt"], pa.string()), ""
    )
    text = pc.if_else(all_refs, pa.scalar(view.question, pa.string()), with_prompt)
    text_json = _json_literals(text)
    conditioning = view.conditioning_names()
    header = '{"comparison_id": '
    counts = {}
    for index, split in enumerate(SPLITS):
        at = view.rows(pairs, index)
        rows = at.to_numpy()
        lines = []
        for order, (first, second, winner) in enumerate(
            (("video_a_path", "video_b_path", "A"), ("video_b_path", "video_a_path", "B"))
        ):
            answer = np.where(label[rows] == winner, ANSWERS["first"], ANSWERS["second"]).astype(object)
            answer[label[rows] == "tie"] = ANSWERS["tie"]
            answer[both_bad[rows]] = ANSWERS["both_bad"]
            lines.append(
                pc.binary_join_element_wise(
                    header,
                    pc.cast(cols["comparison_id"].take(at), pa.string()),
                    ', "order": "' + ("AB" if order == 0 else "BA") + '", "conditioning_shown": "',
                    conditioning.take(at),
                    '", "messages": [{"role": "user", "content": [',
                    media.take(at),
                    '{"type": "video", "video": "',
                    cols[first].take(at),
                    '"}, {"type": "video", "video": "',
                    cols[second].take(at),
                    '"}, {"type": "text", "text": ',
                    text_json.take(at),
                    '}]}, {"role": "assistant", "content": [{"type": "text", "text": "',
                    pa.array(answer, pa.string()),
                    '"}]}]}',
                    "",
                )
            )
        # Comparison order, AB before BA.
        both = pa.concat_arrays([line.cast(pa.string()) for line in lines])
        interleave = np.column_stack([np.arange(len(rows)), np.arange(len(rows)) + len(rows)]).ravel()
        write.write_lines(
            both.take(pa.array(interleave, type=pa.int64())),
            work / f"adapters/judge/{view.name}/{split}.jsonl",
        )
        counts[split] = 2 * len(rows)
    return counts


def _rl_prompts(work: Path, pairs: Pairs, refs: _References, identities: pa.Table) -> dict[str, int]:
    """One row per distinct (identity, prompt) case of each split, sorted by identity and prompt id.

    Every exported comparison's case counts, passing or not: a prompt set needs no label.
    """
    cols = pairs.columns
    identity = cols["identity_id"].to_numpy()
    prompt = cols["prompt_id"].to_numpy()
    slugs = identities["slug"].take(tables.positions(identities["identity_id"].to_numpy(), identity))
    one_line = pc.replace_substring_regex(cols["shown_prompt"], r"[\r\n]+", " ")
    prompt_json = _json_literals(one_line)
    differential_json = _json_literals(cols["differential_prompt"])
    slug_json = _json_literals(_single(slugs))
    paths_json = pc.binary_join_element_wise("[", pc.binary_join(_quoted_list(refs.paths), ", "), "]", "")
    primary_json = pc.if_else(
        pc.is_valid(refs.primary),
        pc.binary_join_element_wise('"', refs.primary, '"', ""),
        pa.scalar("null", pa.string()),
    )
    counts = {}
    folder = work / "adapters/rl_prompts"
    for index, split in enumerate(SPLITS):
        in_split = np.flatnonzero(pairs.split == index)
        order = in_split[np.lexsort((prompt[in_split], identity[in_split]))]
        keys = np.stack([identity[order], prompt[order]], axis=1)
        first = np.ones(len(order), dtype=bool)
        first[1:] = np.any(keys[1:] != keys[:-1], axis=1)
        at = pa.array(order[first], type=pa.int64())
        write.write_lines(one_line.take(at), folder / f"{split}.txt")
        metadata = pc.binary_join_element_wise(
            '{"prompt": ',
            prompt_json.take(at),
            ', "differential_prompt": ',
            differential_json.take(at),
            ', "identity": ',
            slug_json.take(at),
            ', "identity_id": ',
            pc.cast(cols["identity_id"].take(at), pa.string()),
            ', "prompt_id": ',
            pc.cast(cols["prompt_id"].take(at), pa.string()),
            ', "reference_paths": ',
            paths_json.take(at),
            ', "primary_reference_path": ',
            primary_json.take(at),
            "}",
            "",
        )
        write.write_lines(metadata, folder / f"{split}_metadata.jsonl")
        csv_rows = table(
            [
                ("ref_paths", pa.string(), refs.joined.take(at)),
                ("prompt", pa.string(), one_line.take(at)),
                ("identity", pa.string(), _single(slugs).take(at)),
                ("primary_reference_path", pa.string(), refs.primary.take(at)),
            ]
        )
        write.write_csv(csv_rows, folder / f"{split}.csv")
        # DanceGRPO: "path" is the case's conditioning image (its primary reference), "cap" the prompt.
        captions = pc.binary_join_element_wise(
            '{"path": ', primary_json.take(at), ', "cap": ', prompt_json.take(at), "}", ""
        )
        name = "videos2caption.json" if split == "train" else f"{split}_videos2caption.json"
        write.write_lines(_json_array(captions), folder / name)
        counts[split] = len(at)
    return counts


def _quoted_list(paths: pa.ListArray) -> pa.ListArray:
    offsets = paths.offsets.to_numpy()
    quoted = pc.binary_join_element_wise('"', paths.flatten(), '"', "")
    return pa.ListArray.from_arrays(pa.array(offsets - offsets[0], type=pa.int32()), _single(quoted))
