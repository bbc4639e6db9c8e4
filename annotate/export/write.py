"""Byte-for-byte reproducible writers: the same table gives the same file, every time.

Parquet: fixed schema, no pandas index or metadata, fixed row group size, compression and page size.
CSV and JSONL: fixed column order, ``\\n`` line ends, UTF-8. Archives: sorted members, fixed times and
owners, gzip without a timestamp.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import tarfile
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

ROW_GROUP_SIZE = 128 * 1024
PARQUET_OPTIONS: dict[str, Any] = {
    "compression": "zstd",
    "compression_level": 3,
    "use_dictionary": True,
    "write_statistics": True,
    "data_page_size": 1 << 20,
    "version": "2.6",
}


def write_parquet(table: pa.Table, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    # Schema metadata would carry the pandas version and index layout: not part of the data.
    table = table.replace_schema_metadata(None)
    if table.num_rows == 0:
        # No row group at all rather than one of zero rows, which datasets' reader rejects.
        pq.ParquetWriter(path, table.schema, **PARQUET_OPTIONS).close()
        return
    pq.write_table(table, path, row_group_size=ROW_GROUP_SIZE, **PARQUET_OPTIONS)


def write_csv(frame: pd.DataFrame, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path, index=False, lineterminator="\n", encoding="utf-8")


def json_strings(values: pd.Series) -> pd.Series:
    """Each value as a JSON literal, encoding every distinct value once (prompts repeat a lot)."""
    return values.map({v: json.dumps(v, ensure_ascii=False) for v in pd.unique(values)})


def write_jsonl(columns: dict[str, pd.Series], path: Path) -> None:
    """JSON Lines with keys in the given order, built column-wise instead of one dict per row."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if not len(next(iter(columns.values()), ())):
        path.write_bytes(b"")
        return
    lines: pd.Series | None = None
    for index, (key, values) in enumerate(columns.items()):
        part = ("{" if index == 0 else ", ") + json.dumps(key) + ": " + json_strings(values)
        lines = part if lines is None else lines + part
    with open(path, "w", encoding="utf-8", newline="\n") as handle:
        if lines is not None and len(lines):
            handle.write("}\n".join(lines.tolist()) + "}\n")


def write_json(data: Any, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False, allow_nan=False) + "\n", encoding="utf-8")


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_archive(source: Path, target: Path, *, mtime: int) -> None:
    """A .tar.gz of ``source`` (under its own name) that depends on nothing but the files' bytes."""
    target.parent.mkdir(parents=True, exist_ok=True)
    members = sorted(source.rglob("*"), key=lambda p: p.relative_to(source).as_posix())
    partial = target.with_name(target.name + ".partial")
    with (
        open(partial, "wb") as raw,
        gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as zipped,
        tarfile.open(fileobj=zipped, mode="w", format=tarfile.PAX_FORMAT) as tar,
    ):
        for path in [source, *members]:
            name = source.name if path == source else f"{source.name}/{path.relative_to(source).as_posix()}"
            info = tar.gettarinfo(str(path), arcname=name)
            info.mtime, info.uid, info.gid, info.uname, info.gname = mtime, 0, 0, "", ""
            info.mode = 0o755 if info.isdir() else 0o644
            if info.isfile():
                with open(path, "rb") as handle:
                    tar.addfile(info, handle)
            else:
                tar.addfile(info)
    os.replace(partial, target)
