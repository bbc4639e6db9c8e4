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


def test_the_demo_narrative_track_exports_story_pairs_that_load_and_join_to_their_shot_videos(
    tmp_path: Path,
) -> None:
    import datasets

    from annotate.models import Track

    call_command("seed_demo", "--identities", "1", "--prompts", "1", "--size", "32", "--frames", "4",
                 "--with-votes", stdout=StringIO())  # fmt: skip
    narrative = Track.objects.get(kind=Track.Kind.IDENTITY_CONSISTENCY)
    out = export_build(
        options=ExportOptions(tracks=(narrative.pk,), media="copy"), out_dir=tmp_path / "stories"
    ).path

    pairs = datasets.load_dataset(str(out), "story_pairs", split="train", cache_dir=str(tmp_path / "cache"))
    assert len(pairs) == 2  # each demo story: ours' rendering against the baseline's
    videos = pd.read_parquet(out / "data/videos.parquet").set_index("id")
    for row in pairs:
        for side in ("a", "b"):
            shots = videos.loc[row[f"shot_video_ids_{side}"]]
            assert shots["shot"].tolist() == [1, 2, 3] and set(shots["story_id"]) == {row["story_id"]}
            assert all((out / path).is_file() for path in row[f"shot_paths_{side}"])
    stories = pd.read_parquet(out / "data/stories.parquet")
    assert sorted(stories.slug) == ["neon-to-sunset", "park-to-cafe"]
