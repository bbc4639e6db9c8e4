"""The CSV files of an export: text a spreadsheet would run as a formula is quoted, numbers are not."""

from __future__ import annotations

import csv
from pathlib import Path

import pyarrow as pa

from exports.build import export_build
from exports.options import ExportOptions
from exports.write import write_csv
from generation.models import Prompt
from tests.exports.export_world import build_world

FORMULA = '=HYPERLINK("http://evil.example/","click")'


def test_formula_cells_get_a_quote_and_numbers_stay_numbers(tmp_path: Path) -> None:
    table = pa.table(
        {
            "name": pa.array([FORMULA, "+1 cell", "@sum", "-3", "-2.5e3", "plain", None], pa.string()),
            "score": pa.array([-1.5, -2.0, 3.0, 0.0, 1.0, 2.0, 4.0], pa.float64()),
            "count": pa.array([-7, 1, 2, 3, 4, 5, 6], pa.int64()),
        }
    )
    write_csv(table, tmp_path / "t.csv")
    rows = list(csv.DictReader((tmp_path / "t.csv").open()))
    assert [row["name"] for row in rows] == ["'" + FORMULA, "'+1 cell", "'@sum", "-3", "-2.5e3", "plain", ""]
    assert rows[0]["score"] == "-1.5" and rows[0]["count"] == "-7"


def test_a_table_without_formula_cells_is_written_byte_for_byte_as_before(tmp_path: Path) -> None:
    table = pa.table({"name": pa.array(["a", "-3", None], pa.string()), "x": pa.array([-1.0, 2.5, 3.0])})
    write_csv(table, tmp_path / "t.csv")
    assert (tmp_path / "t.csv").read_bytes() == b'"name","x"\n"a",-1\n"-3",2.5\n,3\n'


def test_a_prompt_written_as_a_formula_reaches_the_trainer_csv_quoted(db: None, tmp_path: Path) -> None:
    build_world(tmp_path)
    Prompt.objects.update(full_text=FORMULA, differential_text=FORMULA)
    out = export_build(options=ExportOptions(), out_dir=tmp_path / "out").path
    # Prompt controllability's annotators read the prompt (identity fidelity's did not: empty there).
    rows = [
        row
        for split in ("train", "validation", "test")
        if (out / f"adapters/videoalign/prompt_controllability/{split}.csv").exists()
        for row in csv.DictReader((out / f"adapters/videoalign/prompt_controllability/{split}.csv").open())
    ]
    assert rows and {row["prompt"] for row in rows} == {"'" + FORMULA}
    assert all(float(row["fps_A"]) > 0 for row in rows)
