"""Byte-for-byte reproducible writers: the same table gives the same file, every time.

Parquet: fixed schema, no pandas index or metadata, fixed row group size, compression and page size.
CSV and JSON Lines: fixed column order, ``\\n`` line ends, UTF-8. Archives: sorted members, fixed times and
owners, gzip without a timestamp.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import queue
import tarfile
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from lib.spreadsheet import FORMULA_PATTERN, NUMBER_PATTERN

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


def write_csv(rows: pa.Table, path: Path) -> None:
    """CSV with a header; pyarrow's writer quotes every string and prints floats in shortest form.

    Text cells that a spreadsheet would run as a formula get a leading single quote (lib.spreadsheet);
    number columns, and tables without such cells, are written unchanged.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    pacsv.write_csv(_formula_safe(rows), path, write_options=pacsv.WriteOptions(quoting_style="needed"))


def _formula_safe(rows: pa.Table) -> pa.Table:
    for index, field in enumerate(rows.schema):
        if not (pa.types.is_string(field.type) or pa.types.is_large_string(field.type)):
            continue
        column = rows.column(index)
        risky = pc.and_not(
            pc.match_substring_regex(column, FORMULA_PATTERN),
            pc.match_substring_regex(column, NUMBER_PATTERN),
        ).fill_null(False)
        if not pc.any(risky).as_py():
            continue
        quoted = pc.binary_join_element_wise(pa.scalar("'", field.type), column, pa.scalar("", field.type))
        rows = rows.set_column(index, field, pc.if_else(risky, quoted, column))
    return rows


def write_lines(lines: pa.Array, path: Path) -> None:
    """One string per line, each ended by ``\\n`` (JSON Lines when the strings are JSON).

    Written straight from the Arrow buffer: appending the line ends makes a new array whose characters
    are one contiguous block, with no Python string per line.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    newline = pa.scalar("\n", pa.large_string())
    ended = pc.binary_join_element_wise(
        lines.cast(pa.large_string()), newline, pa.scalar("", pa.large_string())
    )
    _, offsets, data = ended.buffers()
    with open(path, "wb") as handle:
        if len(ended):
            bounds = np.frombuffer(offsets, dtype=np.int64)[ended.offset : ended.offset + len(ended) + 1]
            handle.write(memoryview(data)[bounds[0] : bounds[-1]])


def write_json(data: Any, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False, allow_nan=False) + "\n", encoding="utf-8")


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


class RowGroupWriter:
    """write.write_parquet's file from tables given one after another: the same row groups, the same bytes.

    Rows are held back until they fill whole row groups, and each group is written from one contiguous
    chunk, as a write of the whole table in one go cuts and encodes it.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.writer: pq.ParquetWriter | None = None
        self.held: list[pa.Table] = []
        self.held_rows = 0

    def __enter__(self) -> RowGroupWriter:
        return self

    def __exit__(self, kind: type[BaseException] | None, *_: object) -> None:
        if kind is None:
            self.close()
        elif self.writer is not None:
            self.writer.close()

    def write(self, rows: pa.Table) -> None:
        rows = rows.replace_schema_metadata(None)
        if self.writer is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.writer = pq.ParquetWriter(self.path, rows.schema, **PARQUET_OPTIONS)
        if self.held_rows:
            # The group begun by earlier tables is completed from the head of this one.
            head = min(ROW_GROUP_SIZE - self.held_rows, rows.num_rows)
            self._hold(rows.slice(0, head))
            rows = rows.slice(head)
            if self.held_rows < ROW_GROUP_SIZE:
                return
            self._write(pa.concat_tables(self.held).combine_chunks())
            self.held, self.held_rows = [], 0
        whole = rows.num_rows - rows.num_rows % ROW_GROUP_SIZE
        if whole:
            # Whole groups straight from the table, as a write in one go slices them.
            self._write(rows.slice(0, whole).combine_chunks())
        if rows.num_rows > whole:
            self._hold(rows.slice(whole))

    def _hold(self, rows: pa.Table) -> None:
        # A copy, so the rows held back do not keep the whole table they came from alive.
        self.held.append(rows.take(pa.array(np.arange(rows.num_rows))))
        self.held_rows += rows.num_rows

    def _write(self, rows: pa.Table) -> None:
        assert self.writer is not None
        self.writer.write_table(rows, row_group_size=ROW_GROUP_SIZE)

    def close(self) -> None:
        if self.writer is None:
            raise ValueError("no rows were given, not even an empty table: the file's schema is unknown")
        if self.held_rows:
            self._write(pa.concat_tables(self.held).combine_chunks())
        self.writer.close()


class BackgroundFile:
    """A file written and hashed by a thread of its own, a piece at a time, in the order given.

    The judge conversations of ten million judgments run to gigabytes: written from the calling thread,
    the export waited on the disk (the kernel holds back a writer once enough pages are dirty) and then
    read every byte again to hash it. Here the caller builds the next piece while the last goes to disk,
    and the sha256 is taken on the way (``digest`` after ``close``; DIGESTS keeps it for the manifest).
    A piece must not change after ``write``: Arrow buffers and bytes do not. At most ``ahead`` pieces
    wait, so memory stays bounded.
    """

    def __init__(self, path: Path, *, ahead: int = 2) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._handle = open(path, "wb")  # noqa: SIM115 (closed by close(), after the thread)
        self._hash = hashlib.sha256()
        self._pieces: queue.Queue[memoryview | bytes | None] = queue.Queue(maxsize=ahead)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name=f"write {path.name}", daemon=True)
        self._thread.start()
        self.digest: str | None = None

    def _run(self) -> None:
        while (piece := self._pieces.get()) is not None:
            if self._error is not None:
                continue  # drain, so that the caller never blocks on a full queue
            try:
                self._handle.write(piece)
                self._hash.update(piece)
            except BaseException as error:  # handed to the caller at close
                self._error = error

    def write(self, piece: memoryview | bytes) -> None:
        if self._error is not None:
            raise self._error
        self._pieces.put(piece)

    def close(self) -> None:
        self._pieces.put(None)
        self._thread.join()
        self._handle.close()
        if self._error is not None:
            raise self._error
        self.digest = self._hash.hexdigest()
        DIGESTS[self.path.resolve()] = self.digest

    def __enter__(self) -> BackgroundFile:
        return self

    def __exit__(self, kind: type[BaseException] | None, *_: object) -> None:
        self.close()


# sha256 of files written by BackgroundFile, by resolved path: the manifest takes them from here rather
# than reading the files again (build._finish); it forgets each one it takes.
DIGESTS: dict[Path, str] = {}
