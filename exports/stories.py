"""Schema 2: stories in a snapshot. ``data/stories.parquet`` (one row per story: its identity and shot
prompts in order) and ``data/story_pairs.parquet`` (one row per compared pair of story renderings: each
side's joined file and its shot videos in order, with the second at which each shot starts).

A narrative comparison pairs the joined files of two renderings (generation.models.StoryRendering); the
shot videos of every exported rendering are exported with it (videos.parquet lists them with their story,
rendering and shot), so that a trainer can read a story shot by shot. Few rows: read with the ORM.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
from django.db import connection

from exports import tables, write
from exports.read import int_array_literal
from generation.models import StoryRendering, StoryShot

STORIES_PATH = "data/stories.parquet"
STORY_PAIRS_PATH = "data/story_pairs.parquet"


def shot_video_ids(video_ids: np.ndarray) -> np.ndarray:
    """The shot videos of the story renderings whose joined files are among ``video_ids``."""
    if not StoryRendering.objects.exists():  # a catalog without stories pays one cheap query
        return np.zeros(0, dtype=np.int64)
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT shot.id FROM generation_video AS joined
            JOIN generation_video AS shot ON shot.rendering_id = joined.rendering_id AND shot.shot IS NOT NULL
            WHERE joined.id = ANY(%s::bigint[]) AND joined.rendering_id IS NOT NULL AND joined.shot IS NULL
            ORDER BY shot.id
            """,
            [int_array_literal(video_ids)],
        )
        return np.array([row[0] for row in cursor.fetchall()], dtype=np.int64)


STORY_SCHEMA = pa.schema(
    [
        ("story_id", pa.int64()),
        ("slug", pa.string()),
        ("identity_id", pa.int64()),
        ("title", pa.string()),
        ("shot_prompt_ids", pa.list_(pa.int64())),
        ("shot_prompts", pa.list_(pa.string())),
    ]
)
STORY_PAIR_SCHEMA = pa.schema(
    [
        ("comparison_id", pa.int64()),
        ("split", pa.string()),
        ("story_id", pa.int64()),
        *[
            (f"{name}_{side}", kind)
            for side in ("a", "b")
            for name, kind in (
                ("rendering_id", pa.int64()),
                ("mode", pa.string()),
                ("joined_video_id", pa.int64()),
                ("joined_path", pa.string()),
                ("shot_video_ids", pa.list_(pa.int64())),
                ("shot_paths", pa.list_(pa.string())),
                ("shot_starts", pa.list_(pa.float64())),
            )
        ],
    ]
)


def stories_write(*, work: Path, pairs: tables.Pairs, videos: pa.Table) -> dict[str, Any]:
    """Write both files when the snapshot has story renderings; the manifest's ``stories`` entry."""
    rendering_of_video = dict(zip(videos["id"].to_pylist(), videos["rendering_id"].to_pylist(), strict=True))
    rendering_ids = sorted({r for r in rendering_of_video.values() if r is not None})
    if not rendering_ids:
        return {"stories": 0, "story_pairs": 0, "files": []}
    paths = dict(zip(videos["id"].to_pylist(), tables.media_paths(videos).to_pylist(), strict=True))
    shot_of_video = dict(zip(videos["id"].to_pylist(), videos["shot"].to_pylist(), strict=True))
    renderings = {r.pk: r for r in StoryRendering.objects.filter(pk__in=rendering_ids)}
    shots: dict[int, list[int]] = {pk: [] for pk in rendering_ids}
    joined: dict[int, int] = {}
    for video_id in sorted(rendering_of_video):
        rendering = rendering_of_video[video_id]
        if rendering is None:
            continue
        if shot_of_video[video_id] is None:
            joined[rendering] = video_id
        else:
            shots[rendering].append(video_id)
    for videos_of_rendering in shots.values():
        videos_of_rendering.sort(key=lambda pk: shot_of_video[pk])

    story_ids = sorted({r.story_id for r in renderings.values()})
    story_rows = _stories(story_ids)
    write.write_parquet(pa.Table.from_pylist(story_rows, schema=STORY_SCHEMA), work / STORIES_PATH)

    rows = []
    for comparison_id, split, video_a, video_b in zip(
        pairs.whole("comparison_id").to_pylist(),
        pairs.whole("split").to_pylist(),
        pairs.whole("video_a_id").to_pylist(),
        pairs.whole("video_b_id").to_pylist(),
        strict=True,
    ):
        rendering_a, rendering_b = rendering_of_video.get(video_a), rendering_of_video.get(video_b)
        # A story-level pair compares two joined files; a comparison of two shots is a clip pair.
        if rendering_a is None or rendering_b is None or shot_of_video[video_a] is not None:
            continue
        row: dict[str, Any] = {
            "comparison_id": comparison_id,
            "split": split,
            "story_id": renderings[rendering_a].story_id,
        }
        for side, rendering_id in (("a", rendering_a), ("b", rendering_b)):
            rendering = renderings[rendering_id]
            row |= {
                f"rendering_id_{side}": rendering_id,
                f"mode_{side}": rendering.mode,
                f"joined_video_id_{side}": joined.get(rendering_id),
                f"joined_path_{side}": paths.get(joined.get(rendering_id)),
                f"shot_video_ids_{side}": shots[rendering_id],
                f"shot_paths_{side}": [paths[pk] for pk in shots[rendering_id]],
                f"shot_starts_{side}": [float(s) for s in rendering.shot_starts],
            }
        rows.append(row)
    write.write_parquet(pa.Table.from_pylist(rows, schema=STORY_PAIR_SCHEMA), work / STORY_PAIRS_PATH)
    return {"stories": len(story_rows), "story_pairs": len(rows), "files": [STORIES_PATH, STORY_PAIRS_PATH]}


def _stories(story_ids: list[int]) -> list[dict[str, Any]]:
    shots = StoryShot.objects.filter(story_id__in=story_ids).select_related("story", "prompt")
    by_story: dict[int, dict[str, Any]] = {}
    for shot in shots.order_by("story_id", "position"):
        row = by_story.setdefault(
            shot.story_id,
            {
                "story_id": shot.story_id,
                "slug": shot.story.slug,
                "identity_id": shot.story.identity_id,
                "title": shot.story.title,
                "shot_prompt_ids": [],
                "shot_prompts": [],
            },
        )
        row["shot_prompt_ids"].append(shot.prompt_id)
        row["shot_prompts"].append(shot.prompt.full_text)
    return [by_story[pk] for pk in story_ids if pk in by_story]
