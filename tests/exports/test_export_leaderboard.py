"""The snapshot's leaderboard: data/leaderboard.parquet, its manifest entry and the card's summary."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from annotate.rankings import Judged, fit_scores
from exports.build import export_build
from exports.leaderboard import judged_of
from exports.options import ExportOptions
from tests.exports.export_world import World, build_world


@pytest.fixture
def world(db: None, tmp_path: Path) -> World:
    return build_world(tmp_path)


def export(tmp_path: Path, name: str = "out", **options: object) -> Path:
    return export_build(options=ExportOptions(**options), out_dir=tmp_path / name).path  # type: ignore[arg-type]


def judged_from_files(out: Path, criterion: str) -> Judged:
    """The criterion's judgments rebuilt from the snapshot's own files, as a reader of the dataset would."""
    votes = pd.read_parquet(out / "data/votes.parquet")
    votes = votes[(votes.criterion == criterion) & ~votes.is_gold & ~votes.is_repeat]
    pairs = pd.concat(pd.read_parquet(path) for path in sorted((out / "data/pairs").glob("*.parquet")))
    method = pd.read_parquet(out / "data/videos.parquet").set_index("id")["method"]
    rows = votes.merge(pairs[["comparison_id", "video_a_id", "video_b_id"]], on="comparison_id")
    rows = rows[rows.video_a_id.map(method) != rows.video_b_id.map(method)]  # a method against itself
    first, second = rows.video_a_id.map(method).to_numpy(), rows.video_b_id.map(method).to_numpy()
    methods = tuple(sorted(set(first) | set(second)))
    code = {name: index for index, name in enumerate(methods)}
    return Judged(
        methods=methods,
        first=np.array([code[m] for m in first]),
        second=np.array([code[m] for m in second]),
        outcome=rows.choice.map({"A": 1.0, "B": 0.0, "tie": 0.5, "both_bad": 0.5}).to_numpy(dtype=float),
        rater=pd.factorize(rows.rater_id)[0],
    )


def test_a_schema_2_snapshot_ranks_the_methods_of_every_judged_criterion(
    world: World, tmp_path: Path
) -> None:
    out = export(tmp_path, schema=2)

    board = pd.read_parquet(out / "data/leaderboard.parquet")
    assert list(board.columns) == [
        "criterion", "position", "method", "score", "low", "high", "rank_upper", "judgments",
    ]  # fmt: skip
    assert set(board.criterion) == {"identity_fidelity", "prompt_controllability", "visual_quality"}
    fidelity = board[board.criterion == "identity_fidelity"]
    assert sorted(fidelity.method) == ["m1", "m2", "m3"]
    assert list(fidelity.position) == [1, 2, 3] and list(fidelity.score) == sorted(
        fidelity.score, reverse=True
    )
    assert ((fidelity.low <= fidelity.score) & (fidelity.score <= fidelity.high)).all()
    # Each judgment counts for both its methods: 16 identity-fidelity votes (export_world's table).
    assert fidelity.judgments.sum() == 2 * 16


@pytest.mark.parametrize("criterion", ["identity_fidelity", "prompt_controllability"])
def test_the_scores_equal_the_library_fit_of_the_exported_judgments(
    world: World, tmp_path: Path, criterion: str
) -> None:
    out = export(tmp_path, schema=2)
    data = judged_from_files(out, criterion)

    board = pd.read_parquet(out / "data/leaderboard.parquet").query("criterion == @criterion")
    expected = dict(zip(data.methods, fit_scores(data), strict=True))
    assert dict(zip(board.method, board.score, strict=True)) == pytest.approx(expected, abs=1e-9)


def test_the_manifest_states_the_options_and_the_card_summarises_the_ranking(
    world: World, tmp_path: Path
) -> None:
    out = export(tmp_path, schema=2)

    entry = json.loads((out / "manifest.json").read_text())["leaderboard"]
    assert (entry["file"], entry["rounds"], entry["seed"], entry["resample"]) == (
        "data/leaderboard.parquet", 1000, 0, "rater",
    )  # fmt: skip
    assert entry["tie_rule"].startswith("half")
    board = pd.read_parquet(out / "data/leaderboard.parquet").query("criterion == 'identity_fidelity'")
    leader = board.iloc[0]
    card = (out / "README.md").read_text()
    assert "## Leaderboard" in card and "1000 rounds resampling raters, seed 0" in card
    section = card.split("## Leaderboard")[1].split("\n## ")[0]
    line = next(row for row in section.splitlines() if row.startswith("| identity_fidelity | "))
    assert f"{leader.method} {leader.score:.1f} ({leader.low:.1f}–{leader.high:.1f})" in line
    fragility = entry["criteria"]["identity_fidelity"]["fragility"]
    assert fragility["leader"] == leader.method
    assert (str(fragility["removals"]) if fragility["removals"] is not None else "no removal found") in line


def test_a_schema_1_snapshot_has_no_leaderboard(world: World, tmp_path: Path) -> None:
    out = export(tmp_path, schema=1)
    assert not (out / "data/leaderboard.parquet").exists()
    assert "leaderboard" not in json.loads((out / "manifest.json").read_text())


def test_a_judgment_between_two_videos_of_one_method_is_left_out_of_the_fit() -> None:
    # Comparisons 1 (m1 against m2) and 2 (two seeds of m1); choices A, B, tie.
    comparisons = pa.table({"comparison_id": [1, 2], "video_a_id": [10, 10], "video_b_id": [20, 11]})
    videos = pa.table({"id": [10, 11, 20], "method": ["m1", "m1", "m2"]})
    votes = pa.table(
        {
            "comparison_id": [1, 2, 1, 1],
            "rater_pk": [7, 7, 8, 9],
            "criterion_code": np.array([0, 0, 0, 1], dtype=np.int8),
            "choice_code": np.array([0, 1, 2, 0], dtype=np.int8),
        }
    )

    data = judged_of(votes=votes, comparisons=comparisons, videos=videos, criterion="identity_fidelity")

    assert data is not None and data.methods == ("m1", "m2")
    assert (data.first.tolist(), data.second.tolist()) == ([0, 0], [1, 1])
    assert (data.outcome.tolist(), data.rater.tolist()) == ([1.0, 0.5], [7, 8])
    assert data.count is not None and data.count.tolist() == [1, 1]


def test_a_raters_judgments_of_one_kind_become_one_row_with_their_count() -> None:
    # Rater 7 prefers m1 on comparisons 1 and 2 (m1 shown first on 1, second on 2) and twice on 3.
    comparisons = pa.table(
        {"comparison_id": [1, 2, 3], "video_a_id": [10, 20, 11], "video_b_id": [20, 11, 21]}
    )
    videos = pa.table({"id": [10, 11, 20, 21], "method": ["m1", "m1", "m2", "m2"]})
    votes = pa.table(
        {
            "comparison_id": [1, 2, 3, 3, 1],
            "rater_pk": [7, 7, 7, 7, 8],
            "criterion_code": np.zeros(5, dtype=np.int8),
            "choice_code": np.array([0, 1, 0, 0, 0], dtype=np.int8),
        }
    )

    data = judged_of(votes=votes, comparisons=comparisons, videos=videos, criterion="identity_fidelity")

    assert data is not None and data.count is not None
    rows = sorted(
        zip(
            data.rater.tolist(),
            data.first.tolist(),
            data.second.tolist(),
            data.outcome.tolist(),
            data.count.tolist(),
            strict=True,
        )
    )
    assert rows == [(7, 0, 1, 1.0, 3), (7, 1, 0, 0.0, 1), (8, 0, 1, 1.0, 1)]
