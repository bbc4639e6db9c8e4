"""The three adapter formats, per split: VideoAlign-style CSV, DPO pairs (Parquet), TRL-style JSON Lines.

Only comparisons that pass the filters are written. Everything is built with Arrow kernels: 200k
comparisons times several criteria are too many rows for Python loops.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from exports import aggregate, write
from exports.options import SPLITS
from exports.tables import Pairs, table

# VideoAlign's CSV names a tie "same"; a criterion that does not pass leaves its cell empty.
_VIDEOALIGN = {"A": "A", "B": "B", "tie": "same"}


def _cells(lab: aggregate.Labels) -> np.ndarray:
    cells = np.full(len(lab.label), "", dtype=object)
    for label, cell in _VIDEOALIGN.items():
        cells[lab.passes_filter & (lab.label == label)] = cell
    return cells


def _json_literals(values: pa.Array) -> pa.Array:
    """Each value as a JSON string literal, encoding every distinct value once (they repeat a lot)."""
    encoded = pc.dictionary_encode(values)
    literals = pa.array(
        [json.dumps(v, ensure_ascii=False) for v in encoded.dictionary.to_pylist()], pa.string()
    )
    return literals.take(encoded.indices)


def _path_literals(paths: pa.Array) -> pa.Array:
    # Snapshot paths are "media/" + hex digest + an alphanumeric suffix: nothing in them needs escaping.
    return pc.binary_join_element_wise('"', paths, '"', "")


def write_adapters(
    *,
    work: Path,
    pairs: Pairs,
    criteria: tuple[str, ...],
    labels: dict[str, aggregate.Labels],
    joint: aggregate.Labels | None,
) -> dict[str, Any]:
    counts: dict[str, Any] = {"videoalign": {}, "dpo_pairs": {}, "trl": {}}
    named = [(c, labels[c]) for c in criteria] + ([("joint", joint)] if joint is not None else [])
    cols = pairs.columns
    any_pass = np.zeros(len(pairs), dtype=bool)
    for criterion in criteria:
        any_pass |= labels[criterion].passes_filter
    cells = {criterion: _cells(labels[criterion]) for criterion in criteria}
    prompt_json = _json_literals(pairs.whole("shown_prompt"))
    a_json, b_json = _path_literals(pairs.whole("video_a_path")), _path_literals(pairs.whole("video_b_path"))

    for index, split in enumerate(SPLITS):
        in_split = pairs.split == index
        rows = pa.array(np.flatnonzero(in_split & any_pass), type=pa.int64())
        videoalign = table(
            [
                ("path_A", pa.string(), cols["video_a_path"].take(rows)),
                ("path_B", pa.string(), cols["video_b_path"].take(rows)),
                ("prompt", pa.string(), cols["shown_prompt"].take(rows)),
                *[(c, pa.string(), cells[c][rows.to_numpy()]) for c in criteria],
                ("fps_A", pa.float64(), cols["fps_a"].take(rows)),
                ("num_frames_A", pa.int64(), cols["num_frames_a"].take(rows)),
                ("fps_B", pa.float64(), cols["fps_b"].take(rows)),
                ("num_frames_B", pa.int64(), cols["num_frames_b"].take(rows)),
            ]
        )
        write.write_csv(videoalign, work / f"adapters/videoalign/{split}.csv")
        counts["videoalign"][split] = videoalign.num_rows

        trl_rows: list[tuple[np.ndarray, int, pa.Array]] = []
        for order, (name, lab) in enumerate(named):
            decided = np.flatnonzero(in_split & lab.passes_filter & ((lab.label == "A") | (lab.label == "B")))
            a_wins = lab.label[decided] == "A"
            at = pa.array(decided, type=pa.int64())
            # Ties stay out: some DPO trainers read label 0.5 as a win for video_0.
            dpo = table(
                [
                    ("caption", pa.string(), cols["shown_prompt"].take(at)),
                    ("video_0", pa.string(), cols["video_a_path"].take(at)),
                    ("video_1", pa.string(), cols["video_b_path"].take(at)),
                    ("label_0", pa.float64(), a_wins.astype(np.float64)),
                    ("label_1", pa.float64(), (~a_wins).astype(np.float64)),
                ]
            )
            write.write_parquet(dpo, work / f"adapters/dpo_pairs/{name}/{split}.parquet")
            counts["dpo_pairs"].setdefault(name, {})[split] = dpo.num_rows
            wins = pa.array(a_wins, type=pa.bool_())
            line = pc.binary_join_element_wise(
                '{"prompt": ',
                prompt_json.take(at),
                ', "chosen": ',
                pc.if_else(wins, a_json.take(at), b_json.take(at)),
                ', "rejected": ',
                pc.if_else(wins, b_json.take(at), a_json.take(at)),
                ', "criterion": ' + json.dumps(name) + "}",
                "",
            )
            trl_rows.append((cols["comparison_id"].take(at).to_numpy(), order, line))
        write.write_lines(_in_comparison_order(trl_rows), work / f"adapters/trl/{split}.jsonl")
        counts["trl"][split] = sum(len(line) for _, _, line in trl_rows)
    return counts


def _in_comparison_order(parts: list[tuple[np.ndarray, int, pa.Array]]) -> pa.Array:
    """TRL lines sorted by comparison, then by criterion in export order (the joint label last)."""
    if not parts:
        return pa.array([], type=pa.string())
    ids = np.concatenate([ids for ids, _, _ in parts])
    orders = np.concatenate([np.full(len(ids), order) for ids, order, _ in parts])
    lines = pa.concat_arrays([line for _, _, line in parts])
    return lines.take(pa.array(np.lexsort((orders, ids)), type=pa.int64()))
