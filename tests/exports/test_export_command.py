"""manage.py export_preferences: the same export from the command line."""

from __future__ import annotations

import json
from io import StringIO
from pathlib import Path

import pandas as pd
import pytest
from django.core.management import CommandError, call_command

from tests.exports.export_world import World, build_world


@pytest.fixture
def world(db: None, tmp_path: Path) -> World:
    return build_world(tmp_path)


def test_the_command_writes_a_snapshot_with_its_options(world: World, tmp_path: Path) -> None:
    out = tmp_path / "snapshot"
    stdout = StringIO()
    call_command(
        "export_preferences",
        "--out", str(out),
        "--tracks", "fidelity",
        "--criteria", "identity_fidelity",
        "--min-votes", "2",
        "--min-majority", "0.6",
        "--drop-ties",
        "--exclude-raters", "u3",
        "--split", "0.5,0.25,0.25",
        "--split-seed", "4",
        "--joint-criteria", "identity_fidelity",
        "--joint-rule", "no_conflict",
        stdout=stdout,
    )  # fmt: skip
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["filters"]["tracks"] == [world.tracks["fidelity"].pk]
    assert manifest["filters"]["keep_ties"] is False
    assert manifest["filters"]["split"] == {"train": 0.5, "validation": 0.25, "test": 0.25}
    assert manifest["aggregation"]["joint"] == {"criteria": ["identity_fidelity"], "rule": "no_conflict"}
    assert len(pd.read_parquet(out / "data/votes.parquet")) == 16 - 3  # u3 gave three fidelity votes
    assert "Wrote 13 votes" in stdout.getvalue()


def test_a_bad_option_is_a_command_error_naming_it(world: World, tmp_path: Path) -> None:
    with pytest.raises(CommandError, match="split"):
        call_command("export_preferences", "--out", str(tmp_path / "x"), "--split", "0.5,0.5")
    with pytest.raises(CommandError, match="tracks"):
        call_command("export_preferences", "--out", str(tmp_path / "x"), "--tracks", "no-such-track")
    assert not (tmp_path / "x").exists()
