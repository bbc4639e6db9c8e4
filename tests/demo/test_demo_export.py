"""The demo world exported as the ML team would: DPO rows put the winner first half of the time."""

from __future__ import annotations

from io import StringIO
from pathlib import Path

import pandas as pd
import pytest
from django.core.management import call_command

from exports.build import export_build
from exports.options import ExportOptions

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def test_the_demo_exports_dpo_rows_with_the_winner_first_half_the_time_and_reruns_byte_identical(
    tmp_path: Path,
) -> None:
    # The demo's default world (every identity and prompt) with simulated votes, small fast videos.
    call_command("seed_demo", "--size", "64", "--frames", "9", "--with-votes", stdout=StringIO())
    first = export_build(options=ExportOptions(), out_dir=tmp_path / "first").path
    second = export_build(options=ExportOptions(), out_dir=tmp_path / "second").path

    rows = pd.concat([pd.read_parquet(path) for path in sorted(first.glob("adapters/dpo/*/*.parquet"))])
    assert len(rows) > 200
    assert 0.45 <= rows["label_0"].mean() <= 0.55

    files = sorted(path.relative_to(first) for path in first.rglob("*") if path.is_file())
    assert files == sorted(path.relative_to(second) for path in second.rglob("*") if path.is_file())
    assert all((first / name).read_bytes() == (second / name).read_bytes() for name in files)

    # Another seed tosses other coins: about half of the comparisons change order.
    other = export_build(options=ExportOptions(split_seed=1), out_dir=tmp_path / "other").path
    coins = _coins(first).merge(_coins(other), on="comparison_id", suffixes=("", "_other"))
    assert len(coins) > 100
    assert 0.3 <= (coins["video_0_is_a"] != coins["video_0_is_a_other"]).mean() <= 0.7


def _coins(snapshot: Path) -> pd.DataFrame:
    rows = pd.concat([pd.read_parquet(path) for path in snapshot.glob("adapters/dpo/*/*.parquet")])
    return rows.drop_duplicates("comparison_id").set_index("comparison_id")[["video_0_is_a"]]
