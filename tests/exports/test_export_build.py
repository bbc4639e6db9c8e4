"""export_build on the hand-made world of export_world.py: every expected value is computed by hand there."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from exports import read
from exports.build import ExportError, export_build
from exports.options import ExportOptions, ExportOptionsError
from exports.read import rater_public_id
from tests.exports.export_world import World, build_world

SPLITS = ("train", "validation", "test")


@pytest.fixture
def world(db: None, tmp_path: Path) -> World:
    return build_world(tmp_path)


def export(tmp_path: Path, name: str = "out", **options: object) -> Path:
    return export_build(options=ExportOptions(**options), out_dir=tmp_path / name).path  # type: ignore[arg-type]


def pairs_of(out: Path) -> pd.DataFrame:
    frames = [pd.read_parquet(out / f"data/pairs/{split}.parquet") for split in SPLITS]
    return pd.concat(frames).set_index("comparison_id")


def row(pairs: pd.DataFrame, world: World, key: str) -> pd.Series:
    return pairs.loc[world.comparisons[key].pk]


def test_counts_labels_soft_labels_and_shares_equal_hand_computed_values(
    world: World, tmp_path: Path
) -> None:
    pairs = pairs_of(export(tmp_path))
    expected = {
        # key: (n_a, n_b, n_tie, label, p_a, majority_share)
        "ada1": (2, 1, 0, "A", 2 / 3, 2 / 3),
        "ada2": (0, 2, 1, "B", 1 / 6, 2 / 3),
        "ada3": (1, 0, 0, "A", 1.0, 1.0),
        "ben1": (1, 1, 0, "tie", 0.5, 0.5),
        "ben2": (0, 0, 2, "tie", 0.5, 1.0),
        "cid1": (0, 3, 0, "B", 0.0, 1.0),
        "dee1": (2, 0, 0, "A", 1.0, 1.0),
    }
    for key, (n_a, n_b, n_tie, label, p_a, share) in expected.items():
        got = row(pairs, world, key)
        assert (got.identity_fidelity_n_a, got.identity_fidelity_n_b, got.identity_fidelity_n_tie) == (
            n_a,
            n_b,
            n_tie,
        ), key
        assert got.identity_fidelity_label == label, key
        assert got.identity_fidelity_p_a == pytest.approx(p_a), key
        assert got.identity_fidelity_majority_share == pytest.approx(share), key
    control = row(pairs, world, "ada2")
    assert (control.prompt_controllability_n_a, control.prompt_controllability_n_b) == (1, 2)
    assert control.prompt_controllability_p_a == pytest.approx(1 / 3)
    assert row(pairs, world, "ada1").visual_quality_label == "A"  # the withdrawn participant's B is gone
    assert row(pairs, world, "ben1").visual_quality_label == "B"


def test_a_criterion_without_votes_on_a_comparison_is_labelled_none(world: World, tmp_path: Path) -> None:
    got = row(pairs_of(export(tmp_path)), world, "cid1")
    assert got.prompt_controllability_label == "none"
    assert pd.isna(got.prompt_controllability_p_a)
    assert not got.prompt_controllability_passes_filter


def test_kept_ties_count_as_half_a_win_and_a_tie_label_passes(world: World, tmp_path: Path) -> None:
    pairs = pairs_of(export(tmp_path, keep_ties=True))
    assert row(pairs, world, "ben2").identity_fidelity_label == "tie"
    assert row(pairs, world, "ben2").identity_fidelity_passes_filter
    assert row(pairs, world, "ben1").identity_fidelity_passes_filter


def test_dropped_ties_leave_the_counts_and_a_tied_split_does_not_pass(world: World, tmp_path: Path) -> None:
    pairs = pairs_of(export(tmp_path, keep_ties=False))
    ada2 = row(pairs, world, "ada2")
    assert (ada2.identity_fidelity_n_a, ada2.identity_fidelity_n_b, ada2.identity_fidelity_n_tie) == (0, 2, 0)
    assert ada2.identity_fidelity_p_a == 0.0
    assert ada2.identity_fidelity_majority_share == 1.0
    ben1 = row(pairs, world, "ben1")
    assert ben1.identity_fidelity_label == "tie"
    assert not ben1.identity_fidelity_passes_filter
    # Only a tie and a both-bad answer: nothing is counted once ties are dropped.
    ben2 = row(pairs, world, "ben2")
    assert ben2.identity_fidelity_label == "none"
    assert not ben2.identity_fidelity_passes_filter


def test_a_comparison_below_the_minimum_votes_is_marked_as_not_passing(world: World, tmp_path: Path) -> None:
    pairs = pairs_of(export(tmp_path, min_votes=2))
    assert not row(pairs, world, "ada3").identity_fidelity_passes_filter  # one vote
    assert row(pairs, world, "ada1").identity_fidelity_passes_filter  # three votes
    assert row(pairs, world, "ada3").identity_fidelity_label == "A"  # the label is kept, only marked


def test_the_minimum_majority_share_filters_split_votes(world: World, tmp_path: Path) -> None:
    pairs = pairs_of(export(tmp_path, min_majority=0.7))
    assert not row(pairs, world, "ada1").identity_fidelity_passes_filter  # 2/3
    assert row(pairs, world, "cid1").identity_fidelity_passes_filter  # 3/3


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        # ada1: fidelity A, control B; ada2: B and B; ada3: fidelity A, control has no vote.
        ("all", {"ada1": "none", "ada2": "B", "ada3": "none"}),
        ("no_conflict", {"ada1": "none", "ada2": "B", "ada3": "A"}),
        # mean p_a of the passing criteria: ada1 (2/3 + 0)/2, ada2 (1/6 + 1/3)/2, ada3 1.
        ("mean", {"ada1": "B", "ada2": "B", "ada3": "A"}),
    ],
)
def test_the_joint_label_follows_its_rule(world: World, tmp_path: Path, rule: str, expected: dict) -> None:
    out = export(tmp_path, joint_criteria=("identity_fidelity", "prompt_controllability"), joint_rule=rule)
    pairs = pairs_of(out)
    for key, label in expected.items():
        assert row(pairs, world, key).joint_label == label, key
    assert row(pairs, world, "ada1").joint_p_a == pytest.approx(1 / 3)
    assert row(pairs, world, "ada2").joint_p_a == pytest.approx(0.25)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["aggregation"]["joint"] == {
        "criteria": ["identity_fidelity", "prompt_controllability"],
        "rule": rule,
    }


def test_no_identity_is_in_two_splits(world: World, tmp_path: Path) -> None:
    out = export(tmp_path, split=(0.5, 0.25, 0.25), split_seed=3)
    seen: dict[int, str] = {}
    for split in SPLITS:
        frame = pd.read_parquet(out / f"data/pairs/{split}.parquet")
        assert set(frame["split"]) <= {split}
        for identity in set(frame["identity_id"]):
            assert identity not in seen, f"identity {identity} in {seen[identity]} and {split}"
            seen[identity] = split
    assert len(set(seen.values())) >= 2  # four identities over three shares do spread


def test_the_criteria_option_keeps_only_those_criteria(world: World, tmp_path: Path) -> None:
    out = export(tmp_path, criteria=("prompt_controllability",))
    votes = pd.read_parquet(out / "data/votes.parquet")
    assert set(votes["criterion"]) == {"prompt_controllability"}
    pairs = pairs_of(out)
    assert not [c for c in pairs.columns if c.startswith("identity_fidelity")]
    assert set(pairs.index) == {world.comparisons["ada1"].pk, world.comparisons["ada2"].pk}


def test_the_tracks_option_leaves_out_other_tracks_and_studies(world: World, tmp_path: Path) -> None:
    votes = pd.read_parquet(export(tmp_path, tracks=(world.tracks["control"].pk,)) / "data/votes.parquet")
    assert set(votes["source"]) == {"track"}
    assert set(votes["source_id"]) == {world.tracks["control"].pk}
    assert len(votes) == 5


def test_the_studies_option_reads_study_answers_through_their_link(world: World, tmp_path: Path) -> None:
    votes = pd.read_parquet(export(tmp_path, studies=(world.study_id,)) / "data/votes.parquet")
    assert list(votes["source"]) == ["study", "study"]
    assert set(votes["source_id"]) == {world.study_id}
    assert list(votes["choice"]) == ["A", "B"]
    assert set(votes["rater_id"]) == {rater_public_id(world.raters["p1"].pk)}


def test_excluding_a_rater_by_username_leaves_out_their_votes(world: World, tmp_path: Path) -> None:
    out = export(tmp_path, exclude_raters=("u3",))
    votes = pd.read_parquet(out / "data/votes.parquet")
    assert rater_public_id(world.raters["u3"].pk) not in set(votes["rater_id"])
    assert row(pairs_of(out), world, "cid1").identity_fidelity_n_b == 2
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["filters"]["excluded_raters"] == 1


def test_raters_can_be_excluded_by_the_salted_id_of_an_earlier_export(world: World, tmp_path: Path) -> None:
    salted = rater_public_id(world.raters["u1"].pk)
    votes = pd.read_parquet(export(tmp_path, exclude_raters=(salted,)) / "data/votes.parquet")
    assert salted not in set(votes["rater_id"])


def test_votes_hold_one_row_per_judgment_with_the_specified_columns(world: World, tmp_path: Path) -> None:
    votes = pd.read_parquet(export(tmp_path) / "data/votes.parquet")
    assert list(votes.columns) == [
        "judgment_id",
        "comparison_id",
        "rater_id",
        "source",
        "source_id",
        "criterion",
        "choice",
        "shown_left",
        "created_at",
        "response_ms",
        "watched_a",
        "watched_b",
        "selection_policy",
        "selection_probability",
        "is_gold",
        "is_repeat",
        "repeat_of",
        "conditioning_shown",  # schema 2
    ]
    assert len(votes) == 16 + 5 + 2  # fidelity, control, study: every kept judgment once
    assert list(votes["judgment_id"]) == sorted(votes["judgment_id"])
    assert str(votes["created_at"].dtype) == "datetime64[us, UTC]"
    assert votes["rater_id"].str.fullmatch(r"[0-9a-f]{20}").all()


def test_pairs_carry_videos_references_and_prompts(world: World, tmp_path: Path) -> None:
    out = export(tmp_path)
    got = row(pairs_of(out), world, "ada1")
    comparison = world.comparisons["ada1"]
    assert (got.video_a_id, got.video_b_id) == (comparison.video_a_id, comparison.video_b_id)
    assert got.video_a_sha256 == comparison.video_a.sha256
    assert got.video_a_path == f"media/{comparison.video_a.sha256}.mp4"
    assert got.prompt == "A person with red hair on a beach."
    assert got.differential_prompt == "On a beach."
    references = list(comparison.identity.references.order_by("-is_primary", "position", "id"))
    assert list(got.reference_ids) == [r.pk for r in references]
    assert got.primary_reference_id == references[0].pk
    assert got.are_different
    videos = pd.read_parquet(out / "data/videos.parquet").set_index("id")
    video = videos.loc[comparison.video_a_id]
    assert (video.steps, video.guidance, video.scheduler) == (30, 5.0, "unipc")
    assert json.loads(video.settings)["source"] == "test"
    # Held dictionary-encoded while the export runs (exports.read.REPEATED_VIDEO_TEXT), written as text.
    schema = pq.read_schema(out / "data/videos.parquet")
    assert all(schema.field(name).type == pa.string() for name in read.REPEATED_VIDEO_TEXT)
    assert video.method == comparison.video_a.method.name


def test_an_existing_snapshot_is_never_overwritten(world: World, tmp_path: Path) -> None:
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "keep.txt").write_text("mine")
    with pytest.raises(ExportError):
        export(tmp_path)
    assert (tmp_path / "out" / "keep.txt").read_text() == "mine"


def test_an_unknown_track_is_an_option_error_naming_the_field(world: World, tmp_path: Path) -> None:
    with pytest.raises(ExportOptionsError) as error:
        export(tmp_path, tracks=(999_999,))
    assert error.value.field == "tracks"


def test_an_export_without_any_judgment_writes_empty_files(db: None, tmp_path: Path) -> None:
    out = export(tmp_path)
    assert len(pd.read_parquet(out / "data/votes.parquet")) == 0
    assert len(pd.read_parquet(out / "data/pairs/train.parquet")) == 0
    assert json.loads((out / "manifest.json").read_text())["created_at"] is None


def test_the_videos_read_a_block_of_ids_at_a_time_are_the_table_of_one_read(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    compared = world.comparisons.values()
    ids = sorted({c.video_a_id for c in compared} | {c.video_b_id for c in compared})
    whole = read.videos_read(video_ids=np.array(ids[::-1]))
    monkeypatch.setattr(read, "VIDEO_BLOCK_IDS", 2)
    blocks = read.videos_read(video_ids=np.array(ids))
    assert len(ids) > 4 and whole["id"].to_pylist() == ids
    assert blocks.equals(whole)
    for name in read.REPEATED_VIDEO_TEXT:  # one chunk, one dictionary, the codes of one encoding
        column, one = blocks.column(name), whole.column(name)
        assert column.num_chunks == 1
        assert column.chunk(0).dictionary.equals(one.chunk(0).dictionary)
        assert column.chunk(0).indices.equals(one.chunk(0).indices)
