"""Versions: the earlier export a snapshot extends, and what changed since (manifest ``extends``, ``diff``).

An export extends an earlier snapshot made with the same options (the name and the schema may differ: the
diff reads only ``data/votes.parquet`` and ``data/pairs/*.parquet``, which every schema has). Judgments the
earlier one has and this one lacks (a withdrawn participant, an excluded rater or seat, a deleted
comparison) are counted as removed, never refused. ``data/diff.parquet`` has one row per change, sorted,
so that the RL stage can train on what is new since a given version. A first export has ``extends`` and
``diff`` null and no diff file.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tarfile
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from exports import write
from exports.options import ExportOptions
from lib.arrays import positions_or_missing

DIFF_FILE = "data/diff.parquet"
KINDS = ("judgment_added", "judgment_removed", "pair_added", "pair_removed", "label_changed")
# The options that do not change which judgments and labels a snapshot holds.
NEUTRAL_OPTIONS = ("name", "schema")
# The manifest's filters name one option differently: it records how many raters, never which.
_OPTION_OF_FILTER = {"excluded_raters": "exclude_raters"}


class ExtendsError(ValueError):
    """The earlier export cannot be extended: the message says why (not a snapshot, other options)."""


@dataclass(frozen=True)
class Base:
    """An earlier snapshot, unpacked far enough to read its manifest, votes and pairs."""

    root: Path
    manifest: dict[str, Any]
    manifest_sha256: str
    run_id: int | None = None

    def record(self) -> dict[str, Any]:
        """What the new manifest's ``extends`` says of it."""
        return {
            "name": self.manifest.get("name"),
            "created_at": self.manifest.get("created_at"),
            "schema_version": self.manifest.get("schema_version"),
            "manifest_sha256": self.manifest_sha256,
            "run": self.run_id,
        }

    def pair_files(self) -> list[Path]:
        return sorted(self.root.glob("data/pairs/*.parquet"))


def base_open(root: Path, *, run_id: int | None = None) -> Base:
    """The snapshot directory ``root``; refused when it is not one."""
    root = Path(root)
    manifest_path = root / "manifest.json"
    if not manifest_path.is_file():
        raise ExtendsError(f"{root} is not an export snapshot: it has no manifest.json")
    raw = manifest_path.read_bytes()
    try:
        manifest = json.loads(raw)
    except ValueError as error:
        raise ExtendsError(f"{root}/manifest.json is not valid JSON: {error}") from error
    if not isinstance(manifest, dict) or "filters" not in manifest:
        raise ExtendsError(f"{root}/manifest.json is not an export manifest: it records no filters")
    if not (root / "data/votes.parquet").is_file():
        raise ExtendsError(f"{root} is not an export snapshot: it has no data/votes.parquet")
    return Base(root=root, manifest=manifest, manifest_sha256=hashlib.sha256(raw).hexdigest(), run_id=run_id)


@contextmanager
def base_from_archive(archive: Path, *, run_id: int | None = None) -> Iterator[Base]:
    """The snapshot packed in ``archive`` (a run's .tar.gz): only its manifest, votes and pairs are
    unpacked, streamed member by member into a temporary folder that is removed afterwards."""
    folder = Path(tempfile.mkdtemp(prefix="export-base-"))
    try:
        try:
            with tarfile.open(archive, mode="r|gz") as tar:
                for member in tar:
                    parts = PurePosixPath(member.name).parts[1:]  # below the snapshot's own folder
                    relative = "/".join(parts)
                    wanted = relative in ("manifest.json", "data/votes.parquet") or (
                        len(parts) == 3 and parts[:2] == ("data", "pairs") and parts[2].endswith(".parquet")
                    )
                    source = tar.extractfile(member) if wanted and member.isfile() else None
                    if source is None:
                        continue
                    target = folder / relative
                    target.parent.mkdir(parents=True, exist_ok=True)
                    with open(target, "wb") as handle:
                        shutil.copyfileobj(source, handle, 1 << 20)
        except (OSError, tarfile.TarError) as error:
            raise ExtendsError(f"the archive {archive.name} cannot be read: {error}") from error
        yield base_open(folder, run_id=run_id)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def options_comparable(options: dict[str, Any]) -> dict[str, Any]:
    """An export run's options as compared when choosing what it extends: normalised, neutral ones out."""
    data = ExportOptions.from_json(options).to_json()
    for name in NEUTRAL_OPTIONS:
        data.pop(name)
    return data


def base_check(base: Base | None, *, options: ExportOptions, excluded_count: int) -> None:
    """Refuse an earlier export made with other options, naming each option that differs."""
    if base is None:
        return
    ours = json.loads(json.dumps(options.manifest_filters(excluded_rater_count=excluded_count)))
    theirs = base.manifest["filters"]
    differing = [
        f"{_OPTION_OF_FILTER.get(key, key)} ({json.dumps(theirs.get(key))} there, "
        f"{json.dumps(ours.get(key))} here)"
        for key in sorted(set(ours) | set(theirs))
        if ours.get(key) != theirs.get(key)
    ]
    if differing:
        raise ExtendsError(
            f"{base.manifest.get('name')} was exported with other options: {'; '.join(differing)}; "
            "an export extends only one with the same options (the name and the schema may differ)"
        )


# --- the diff -----------------------------------------------------------------------------------


def _votes(root: Path) -> pa.Table:
    table = pq.read_table(
        root / "data/votes.parquet",
        columns=["judgment_id", "comparison_id", "criterion"],
        read_dictionary=["criterion"],
    )
    return table.combine_chunks()


def _labels(files: list[Path]) -> tuple[np.ndarray, dict[str, pa.Array]]:
    """Comparison ids of every split, and each criterion's label column in the same order."""
    tables = []
    for path in files:
        schema = pq.read_schema(path)
        columns = ["comparison_id"] + [n for n in schema.names if n.endswith("_label")]
        tables.append(pq.read_table(path, columns=columns))
    if not tables:
        return np.zeros(0, dtype=np.int64), {}
    table = pa.concat_tables(tables, promote_options="default")
    ids = table["comparison_id"].to_numpy()
    order = np.argsort(ids, kind="stable")
    labels = {
        name.removesuffix("_label"): table[name].combine_chunks().take(pa.array(order))
        for name in table.column_names
        if name != "comparison_id"
    }
    return ids[order], labels


def _taken(labels: pa.Array | None, rows: np.ndarray) -> pa.Array:
    if labels is None:
        return pa.array(np.full(len(rows), "none", dtype=object), type=pa.string())
    return labels.take(pa.array(rows, type=pa.int64())).cast(pa.string())


def _rows_in(ids: np.ndarray, wanted: np.ndarray) -> np.ndarray:
    """The row of each of ``wanted`` in ``ids`` (unique; written in id order, so rarely sorted again),
    -1 where it is not there."""
    order = None if bool(np.all(ids[1:] > ids[:-1])) else np.argsort(ids, kind="stable")
    at = positions_or_missing(ids if order is None else ids[order], wanted)
    return at if order is None else np.where(at >= 0, order[at], -1)


def _rows(kind: str, n: int, **columns: Any) -> dict[str, Any]:
    rows: dict[str, Any] = {"kind": np.full(n, KINDS.index(kind), dtype=np.int8)}
    for name in ("judgment_id", "comparison_id", "criterion", "old_label", "new_label"):
        rows[name] = columns.get(name)
    return rows


def diff_compute(*, work: Path, base: Base) -> tuple[dict[str, Any], pa.Table]:
    """The counts and the rows of what changed from ``base`` to the snapshot being written in ``work``."""
    old, new = _votes(base.root), _votes(work)
    old_ids, new_ids = old["judgment_id"].to_numpy(), new["judgment_id"].to_numpy()
    # Each new judgment's row in the old votes (-1: added); one lookup, no sorted copies of both.
    old_row = _rows_in(old_ids, new_ids)
    kept = old_row >= 0
    moved = old["comparison_id"].to_numpy()[old_row[kept]] != new["comparison_id"].to_numpy()[kept]
    if moved.any():
        raise ExtendsError(
            f"{base.manifest.get('name')} is not an earlier export of this database: judgment "
            f"{int(new_ids[kept][moved].min())} belongs to another comparison there"
        )
    added = np.flatnonzero(~kept)
    still_there = np.zeros(len(old_ids), dtype=bool)
    still_there[old_row[kept]] = True
    removed = np.flatnonzero(~still_there)
    del old_row, kept, still_there

    old_pairs, old_labels = _labels(base.pair_files())
    new_pairs, new_labels = _labels(sorted(work.glob("data/pairs/*.parquet")))
    pairs_added = new_pairs[~np.isin(new_pairs, old_pairs, assume_unique=True)]
    pairs_removed = old_pairs[~np.isin(old_pairs, new_pairs, assume_unique=True)]
    _, both_old, both_new = np.intersect1d(old_pairs, new_pairs, assume_unique=True, return_indices=True)

    parts = [
        _rows(
            "judgment_added",
            len(added),
            judgment_id=new_ids[added],
            comparison_id=new["comparison_id"].to_numpy()[added],
            criterion=new["criterion"].take(pa.array(added)),
        ),
        _rows(
            "judgment_removed",
            len(removed),
            judgment_id=old_ids[removed],
            comparison_id=old["comparison_id"].to_numpy()[removed],
            criterion=old["criterion"].take(pa.array(removed)),
        ),
        _rows("pair_added", len(pairs_added), comparison_id=pairs_added),
        _rows("pair_removed", len(pairs_removed), comparison_id=pairs_removed),
    ]
    labels_changed: dict[str, int] = {}
    # "joint" too, when the options ask for a joint label. A criterion one export has no column for (no
    # vote left on it, or none yet) has the label "none" there.
    for criterion in sorted(set(old_labels) | set(new_labels)):
        before = _taken(old_labels.get(criterion), both_old)
        after = _taken(new_labels.get(criterion), both_new)
        changed = np.flatnonzero(
            pc.fill_null(pc.not_equal(before, after), True).to_numpy(zero_copy_only=False)
        )
        labels_changed[criterion] = len(changed)
        index = pa.array(changed, type=pa.int64())
        parts.append(
            _rows(
                "label_changed",
                len(changed),
                comparison_id=new_pairs[both_new][changed],
                criterion=pa.array(np.full(len(changed), criterion, dtype=object), type=pa.string()),
                old_label=before.take(index),
                new_label=after.take(index),
            )
        )
    counts = {
        "judgments_added": len(added),
        "judgments_removed": len(removed),
        "pairs_added": len(pairs_added),
        "pairs_removed": len(pairs_removed),
        "labels_changed": labels_changed,
    }
    return counts, _diff_table(parts)


def _column(part: dict[str, Any], name: str, kind: pa.DataType) -> pa.Array:
    n = len(part["kind"])
    value = part[name]
    if value is None:
        return pa.nulls(n, type=kind)
    if isinstance(value, np.ndarray):
        return pa.array(value, type=kind)
    if isinstance(value, pa.ChunkedArray):
        value = value.combine_chunks()
    return value.cast(kind)


def _diff_table(parts: list[dict[str, Any]]) -> pa.Table:
    schema = [
        ("judgment_id", pa.int64()),
        ("comparison_id", pa.int64()),
        ("criterion", pa.string()),
        ("old_label", pa.string()),
        ("new_label", pa.string()),
    ]
    kind_codes = np.concatenate([p["kind"] for p in parts])
    columns = {name: pa.concat_arrays([_column(p, name, kind) for p in parts]) for name, kind in schema}
    table = pa.table({"kind_code": kind_codes} | columns)
    # Sorted by kind (in the order of KINDS), then comparison, criterion and judgment: the same bytes
    # every time, whatever order the files were read in.
    table = table.sort_by(
        [("kind_code", "ascending"), ("comparison_id", "ascending"), ("criterion", "ascending"),
         ("judgment_id", "ascending")]
    )  # fmt: skip
    kinds = pa.array(KINDS, type=pa.string()).take(table["kind_code"])
    return pa.table({"kind": kinds} | {name: table[name] for name, _ in schema})


def versions_write(*, work: Path, base: Base | None) -> dict[str, Any]:
    """Write ``data/diff.parquet`` against ``base`` and return the manifest's ``extends`` and ``diff``.

    A first export (nothing to extend) writes no diff file and records both as null.
    """
    if base is None:
        return {"extends": None, "diff": None}
    counts, rows = diff_compute(work=work, base=base)
    write.write_parquet(rows, work / DIFF_FILE)
    return {"extends": base.record(), "diff": counts}
