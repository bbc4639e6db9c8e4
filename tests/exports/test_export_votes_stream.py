"""Judgments read in id ranges: the votes file and every other file come out as from one read."""

from __future__ import annotations

import hashlib
import itertools
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from django.db import transaction

from exports import read, votes_stream, write
from exports.build import export_build
from exports.options import ExportOptions
from tests.exports.export_world import World, build_world
from tests.exports.test_export_snapshot import file_hashes


@pytest.fixture
def world(db: None, tmp_path: Path) -> World:
    return build_world(tmp_path)


@pytest.mark.parametrize("schema", [1, 2])
def test_an_export_read_in_ranges_of_three_judgments_has_the_bytes_of_one_read_in_one_range(
    world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, schema: int
) -> None:
    options = ExportOptions(joint_criteria=("identity_fidelity", "prompt_controllability"), schema=schema)
    whole = export_build(options=options, out_dir=tmp_path / "whole").path
    monkeypatch.setattr(votes_stream, "RANGE_IDS", 3)
    ranged = export_build(options=options, out_dir=tmp_path / "ranged").path
    assert pq.read_metadata(ranged / "data/votes.parquet").num_rows > 3
    assert file_hashes(ranged) == file_hashes(whole)


def test_the_votes_file_written_piece_by_piece_has_the_bytes_and_row_groups_of_one_write(
    tmp_path: Path,
) -> None:
    rows = 3 * write.ROW_GROUP_SIZE + 1234
    numbers = np.random.default_rng(0).integers(0, 1000, rows)
    table = pa.table(
        {
            "n": numbers,
            "text": pa.array(numbers.astype(str)),
            "sometimes": pa.array(numbers, mask=numbers % 7 == 0),
        }
    )
    write.write_parquet(table, tmp_path / "one.parquet")
    # Pieces shorter than a group, empty, and one over two groups long that starts inside a group.
    cuts = [0, 7, 100_000, 100_001, 380_000, 380_000, rows]
    with write.RowGroupWriter(tmp_path / "pieces.parquet") as writer:
        for start, end in itertools.pairwise(cuts):
            writer.write(table.slice(start, end - start))
    assert pq.read_metadata(tmp_path / "pieces.parquet").num_row_groups == 4
    assert (tmp_path / "pieces.parquet").read_bytes() == (tmp_path / "one.parquet").read_bytes()


def test_an_empty_votes_file_written_piece_by_piece_has_no_row_group_like_one_write(tmp_path: Path) -> None:
    empty = pa.table({"n": pa.array([], pa.int64())})
    write.write_parquet(empty, tmp_path / "one.parquet")
    with write.RowGroupWriter(tmp_path / "pieces.parquet") as writer:
        writer.write(empty)
        writer.write(empty)
    assert pq.read_metadata(tmp_path / "pieces.parquet").num_row_groups == 0
    assert (tmp_path / "pieces.parquet").read_bytes() == (tmp_path / "one.parquet").read_bytes()


# Committed rows: only outside a caller's transaction does the export own its snapshot, and only then can
# a second connection read ahead in it.
@pytest.mark.django_db(transaction=True)
def test_ranges_read_ahead_on_a_second_connection_give_the_bytes_of_one_connection(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    build_world(tmp_path)
    options = ExportOptions(joint_criteria=("identity_fidelity", "prompt_controllability"))
    monkeypatch.setattr(votes_stream, "RANGE_IDS", 3)
    answered_on: list[bool] = []
    copy_out = read._copy_out

    def noting(*args: Any, **kwargs: Any) -> Any:
        answered_on.append(kwargs.get("on") is not None)
        return copy_out(*args, **kwargs)

    monkeypatch.setattr(read, "_copy_out", noting)
    with transaction.atomic():  # the caller's transaction: one connection, range after range
        alone = export_build(options=options, out_dir=tmp_path / "alone").path
    assert not any(answered_on)
    ahead = export_build(options=options, out_dir=tmp_path / "ahead").path
    # Every range of judgments came over the second connection; the catalog over Django's.
    assert sum(answered_on) == len(read.judgment_id_ranges(3)) > 3
    assert file_hashes(ahead) == file_hashes(alone)


def test_a_background_file_writes_its_pieces_in_order_and_hashes_them(tmp_path: Path) -> None:
    pieces = [b"first ", memoryview(b"-second-")[1:-1], b"", pa.py_buffer(b" third")]
    with write.BackgroundFile(tmp_path / "a/b.txt", ahead=1) as handle:
        for piece in pieces:
            handle.write(memoryview(piece))
    assert (tmp_path / "a/b.txt").read_bytes() == b"first second third"
    assert handle.digest == hashlib.sha256(b"first second third").hexdigest()
    assert write.DIGESTS.pop((tmp_path / "a/b.txt").resolve()) == handle.digest


def test_a_background_file_that_cannot_write_says_why_at_close(tmp_path: Path) -> None:
    handle = write.BackgroundFile(tmp_path / "c.txt")
    handle.write("text, not bytes")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        handle.close()
    assert (tmp_path / "c.txt").resolve() not in write.DIGESTS
