"""Stories in a schema-2 snapshot: the stories table, story-level pairs joined to their shot videos, the
story columns of the videos and the viewpoint and framing of the references; schema 1 unchanged."""

from __future__ import annotations

from pathlib import Path

import datasets
import numpy as np
import pandas as pd
import pytest
from django.contrib.auth.models import User

from annotate.models import Choice, Comparison, Judgment, Rater, Track
from exports.build import export_build
from exports.options import ExportOptions
from generation import services as catalog
from generation.models import Identity, Reference, Story
from tests.factories import IdentityFactory, MethodFactory, make_story, make_story_rendering

pytestmark = pytest.mark.django_db

SHOTS = 3
FRAMES = 4


@pytest.fixture
def story_world(tmp_path: Path) -> tuple[Story, Comparison]:
    identity: Identity = IdentityFactory()
    for viewpoint, shade in (("front", 10), ("profile_left", 20), ("back", 30)):
        path = tmp_path / f"{viewpoint}.png"
        from PIL import Image

        Image.new("RGB", (16, 32), (shade, 60, 90)).save(path)
        reference = catalog.reference_create(
            identity=identity, kind=Reference.Kind.FULL_BODY, source=path, is_primary=viewpoint == "front"
        )
        Reference.objects.filter(pk=reference.pk).update(viewpoint=viewpoint, in_three_view=True)
    story = make_story(identity, shots=SHOTS)
    first = make_story_rendering(story, MethodFactory(name="ours"), frames=FRAMES)
    second = make_story_rendering(story, MethodFactory(name="base"), frames=FRAMES)
    video_a, video_b = sorted([first.joined, second.joined], key=lambda v: v.pk)
    comparison = Comparison.objects.create(
        video_a=video_a, video_b=video_b, identity=identity, prompt=video_a.prompt
    )
    track = Track.objects.create(name="narrative", kind=Track.Kind.IDENTITY_CONSISTENCY)
    for k in range(3):
        rater = Rater.objects.create(kind=Rater.Kind.ANNOTATOR, user=User.objects.create_user(f"u{k}"))
        Judgment.objects.create(
            comparison=comparison, criterion=track.criterion, choice=Choice.A, shown_left="A",
            rater=rater, track=track,
        )  # fmt: skip
    return story, comparison


def test_a_story_pair_names_both_renderings_shots_in_order_and_joins_to_the_videos(story_world, tmp_path):
    story, comparison = story_world

    out = export_build(options=ExportOptions(schema=2, media="copy"), out_dir=tmp_path / "out").path

    stories = pd.read_parquet(out / "data/stories.parquet")
    assert stories.slug.tolist() == [story.slug] and len(stories.shot_prompts[0]) == SHOTS
    pairs = pd.read_parquet(out / "data/story_pairs.parquet")
    assert pairs.comparison_id.tolist() == [comparison.pk]
    videos = pd.read_parquet(out / "data/videos.parquet").set_index("id")
    row = pairs.iloc[0]
    for side in ("a", "b"):
        shots = videos.loc[list(row[f"shot_video_ids_{side}"])]
        assert shots["shot"].tolist() == [1, 2, 3] and set(shots.story_id) == {story.pk}
        assert list(row[f"shot_paths_{side}"]) == shots.path.tolist()
        assert videos.loc[row[f"joined_video_id_{side}"], "path"] == row[f"joined_path_{side}"]
        assert np.isnan(videos.loc[row[f"joined_video_id_{side}"], "shot"])
        assert list(row[f"shot_starts_{side}"]) == [0.0, 0.5, 1.0]
    for path in [*row.shot_paths_a, *row.shot_paths_b, row.joined_path_a]:
        assert (out / path).is_file()  # the media travel with the snapshot

    votes = pd.read_parquet(out / "data/votes.parquet")
    assert set(votes.conditioning_shown) == {"all_references_no_prompt"}
    references = pd.read_parquet(out / "data/references.parquet")
    assert sorted(references.viewpoint) == ["back", "front", "profile_left"]
    assert set(references.framing) == {"full_body"} and references.in_three_view.all()

    # A cache of its own: the library keys its cache by path and size, which another run may share.
    loaded = datasets.load_dataset(
        str(out), "story_pairs", split="train", cache_dir=str(tmp_path / "hf-cache")
    )
    assert loaded[0]["comparison_id"] == comparison.pk
    card = (out / "README.md").read_text()
    assert "`data/story_pairs.parquet`" in card and "`viewpoint`" in card


def test_schema_1_keeps_its_videos_and_references_columns(story_world, tmp_path):
    out = export_build(options=ExportOptions(schema=1), out_dir=tmp_path / "v1").path

    assert "story_id" not in pd.read_parquet(out / "data/videos.parquet").columns
    assert "viewpoint" not in pd.read_parquet(out / "data/references.parquet").columns
    assert not (out / "data/story_pairs.parquet").exists()
    assert "story_pairs" not in (out / "README.md").read_text()
