"""Gold and repeat judgments and an excluded seat's votes on a snapshot: in the raters table and the raw
votes (flagged), in no pair, count, statistic or adapter."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from exports.build import export_build
from exports.options import ExportOptions
from exports.read import rater_public_id
from tests.exports.export_world import Checks, World, add_quality_checks, build_world

SPLITS = ("train", "validation", "test")
DS = ("_p_a_ds", "_p_b_ds", "_p_tie_ds")


@pytest.fixture
def world(db: None, tmp_path: Path) -> World:
    return build_world(tmp_path)


def export(tmp_path: Path, name: str) -> Path:
    return export_build(options=ExportOptions(), out_dir=tmp_path / name).path


def pairs_of(out: Path) -> pd.DataFrame:
    frames = [pd.read_parquet(out / f"data/pairs/{split}.parquet") for split in SPLITS]
    return pd.concat(frames).set_index("comparison_id").sort_index()


def counted_files(out: Path) -> dict[str, bytes]:
    """Every file made of the dataset's votes alone: the adapters and the agreement statistics."""
    files = sorted(p for p in (out / "adapters").rglob("*") if p.is_file())
    files.append(out / "data/agreement.json")
    return {p.relative_to(out).as_posix(): p.read_bytes() for p in files}


@pytest.fixture
def before_and_after(world: World, tmp_path: Path) -> tuple[Path, Path, Checks]:
    before = export(tmp_path, "before")
    checks = add_quality_checks(world)
    return before, export(tmp_path, "after"), checks


def test_quality_checks_change_no_pair_count_statistic_or_adapter(
    before_and_after: tuple[Path, Path, Checks],
) -> None:
    before, after, _ = before_and_after
    ds_free = [c for c in pairs_of(before).columns if not c.endswith(DS)]
    pd.testing.assert_frame_equal(pairs_of(after)[ds_free], pairs_of(before)[ds_free])
    assert counted_files(after) == counted_files(before)
    counts = json.loads((after / "manifest.json").read_text())["counts"]
    assert counts["votes"] == json.loads((before / "manifest.json").read_text())["counts"]["votes"] == 23
    assert counts["pairs"] == 7  # eve1, a gold comparison here, is no pair
    assert counts["quality_checks"] == {"gold": 3, "repeat": 1}


def test_raw_votes_flag_gold_and_repeats_and_leave_out_the_excluded_seat(
    before_and_after: tuple[Path, Path, Checks],
) -> None:
    _, after, checks = before_and_after
    votes = pd.read_parquet(after / "data/votes.parquet").set_index("judgment_id")
    assert sorted(votes.index[votes["is_gold"]]) == sorted(checks.gold)
    assert list(votes.index[votes["is_repeat"]]) == [checks.repeat]
    assert votes.loc[checks.repeat, "repeat_of"] == checks.repeat_of
    assert votes["repeat_of"].isna().sum() == len(votes) - 1
    assert not set(checks.excluded_seat) & set(votes.index)
    assert rater_public_id(checks.excluded_rater.pk) not in set(votes["rater_id"])
    assert len(votes) == 23 + 3 + 1


def test_the_raters_table_holds_the_quality_figures_and_the_exclusion(
    world: World, before_and_after: tuple[Path, Path, Checks]
) -> None:
    _, after, checks = before_and_after
    raters = pd.read_parquet(after / "data/raters.parquet").set_index("rater_id")
    u1, u2, u4 = (
        rater_public_id(r.pk) for r in (world.raters["u1"], world.raters["u2"], checks.excluded_rater)
    )
    # Withdrawn participants and the excluded rater ux were never read: no row for them either.
    assert set(raters.index) == {rater_public_id(world.raters[n].pk) for n in ("u1", "u2", "u3", "p1")} | {u4}
    assert (raters.loc[u1, "votes"], raters.loc[u1, "gold_n"], raters.loc[u1, "gold_correct"]) == (9, 1, 1)
    assert (raters.loc[u2, "gold_n"], raters.loc[u2, "gold_correct"], raters.loc[u2, "gold_accuracy"]) == (
        2,
        0,
        0,
    )
    assert (raters.loc[u1, "repeats_n"], raters.loc[u1, "repeats_same"]) == (1, 0)
    assert raters.loc[u4, "excluded"] and raters.loc[u4, "excluded_reason"] == "track fidelity: always Left"
    assert raters.loc[u4, "votes"] == 3
    # The videos' length is read: u1's answers (1.5 s, 0.9 s) came after these short videos had played.
    assert raters.loc[u1, "speeder_share"] == 0.0
    assert not raters.loc[u1, "excluded"] and pd.isna(raters.loc[u1, "excluded_reason"])
    assert raters.loc[rater_public_id(world.raters["p1"].pk), "kind"] == "participant"
    assert raters.loc[u1, "kind"] == "annotator"
    assert list(raters.index) == sorted(raters.index)


def test_pairs_carry_the_dawid_skene_posterior_next_to_the_counts(
    world: World, before_and_after: tuple[Path, Path, Checks]
) -> None:
    _, after, _ = before_and_after
    pairs = pairs_of(after)
    fidelity = [f"identity_fidelity{suffix}" for suffix in DS]
    voted = pairs[
        pairs["identity_fidelity_n_a"] + pairs["identity_fidelity_n_b"] + pairs["identity_fidelity_n_tie"] > 0
    ]
    assert (voted[fidelity].sum(axis=1) - 1).abs().max() < 1e-9
    cid1 = pairs.loc[world.comparisons["cid1"].pk]
    assert cid1["identity_fidelity_p_b_ds"] > 0.5  # three B votes; the excluded seat's A is left out
    # A criterion nobody answered on a pair has no posterior.
    assert pd.isna(pairs.loc[world.comparisons["cid1"].pk, "visual_quality_p_a_ds"])


def test_an_export_with_quality_checks_is_byte_identical_when_repeated(
    before_and_after: tuple[Path, Path, Checks], tmp_path: Path
) -> None:
    _, after, _ = before_and_after
    again = export(tmp_path, "again")
    first = json.loads((after / "manifest.json").read_text())["files"]
    assert first == json.loads((again / "manifest.json").read_text())["files"]
    assert "data/raters.parquet" in first


def test_study_results_and_track_progress_read_the_datasets_votes_only(world: World) -> None:
    from annotate.models import Judgment
    from annotate.selectors import track_annotator_progress
    from studies.models import Answer, Matchup, Participant, Study
    from studies.results import answers_csv_rows, study_judgments, study_results

    study = Study.objects.get(pk=world.study_id)
    p1 = world.raters["p1"]
    original = Judgment.objects.get(rater=p1, comparison=world.comparisons["ada1"])
    extra = [
        Judgment.objects.create(
            comparison=world.comparisons["ben1"],
            criterion="visual_quality",
            choice="A",
            shown_left="A",
            rater=p1,
            is_gold=True,
        ),
        Judgment.objects.create(
            comparison=world.comparisons["ada1"],
            criterion="visual_quality",
            choice="B",
            shown_left="B",
            rater=p1,
            is_repeat=True,
            repeat_of=original,
        ),
    ]
    # The gold judgment answers a matchup of its own, as a gold matchup of a study would.
    comparison = world.comparisons["ben1"]
    matchup = Matchup.objects.create(
        participant=Participant.objects.get(rater=p1),
        position=9,
        identity=comparison.identity,
        prompt=comparison.prompt,
        comparison=comparison,
        video_ids=[comparison.video_a_id, comparison.video_b_id],
    )
    answer = Answer.objects.create(
        matchup=matchup, criterion="visual_quality", picked=0, picked_video=comparison.video_a
    )
    answer.judgments.add(extra[0])
    assert set(study_judgments(study=study).values_list("pk", flat=True)).isdisjoint(j.pk for j in extra)
    assert study_judgments(study=study).count() == 2
    assert study_results(study=study).answers == 2
    assert len(list(answers_csv_rows(study=study))) == 1 + 2

    checks = add_quality_checks(world)
    votes = {user.username: user.votes for user in track_annotator_progress(track=world.tracks["fidelity"])}
    # u1 also gave a gold and a repeat judgment; ux (excluded) and u4 (excluded seat) count nothing here.
    assert votes == {"u1": 7, "u2": 6, "u3": 3, "ux": 0, checks.excluded_rater.user.username: 0}


def test_the_videos_lengths_from_the_export_tables_are_the_databases(world: World) -> None:
    # The fit's timing reads each comparison's longer video: from the tables the export has read, and
    # from the database for comparisons outside them (a gold check's); both give the same figures.
    from annotate.models import Comparison
    from exports import read
    from exports.quality import _durations_ms, durations_ms
    from generation.models import Video

    first = world.comparisons["ada1"]
    Video.objects.filter(pk=first.video_a_id).update(duration=2.5)
    Video.objects.filter(pk=first.video_b_id).update(duration=1.25)
    ids = np.array(sorted(Comparison.objects.values_list("pk", flat=True)), dtype=np.int64)
    comparisons = read.comparisons_read(comparison_ids=ids)
    video_ids = np.unique(np.concatenate([comparisons["video_a_id"], comparisons["video_b_id"]]))
    from_tables = durations_ms(comparisons, read.videos_read(video_ids=video_ids)).sort_index()
    from_database = _durations_ms(ids).sort_index()
    pd.testing.assert_series_equal(from_tables, from_database, check_names=False)
    assert from_tables[first.pk] == 2500.0  # the longer of the two


def test_an_export_that_fails_reading_videos_stops_its_quality_fit_too(
    world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from exports import read
    from exports.build import ExportError

    def broken(**_: object) -> None:
        raise ExportError("videos unreadable")

    monkeypatch.setattr(read, "videos_read", broken)
    # The fit waits for the videos' lengths on its thread: without them it must end, not hang the export.
    with pytest.raises(ExportError, match="videos unreadable"):
        export(tmp_path, "broken")
    assert not (tmp_path / "broken").exists()
