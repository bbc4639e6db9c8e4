"""Schema 2: each pair's provenance (``pair_construction``) and ``data/groups.parquet``, one row per case.

A case is what the videos compared side by side share: the identity (hence its reference gallery), the
prompt and the output shape (width, height, frames, fps). Its videos differ by seed, settings, checkpoint
or method; each keeps its method, seed and ``setup`` (method and settings without the seed), so that a
consumer that wants a group of one setup (GRPO-style: several seeds of one policy) takes the videos of a
row with equal ``setups``. Within a case every video gets a Bradley–Terry score per criterion from the
dataset's votes on comparisons of that case (annotate.bradley_terry), vectorised over every case at once.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from annotate import bradley_terry
from exports import tables, write
from exports.options import SPLITS
from lib.memory import release_freed_memory

CONSTRUCTIONS = ("independent_seeds", "cross_checkpoint", "cross_method", "story_shots")
PAIR_CONSTRUCTION_RULE = {
    "independent_seeds": "both videos have the same setup: same method, same settings but the seed",
    "cross_checkpoint": "the same method with settings that differ beyond the seed, or two methods on the "
    "same base model (its name and revision) that differ by checkpoint, LoRA or settings",
    "cross_method": "two methods that do not share a named base model",
    "story_shots": "reserved for shots of one narrative; not produced yet",
    "setup": "a video's method id and its merged settings (the method's overlaid by the video's) without "
    "a top-level seed key; videos.settings holds them",
}
GROUPS_RULE = {
    "file": "data/groups.parquet",
    "case": "identity (hence its reference gallery), prompt, width, height, num_frames, fps; one row per "
    "case, sorted by these; video lists sorted by video id",
    "videos": "every video of the exported pairs is in exactly one case; setups lists each video's "
    "setup (method and settings without the seed): equal setups differ by seed alone",
    "score": "Bradley–Terry log-strength per criterion, fitted within the case from the counted votes of "
    "its comparisons, centred to mean 0 within the case; null for a video without a vote",
    "ties": "a tie (both_bad counts as a tie) is half a win to each side; with ties dropped they count "
    "nowhere, as in the pairs",
    "prior": f"L2 penalty alpha * sum(score**2) with alpha = {bradley_terry.ALPHA} (choix's opt_pairwise "
    "alpha): a video that won every comparison keeps a finite score",
    "interval": "score ± 1.96 standard errors from the inverse Hessian of the penalised log-likelihood, "
    "projected on scores that sum to zero",
    "rank": "1 = best within the case; equal scores (to 6 decimals) share the best of their ranks "
    "(1, 2, 2, 4), no arbitrary first; null for a video without a vote",
    "votes": "counted votes on the video's comparisons within the case (the pairs' n)",
}


def video_setups(videos: pa.Table) -> np.ndarray:
    """Each video's setup: a short hash of its method id and settings without a top-level seed.

    JSON is parsed and hashed once per distinct settings text and method, not once per video.
    """
    texts = pc.dictionary_encode(videos["settings"]).combine_chunks()
    parsed = np.array([_without_seed(text) for text in texts.dictionary.to_pylist()], dtype=object)
    text_code = texts.indices.to_numpy(zero_copy_only=False).astype(np.int64)
    methods = videos["method_id"].to_numpy()
    keys, key_of_video = np.unique(methods * len(parsed) + text_code, return_inverse=True)
    digests = np.array(
        [
            hashlib.sha256(f"{key // len(parsed)}\n{parsed[key % len(parsed)]}".encode()).hexdigest()[:16]
            for key in keys.tolist()
        ],
        dtype=object,
    )
    return digests[key_of_video.reshape(-1)]


def _without_seed(text: str) -> str:
    settings = json.loads(text)
    if isinstance(settings, dict):
        settings.pop("seed", None)
    return json.dumps(settings, sort_keys=True, separators=(",", ":"))


def pair_construction(*, video_a_ids: np.ndarray, video_b_ids: np.ndarray, videos: pa.Table) -> pa.Array:
    """How each pair was made, from its two videos (PAIR_CONSTRUCTION_RULE)."""
    ids = videos["id"].to_numpy()
    a, b = np.searchsorted(ids, video_a_ids), np.searchsorted(ids, video_b_ids)
    setups = video_setups(videos)
    methods = videos["method_id"].to_numpy()
    # Base models as codes of their distinct names; a missing name is -1 and shares no base model.
    named = pc.if_else(pc.equal(videos["base_model"], ""), None, videos["base_model"])
    bases = pc.dictionary_encode(named).combine_chunks().indices.fill_null(-1).to_numpy()
    same_base = (bases[a] == bases[b]) & (bases[a] >= 0)
    code = np.where(setups[a] == setups[b], 0, np.where((methods[a] == methods[b]) | same_base, 1, 2)).astype(
        np.int64
    )
    return pa.array(CONSTRUCTIONS, type=pa.string()).take(pa.array(code, type=pa.int64()))


def pair_construction_of(pairs: tables.Pairs, videos: pa.Table) -> pa.Array:
    """``pair_construction`` of every pair, in the pairs' order."""
    return pair_construction(
        video_a_ids=pairs.numbers("video_a_id"),
        video_b_ids=pairs.numbers("video_b_id"),
        videos=videos,
    )


def with_construction(pairs_table: pa.Table, construction: pa.Array) -> pa.Table:
    """The pairs with ``pair_construction`` after ``are_different``."""
    at = pairs_table.schema.get_field_index("are_different") + 1
    return pairs_table.add_column(at, pa.field("pair_construction", pa.string()), construction)


def groups_write(
    *,
    work: Path,
    comparisons: pa.Table,
    counts: np.ndarray,
    criteria: tuple[str, ...],
    videos: pa.Table,
    prompts: pa.Table,
    galleries: tables.Galleries,
    split_of_pair: np.ndarray,
) -> dict[str, Any]:
    """Write data/groups.parquet; returns the manifest's entries that state its rules."""
    groups, across = groups_table(
        comparisons=comparisons,
        counts=counts,
        criteria=criteria,
        videos=videos,
        prompts=prompts,
        galleries=galleries,
        split_of_pair=split_of_pair,
    )
    write.write_parquet(groups, work / "data/groups.parquet")
    rule = GROUPS_RULE | {"rows": groups.num_rows, "comparisons_across_cases": across}
    rule["comparisons_across_cases_rule"] = (
        "a comparison of two videos of different shapes is in no case's fit (its votes stay in the pairs)"
    )
    return {"groups": rule, "pair_construction_rule": PAIR_CONSTRUCTION_RULE}


def groups_table(
    *,
    comparisons: pa.Table,
    counts: np.ndarray,
    criteria: tuple[str, ...],
    videos: pa.Table,
    prompts: pa.Table,
    galleries: tables.Galleries,
    split_of_pair: np.ndarray,
) -> tuple[pa.Table, int]:
    """One row per case with its videos' lists and per-criterion scores; and the comparisons across cases."""
    key_names = ("identity_id", "prompt_id", "width", "height", "num_frames", "fps")
    keys = [videos[name].to_numpy() for name in key_names]
    video_ids = videos["id"].to_numpy()
    order = np.lexsort([video_ids, *reversed(keys)])
    sorted_keys = [key[order] for key in keys]
    starts_case = np.r_[True, np.any([k[1:] != k[:-1] for k in sorted_keys], axis=0)] if len(order) else []
    case_of_sorted = np.cumsum(starts_case) - 1
    case_of_video = np.empty(len(order), dtype=np.int64)
    case_of_video[order] = case_of_sorted
    starts = np.flatnonzero(starts_case)
    offsets = pa.array(np.r_[starts, len(order)], type=pa.int32())

    a = np.searchsorted(video_ids, comparisons["video_a_id"].to_numpy())
    b = np.searchsorted(video_ids, comparisons["video_b_id"].to_numpy())
    within = case_of_video[a] == case_of_video[b]

    def listed(values: Any, kind: pa.DataType) -> pa.ListArray:
        flat = tables.arrow(values, kind)
        flat = flat.combine_chunks() if isinstance(flat, pa.ChunkedArray) else flat
        return pa.ListArray.from_arrays(offsets, flat)

    identity = sorted_keys[0][starts]
    prompt_at = tables.positions(prompts["prompt_id"].to_numpy(), sorted_keys[1][starts])
    identity_of_pair = comparisons["identity_id"].to_numpy()
    pair_identities, first_pair = np.unique(identity_of_pair, return_index=True)
    split_code = split_of_pair[first_pair][np.searchsorted(pair_identities, identity)]
    in_order = pa.array(order, type=pa.int64())

    def listed_in_order(values: pa.Array | pa.ChunkedArray, kind: pa.DataType) -> pa.ListArray:
        return listed(values.take(in_order), kind)

    columns: list[tables.Column] = [
        ("case_id", pa.int64(), np.arange(len(starts))),
        (
            "split",
            pa.string(),
            pa.array(SPLITS, type=pa.string()).take(pa.array(split_code, type=pa.int64())),
        ),
        ("identity_id", pa.int64(), identity),
        ("prompt_id", pa.int64(), sorted_keys[1][starts]),
        ("prompt", pa.string(), prompts["full_text"].take(prompt_at)),
        ("differential_prompt", pa.string(), prompts["differential_text"].take(prompt_at)),
        ("reference_ids", pa.list_(pa.int64()), galleries.lists_for(identity)),
        ("primary_reference_id", pa.int64(), galleries.primary_for(identity)),
        ("width", pa.int64(), sorted_keys[2][starts]),
        ("height", pa.int64(), sorted_keys[3][starts]),
        ("num_frames", pa.int64(), sorted_keys[4][starts]),
        ("fps", pa.float64(), sorted_keys[5][starts]),
        ("n_videos", pa.int64(), np.diff(np.r_[starts, len(order)])),
        ("video_ids", pa.list_(pa.int64()), listed(video_ids[order], pa.int64())),
        # Each column taken in case order on its own: the videos' other text (hashes, files, settings) is
        # never copied.
        ("video_paths", pa.list_(pa.string()), listed_in_order(tables.media_paths(videos), pa.string())),
        ("methods", pa.list_(pa.string()), listed_in_order(videos["method"], pa.string())),
        ("method_roles", pa.list_(pa.string()), listed_in_order(videos["method_role"], pa.string())),
        ("seeds", pa.list_(pa.int64()), listed_in_order(videos["seed"], pa.int64())),
        ("setups", pa.list_(pa.string()), listed(video_setups(videos)[order], pa.string())),
    ]
    first, second = a[within], b[within]
    for index, criterion in enumerate(criteria):
        n_a, n_b, n_tie = (counts[within, index, k].astype(np.float64) for k in range(3))
        release_freed_memory()  # the last criterion's fit, before this one's (lib.memory)
        fit = bradley_terry.fit_groups(
            group_of_item=case_of_video,
            first=first,
            second=second,
            wins_first=n_a + n_tie / 2,
            wins_second=n_b + n_tie / 2,
        )
        columns += [
            (
                f"{criterion}_votes",
                pa.list_(pa.int64()),
                listed(fit.votes[order].astype(np.int64), pa.int64()),
            ),
            (f"{criterion}_score", pa.list_(pa.float64()), listed(fit.score[order], pa.float64())),
            (f"{criterion}_score_low", pa.list_(pa.float64()), listed(fit.low[order], pa.float64())),
            (f"{criterion}_score_high", pa.list_(pa.float64()), listed(fit.high[order], pa.float64())),
            (f"{criterion}_rank", pa.list_(pa.int64()), listed(_nulls_at_zero(fit.rank[order]), pa.int64())),
        ]
    return tables.table(columns), int((~within).sum())


def _nulls_at_zero(rank: np.ndarray) -> pa.Array:
    return pa.array(rank, type=pa.int64(), mask=rank == 0)
