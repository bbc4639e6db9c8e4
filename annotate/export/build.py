"""``export_build``: one snapshot directory in the format of shared/export-spec.md (schema v1)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from django.apps import apps
from django.conf import settings

from annotate.export import aggregate, card, read, write
from annotate.export.options import SPLITS, ExportOptions
from annotate.stats_agreement import agreement

SCHEMA_VERSION = 1
ProgressFn = Callable[[float, str], None]


class ExportError(Exception):
    """The export cannot be written (target exists, a media file is missing): a clear message, no 500."""


@dataclass(frozen=True)
class ExportResult:
    path: Path
    manifest: dict[str, Any]


def _no_progress(fraction: float, message: str) -> None:
    return None


def app_version() -> str:
    try:
        return metadata.version("preference-annotation")
    except metadata.PackageNotFoundError:
        return "unknown"


def export_build(
    *, options: ExportOptions, out_dir: Path, progress: ProgressFn | None = None
) -> ExportResult:
    """Read the selected judgments and their catalog, aggregate, and write the snapshot to ``out_dir``.

    The snapshot is written beside ``out_dir`` and renamed into place at the end, so a killed export never
    leaves a half-written directory under the final name; an existing, non-empty ``out_dir`` is refused
    because snapshots are immutable.
    """
    report = progress or _no_progress
    out_dir = Path(out_dir).resolve()
    if out_dir.exists() and any(out_dir.iterdir()):
        raise ExportError(f"{out_dir} already exists and is not empty: snapshots are never overwritten")
    work = out_dir.with_name(f".{out_dir.name}.partial-{os.getpid()}")
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    try:
        report(0.02, "Checking the options")
        tracks, studies = read.sources_check(options)
        excluded = read.raters_resolve(options.exclude_raters)
        report(0.05, "Reading judgments")
        with read.consistent_reads():
            data = _read_all(options=options, excluded=excluded, report=report)
        manifest = _write_all(work=work, data=data, options=options, excluded=excluded, report=report)
        manifest["sources"] = {"tracks": tracks or data.tracks_seen, "studies": studies or data.studies_seen}
        _finish(work=work, manifest=manifest, options=options)
        if out_dir.exists():
            out_dir.rmdir()  # empty, checked above
        os.replace(work, out_dir)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    report(1.0, "Done")
    return ExportResult(path=out_dir, manifest=manifest)


# --- reading ------------------------------------------------------------------------------------


@dataclass
class _Data:
    votes: pa.Table
    criteria: tuple[str, ...]
    comparison_ids: np.ndarray
    counts: np.ndarray
    comparisons: pd.DataFrame
    videos: pd.DataFrame
    prompts: pd.DataFrame
    identities: pd.DataFrame
    references: pd.DataFrame
    tracks_seen: list[dict[str, Any]]
    studies_seen: list[dict[str, Any]]


def _read_all(*, options: ExportOptions, excluded: set[int], report: ProgressFn) -> _Data:
    votes = read.votes_read(options=options, excluded_raters=excluded)
    # Joint criteria always get their columns, even without a vote: the joint label reads them.
    criteria = options.criteria or aggregate.criteria_ordered(
        set(aggregate.criteria_present(votes)) | set(options.joint_criteria)
    )
    comparison_ids, counts = aggregate.vote_counts(
        votes=votes, criteria=criteria, keep_ties=options.keep_ties
    )
    report(0.25, "Reading comparisons and videos")
    comparisons = read.comparisons_read(comparison_ids=comparison_ids)
    video_ids = np.unique(np.concatenate([comparisons["video_a_id"], comparisons["video_b_id"]]))
    identity_ids = np.unique(comparisons["identity_id"].to_numpy())
    videos = read.videos_read(video_ids=video_ids)
    prompts = read.prompts_read(prompt_ids=np.unique(comparisons["prompt_id"].to_numpy()))
    identities = read.identities_read(identity_ids=identity_ids)
    references = read.references_read(identity_ids=identity_ids)
    return _Data(
        votes=votes,
        criteria=criteria,
        comparison_ids=comparison_ids,
        counts=counts,
        comparisons=comparisons,
        videos=videos,
        prompts=prompts,
        identities=identities,
        references=references,
        tracks_seen=_sources_seen(votes, "track_id", "annotate", "Track", ("id", "name", "kind")),
        studies_seen=_sources_seen(votes, "study_id", "studies", "Study", ("id", "name")),
    )


def _sources_seen(votes: pa.Table, column: str, app: str, model: str, fields: tuple[str, ...]) -> list[dict]:
    ids = [i for i in pc.unique(votes[column]).to_pylist() if i is not None]
    if not ids:
        return []
    return list(apps.get_model(app, model).objects.filter(pk__in=ids).order_by("pk").values(*fields))


# --- writing ------------------------------------------------------------------------------------


def _media_paths(frame: pd.DataFrame) -> pd.Series:
    """``media/<sha256><suffix>``: where the file is (or would be, with ``--media none``) in the snapshot."""
    suffix = frame["file"].str.extract(r"(\.[A-Za-z0-9]+)$", expand=False).str.lower().fillna("")
    return "media/" + frame["sha256"] + suffix


def _shown_prompt(prompts: pd.DataFrame) -> pd.Series:
    # What raters read and what the model was asked for: the differential text for differential tasks.
    differential = (prompts["task"] == "differential") & (prompts["differential_text"].str.len() > 0)
    return prompts["differential_text"].where(differential, prompts["full_text"])


def _write_all(
    *, work: Path, data: _Data, options: ExportOptions, excluded: set[int], report: ProgressFn
) -> dict[str, Any]:
    report(0.35, "Writing votes")
    write.write_parquet(_votes_table(data.votes), work / "data/votes.parquet")

    report(0.45, "Aggregating comparisons")
    labels = {
        criterion: aggregate.criterion_labels(
            data.counts[:, index, :],
            keep_ties=options.keep_ties,
            min_votes=options.min_votes,
            min_majority=options.min_majority,
        )
        for index, criterion in enumerate(data.criteria)
    }
    joint = None
    if options.joint_criteria:
        joint = aggregate.joint_labels(
            [labels[c] for c in options.joint_criteria], rule=options.joint_rule, keep_ties=options.keep_ties
        )
    pairs, split_summary = _pairs_frame(data=data, options=options)
    pairs_table = _pairs_table(pairs, data.criteria, labels, joint)
    for split in SPLITS:
        write.write_parquet(
            pairs_table.filter(pc.equal(pairs_table["split"], split)), work / f"data/pairs/{split}.parquet"
        )

    report(0.6, "Writing videos and references")
    videos = data.videos.assign(path=_media_paths(data.videos))
    references = data.references.assign(path=_media_paths(data.references))
    write.write_parquet(_videos_table(videos, references), work / "data/videos.parquet")
    write.write_parquet(_references_table(references), work / "data/references.parquet")

    report(0.7, "Measuring agreement")
    agreement_data = {
        "categories": list(aggregate.CATEGORIES),
        "ties": "kept" if options.keep_ties else "dropped",
        "computed_over": "every exported comparison, before the min-votes and min-majority filters",
        "criteria": {c: agreement(data.counts[:, i, :]).as_dict() for i, c in enumerate(data.criteria)},
    }
    write.write_json(agreement_data, work / "data/agreement.json")

    report(0.75, "Writing adapters")
    adapter_counts = _write_adapters(
        work=work, pairs=pairs, criteria=data.criteria, labels=labels, joint=joint
    )

    media_files = _write_media(
        work=work, videos=videos, references=references, mode=options.media, report=report
    )

    newest = pc.max(data.votes["created_us"]).as_py() if data.votes.num_rows else None
    created_at = (
        datetime.fromtimestamp(newest / 1e6, tz=UTC).isoformat().replace("+00:00", "Z") if newest else None
    )
    passing = {c: int(labels[c].passes_filter.sum()) for c in data.criteria}
    if joint is not None:
        passing["joint"] = int(joint.passes_filter.sum())
    return {
        "schema_version": SCHEMA_VERSION,
        "format": "preference-annotation export",
        "name": options.name,
        "app_version": app_version(),
        "pyarrow_version": pa.__version__,
        "created_at": created_at,
        # Not the wall clock: the same database and options must give the same bytes, manifest included.
        "created_at_rule": "time of the newest exported judgment",
        "filters": options.manifest_filters(excluded_rater_count=len(excluded)),
        "aggregation": {
            "criteria": list(data.criteria),
            "categories": {"A": ["A"], "B": ["B"], "tie": ["tie", "both_bad"] if options.keep_ties else []},
            "ties": "kept" if options.keep_ties else "dropped",
            "label": "plurality of A, B, tie; a shared top count gives tie; no vote gives none",
            "p_a": "(n_a + n_tie / 2) / n",
            "majority_share": "top count / n",
            "passes_filter": "n >= min_votes and majority_share >= min_majority and label is A or B"
            + (" or tie" if options.keep_ties else ""),
            "joint": {"criteria": list(options.joint_criteria), "rule": options.joint_rule}
            if options.joint_criteria
            else None,
        },
        "split": split_summary | {"seed": options.split_seed},
        "counts": {
            "votes": data.votes.num_rows,
            "raters": len(pc.unique(data.votes["rater_pk"])),
            "pairs": len(pairs),
            "pairs_passing": passing,
            "videos": len(videos),
            "references": len(references),
            "adapters": adapter_counts,
        },
        "media": {"mode": options.media, "files": media_files},
    }


def _votes_table(votes: pa.Table) -> pa.Table:
    raters, codes = np.unique(votes["rater_pk"].to_numpy(), return_inverse=True)
    public = pa.array([read.rater_public_id(int(pk)) for pk in raters], type=pa.string())
    is_track = pc.is_valid(votes["track_id"])
    columns = {
        "judgment_id": votes["judgment_id"],
        "comparison_id": votes["comparison_id"],
        "rater_id": public.take(pa.array(codes, type=pa.int64()))
        if len(raters)
        else pa.array([], pa.string()),
        "source": pc.if_else(is_track, "track", "study"),
        "source_id": pc.coalesce(votes["track_id"], votes["study_id"]),
        "criterion": votes["criterion"],
        "choice": votes["choice"],
        "shown_left": votes["shown_left"],
        "created_at": pc.cast(votes["created_us"], pa.timestamp("us", tz="UTC")),
        "response_ms": votes["response_ms"],
        "watched_a": votes["watched_a"],
        "watched_b": votes["watched_b"],
        "selection_policy": votes["selection_policy"],
        "selection_probability": votes["selection_probability"],
    }
    schema = pa.schema(
        [
            ("judgment_id", pa.int64()),
            ("comparison_id", pa.int64()),
            ("rater_id", pa.string()),
            ("source", pa.string()),
            ("source_id", pa.int64()),
            ("criterion", pa.string()),
            ("choice", pa.string()),
            ("shown_left", pa.string()),
            ("created_at", pa.timestamp("us", tz="UTC")),
            ("response_ms", pa.int64()),
            ("watched_a", pa.float64()),
            ("watched_b", pa.float64()),
            ("selection_policy", pa.string()),
            ("selection_probability", pa.float64()),
        ]
    )
    return pa.table(
        {name: pa.chunked_array(_chunks(col), type=schema.field(name).type) for name, col in columns.items()},
        schema=schema,
    )


def _chunks(column: pa.Array | pa.ChunkedArray) -> list[pa.Array]:
    return column.chunks if isinstance(column, pa.ChunkedArray) else [column]


def _reference_lists(references: pd.DataFrame, identity_ids: np.ndarray) -> pa.Array:
    """One list of reference ids (gallery order) per identity in ``identity_ids``."""
    grouped = references.groupby("identity_id", sort=True)["id"].apply(list).to_dict()
    return pa.array([grouped.get(int(i), []) for i in identity_ids], type=pa.list_(pa.int64()))


def _pairs_frame(*, data: _Data, options: ExportOptions) -> tuple[pd.DataFrame, dict[str, Any]]:
    comparisons = data.comparisons
    if not np.array_equal(comparisons["comparison_id"].to_numpy(), data.comparison_ids):
        raise ExportError("comparisons changed while reading: run the export again")
    video = data.videos.set_index("id")
    paths = _media_paths(data.videos).set_axis(data.videos["id"])
    prompts = data.prompts.set_index("prompt_id")
    shown = _shown_prompt(data.prompts).set_axis(data.prompts["prompt_id"])
    slugs = dict(zip(data.identities["identity_id"].tolist(), data.identities["slug"].tolist(), strict=True))
    split_index, summary = aggregate.splits_assign(
        identity_of_pair=comparisons["identity_id"].to_numpy(),
        prompt_of_pair=comparisons["prompt_id"].to_numpy(),
        identity_slugs=slugs,
        fractions=options.split,
        seed=options.split_seed,
    )
    a, b = comparisons["video_a_id"], comparisons["video_b_id"]
    primary = data.references.loc[data.references["is_primary"].astype(bool)].set_index("identity_id")["id"]
    pairs = pd.DataFrame(
        {
            "comparison_id": comparisons["comparison_id"],
            "split": np.array(SPLITS, dtype=object)[split_index],
            "identity_id": comparisons["identity_id"],
            "prompt_id": comparisons["prompt_id"],
            "prompt": comparisons["prompt_id"].map(prompts["full_text"]),
            "differential_prompt": comparisons["prompt_id"].map(prompts["differential_text"]),
            "shown_prompt": comparisons["prompt_id"].map(shown),
            "primary_reference_id": comparisons["identity_id"].map(primary).astype("Int64"),
            "video_a_id": a,
            "video_b_id": b,
            "video_a_path": a.map(paths),
            "video_b_path": b.map(paths),
            "video_a_sha256": a.map(video["sha256"]),
            "video_b_sha256": b.map(video["sha256"]),
            "fps_a": a.map(video["fps"]),
            "num_frames_a": a.map(video["num_frames"]),
            "fps_b": b.map(video["fps"]),
            "num_frames_b": b.map(video["num_frames"]),
        }
    )
    pairs["are_different"] = pairs["video_a_sha256"] != pairs["video_b_sha256"]
    identity_ids = np.unique(comparisons["identity_id"].to_numpy())
    positions = np.searchsorted(identity_ids, comparisons["identity_id"].to_numpy())
    pairs.attrs["reference_ids"] = _reference_lists(data.references, identity_ids).take(pa.array(positions))
    return pairs, summary


def _pairs_table(
    pairs: pd.DataFrame,
    criteria: tuple[str, ...],
    labels: dict[str, aggregate.Labels],
    joint: aggregate.Labels | None,
) -> pa.Table:
    fields: list[tuple[str, pa.DataType, Any]] = [
        ("comparison_id", pa.int64(), pairs["comparison_id"]),
        ("split", pa.string(), pairs["split"]),
        ("identity_id", pa.int64(), pairs["identity_id"]),
        ("prompt_id", pa.int64(), pairs["prompt_id"]),
        ("prompt", pa.string(), pairs["prompt"]),
        ("differential_prompt", pa.string(), pairs["differential_prompt"]),
        ("reference_ids", pa.list_(pa.int64()), pairs.attrs["reference_ids"]),
        ("primary_reference_id", pa.int64(), pairs["primary_reference_id"]),
        ("video_a_id", pa.int64(), pairs["video_a_id"]),
        ("video_b_id", pa.int64(), pairs["video_b_id"]),
        ("video_a_path", pa.string(), pairs["video_a_path"]),
        ("video_b_path", pa.string(), pairs["video_b_path"]),
        ("video_a_sha256", pa.string(), pairs["video_a_sha256"]),
        ("video_b_sha256", pa.string(), pairs["video_b_sha256"]),
        ("are_different", pa.bool_(), pairs["are_different"]),
    ]
    for criterion in criteria:
        lab = labels[criterion]
        fields += [
            (f"{criterion}_n_a", pa.int64(), lab.n_a),
            (f"{criterion}_n_b", pa.int64(), lab.n_b),
            (f"{criterion}_n_tie", pa.int64(), lab.n_tie),
            (f"{criterion}_label", pa.string(), lab.label),
            (f"{criterion}_p_a", pa.float64(), lab.p_a),
            (f"{criterion}_majority_share", pa.float64(), lab.majority_share),
            (f"{criterion}_passes_filter", pa.bool_(), lab.passes_filter),
        ]
    if joint is not None:
        fields += [
            ("joint_label", pa.string(), joint.label),
            ("joint_p_a", pa.float64(), joint.p_a),
            ("joint_passes_filter", pa.bool_(), joint.passes_filter),
        ]
    return _table(fields)


def _table(fields: list[tuple[str, pa.DataType, Any]]) -> pa.Table:
    """An Arrow table of exactly these columns and types; NaN floats become nulls."""
    arrays = []
    for _name, kind, values in fields:
        if isinstance(values, pa.Array | pa.ChunkedArray):
            arrays.append(values.cast(kind))
            continue
        series = pd.Series(values) if not isinstance(values, pd.Series) else values
        arrays.append(pa.array(series.to_numpy(dtype=object), type=kind, from_pandas=True))
    schema = pa.schema([(name, kind) for name, kind, _ in fields])
    return pa.Table.from_arrays(arrays, schema=schema)


def _steps(values: pd.Series) -> pd.Series:
    numbers = pd.to_numeric(values, errors="coerce")
    return numbers.where(numbers == numbers.round()).astype("Int64")


def _videos_table(videos: pd.DataFrame, references: pd.DataFrame) -> pa.Table:
    identity_ids = np.unique(videos["identity_id"].to_numpy())
    positions = np.searchsorted(identity_ids, videos["identity_id"].to_numpy())
    reference_ids = _reference_lists(references, identity_ids).take(pa.array(positions))
    return _table(
        [
            ("id", pa.int64(), videos["id"]),
            ("sha256", pa.string(), videos["sha256"]),
            ("path", pa.string(), videos["path"]),
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
            ("reference_ids", pa.list_(pa.int64()), reference_ids),
            ("method_id", pa.int64(), videos["method_id"]),
            ("method", pa.string(), videos["method"]),
            ("method_role", pa.string(), videos["method_role"]),
            ("base_model", pa.string(), videos["base_model"]),
            ("checkpoint", pa.string(), videos["checkpoint"]),
            ("lora", pa.string(), videos["lora"]),
            ("lora_sha256", pa.string(), videos["lora_sha256"]),
            ("seed", pa.int64(), videos["seed"]),
            ("scheduler", pa.string(), videos["scheduler"]),
            ("steps", pa.int64(), _steps(videos["steps"])),
            ("guidance", pa.float64(), pd.to_numeric(videos["guidance"], errors="coerce")),
            ("flow_shift", pa.float64(), pd.to_numeric(videos["flow_shift"], errors="coerce")),
            ("negative_prompt", pa.string(), videos["negative_prompt"]),
            ("settings", pa.string(), videos["settings"]),
            ("origin", pa.string(), videos["origin"]),
        ]
    )


def _references_table(references: pd.DataFrame) -> pa.Table:
    frame = references.sort_values("id", kind="stable")
    return _table(
        [
            ("id", pa.int64(), frame["id"]),
            ("identity_id", pa.int64(), frame["identity_id"]),
            ("kind", pa.string(), frame["kind"]),
            ("path", pa.string(), frame["path"]),
            ("storage_name", pa.string(), frame["file"]),
            ("sha256", pa.string(), frame["sha256"]),
            ("bytes", pa.int64(), frame["bytes"]),
            ("width", pa.int64(), frame["width"]),
            ("height", pa.int64(), frame["height"]),
            ("duration", pa.float64(), frame["duration"]),
            ("fps", pa.float64(), frame["fps"]),
            ("num_frames", pa.int64(), frame["num_frames"]),
            ("is_primary", pa.bool_(), frame["is_primary"]),
            ("position", pa.int64(), frame["position"]),
            ("note", pa.string(), frame["note"]),
            ("consent_note", pa.string(), frame["consent_note"]),
        ]
    )


# --- adapters -----------------------------------------------------------------------------------

# VideoAlign's CSV names a tie "same".
_VIDEOALIGN_VALUE = {"A": "A", "B": "B", "tie": "same"}


def _write_adapters(
    *,
    work: Path,
    pairs: pd.DataFrame,
    criteria: tuple[str, ...],
    labels: dict[str, aggregate.Labels],
    joint: aggregate.Labels | None,
) -> dict[str, Any]:
    counts: dict[str, Any] = {"videoalign": {}, "dpo_pairs": {}, "trl": {}}
    named = [(c, labels[c]) for c in criteria] + ([("joint", joint)] if joint is not None else [])
    for split in SPLITS:
        in_split = (pairs["split"] == split).to_numpy()
        # VideoAlign: one row per comparison with at least one passing criterion; a criterion that does
        # not pass on that comparison leaves its cell empty.
        cells = {
            c: pd.Series(np.where(labels[c].passes_filter, labels[c].label, ""), dtype=object).map(
                lambda v: _VIDEOALIGN_VALUE.get(v, "")
            )
            for c in criteria
        }
        any_pass = np.zeros(len(pairs), dtype=bool)
        for c in criteria:
            any_pass |= labels[c].passes_filter
        rows = in_split & any_pass
        frame = pd.DataFrame(
            {
                "path_A": pairs["video_a_path"][rows],
                "path_B": pairs["video_b_path"][rows],
                "prompt": pairs["shown_prompt"][rows],
            }
            | {c: cells[c][rows].to_numpy() for c in criteria}
            | {
                "fps_A": pairs["fps_a"][rows],
                "num_frames_A": pairs["num_frames_a"][rows],
                "fps_B": pairs["fps_b"][rows],
                "num_frames_B": pairs["num_frames_b"][rows],
            }
        )
        write.write_csv(frame, work / f"adapters/videoalign/{split}.csv")
        counts["videoalign"][split] = int(rows.sum())

        trl_parts = []
        for name, lab in named:
            decided = in_split & lab.passes_filter & ((lab.label == "A") | (lab.label == "B"))
            a_wins = lab.label[decided] == "A"
            path_a, path_b = (
                pairs["video_a_path"][decided].to_numpy(),
                pairs["video_b_path"][decided].to_numpy(),
            )
            # Ties stay out: some DPO trainers read label 0.5 as a win for video_0.
            dpo = _table(
                [
                    ("caption", pa.string(), pairs["shown_prompt"][decided]),
                    ("video_0", pa.string(), path_a),
                    ("video_1", pa.string(), path_b),
                    ("label_0", pa.float64(), a_wins.astype(np.float64)),
                    ("label_1", pa.float64(), (~a_wins).astype(np.float64)),
                ]
            )
            write.write_parquet(dpo, work / f"adapters/dpo_pairs/{name}/{split}.parquet")
            counts["dpo_pairs"].setdefault(name, {})[split] = dpo.num_rows
            trl_parts.append(
                pd.DataFrame(
                    {
                        "comparison_id": pairs["comparison_id"][decided].to_numpy(),
                        "order": len(trl_parts),
                        "prompt": pairs["shown_prompt"][decided].to_numpy(),
                        "chosen": np.where(a_wins, path_a, path_b),
                        "rejected": np.where(a_wins, path_b, path_a),
                        "criterion": name,
                    }
                )
            )
        trl = (
            pd.concat(trl_parts, ignore_index=True)
            if trl_parts
            else pd.DataFrame(columns=["comparison_id", "order", "prompt", "chosen", "rejected", "criterion"])
        )
        trl = trl.sort_values(["comparison_id", "order"], kind="stable")
        write.write_jsonl(
            {k: trl[k] for k in ("prompt", "chosen", "rejected", "criterion")},
            work / f"adapters/trl/{split}.jsonl",
        )
        counts["trl"][split] = len(trl)
    return counts


# --- media, card, manifest ----------------------------------------------------------------------


def _write_media(
    *, work: Path, videos: pd.DataFrame, references: pd.DataFrame, mode: str, report: ProgressFn
) -> int:
    if mode == "none":
        return 0
    root = Path(settings.MEDIA_ROOT)
    files = pd.concat([videos[["file", "path"]], references[["file", "path"]]]).drop_duplicates("path")
    (work / "media").mkdir(exist_ok=True)
    total = len(files)
    for done, (name, target) in enumerate(zip(files["file"], files["path"], strict=True), start=1):
        source = root / name
        if not source.is_file():
            raise ExportError(f"media file {name} is missing under MEDIA_ROOT")
        if mode == "copy":
            shutil.copyfile(source, work / target)
        else:
            os.symlink(source.resolve(), work / target)
        if done % 200 == 0 or done == total:
            report(0.8 + 0.15 * done / total, f"Media: {done} of {total} files")
    return total


def _finish(*, work: Path, manifest: dict[str, Any], options: ExportOptions) -> None:
    """Write the dataset card, then the manifest with the sha256 of every other file."""
    card.write_card(work / "README.md", manifest=manifest, options=options, work=work)
    files: dict[str, dict[str, Any]] = {}
    for path in sorted(work.rglob("*"), key=lambda p: p.relative_to(work).as_posix()):
        relative = path.relative_to(work).as_posix()
        if path.is_dir() or relative.startswith("media/"):
            continue
        files[relative] = {"sha256": write.sha256_file(path), "bytes": path.stat().st_size}
    if options.media != "none":
        # Media are named by their catalog sha256, checked when they were stored: not hashed again.
        for path in sorted((work / "media").iterdir()):
            files[f"media/{path.name}"] = {"sha256": path.name.split(".")[0], "bytes": path.stat().st_size}
    manifest["files"] = files
    write.write_json(manifest, work / "manifest.json")
