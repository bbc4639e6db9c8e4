"""The import's references with a framing, a viewpoint and the three-view flag, and its stories."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from generation.models import Reference, Story
from generation.services import catalog_import
from tests.factories import IdentityFactory, PromptFactory
from tests.generation.test_import_catalog import good_manifest, refused, write_manifest, write_png

pytestmark = pytest.mark.django_db


def with_three_view(folder: Path) -> dict[str, Any]:
    """The good manifest, Ada with a complete three-view set: front, left profile and back, full body."""
    manifest = good_manifest(folder)
    references = manifest["identities"][0]["references"]
    for shade, viewpoint in ((120, "front"), (140, "profile_left"), (160, "back")):
        write_png(folder / f"refs/ada_{viewpoint}.png", shade=shade)
        references.append(
            {
                "file": f"refs/ada_{viewpoint}.png",
                "framing": "full_body",
                "viewpoint": viewpoint,
                "three_view": True,
            }
        )
    return manifest


def with_story(folder: Path, shots: list[Any]) -> dict[str, Any]:
    manifest = good_manifest(folder)
    for slug in ("p2", "p3"):
        manifest["prompts"].append({"slug": slug, "task": "full", "full_text": f"Shot {slug}."})
    manifest["stories"] = [{"slug": "market", "identity": "ada", "title": "At the market", "shots": shots}]
    return manifest


# --- references ------------------------------------------------------------------------------------


def test_it_imports_a_framing_a_viewpoint_and_the_three_view_set(tmp_path):
    write_manifest(tmp_path, with_three_view(tmp_path))

    catalog_import(manifest_path=tmp_path)

    rows = Reference.objects.filter(identity__slug="ada").order_by("position")
    assert [(r.kind, r.viewpoint, r.in_three_view) for r in rows] == [
        ("face", "unknown", False),
        ("portrait", "unknown", False),
        ("video", "unknown", False),
        ("full_body", "front", True),
        ("full_body", "profile_left", True),
        ("full_body", "back", True),
    ]


def test_the_framing_clip_is_a_video_reference(tmp_path):
    manifest = good_manifest(tmp_path)
    clip = manifest["identities"][0]["references"][2]
    del clip["kind"]
    clip["framing"] = "clip"
    write_manifest(tmp_path, manifest)

    catalog_import(manifest_path=tmp_path)

    assert Reference.objects.get(note="turning head").kind == "video"


def test_it_refuses_an_unknown_framing_and_an_unknown_viewpoint(tmp_path):
    manifest = good_manifest(tmp_path)
    face = manifest["identities"][0]["references"][0]
    del face["kind"]
    face.update(framing="headshot", viewpoint="side")
    assert refused(tmp_path, manifest) == [
        "identities[0].references[0]: \"framing\" is 'headshot'; "
        "expected one of face, portrait, full_body, clip",
        "identities[0].references[0]: \"viewpoint\" is 'side'; expected one of front, three_quarter_left, "
        "three_quarter_right, profile_left, profile_right, back, unknown",
    ]


def test_it_refuses_a_reference_without_a_framing_or_with_two(tmp_path):
    manifest = good_manifest(tmp_path)
    references = manifest["identities"][0]["references"]
    del references[1]["kind"]
    references[2]["framing"] = "clip"
    assert refused(tmp_path, manifest) == [
        'identities[0].references[1]: missing "framing"',
        'identities[0].references[2]: give "framing" or its older name "kind", not both',
    ]


def test_it_refuses_a_three_view_set_missing_its_back_view(tmp_path):
    manifest = with_three_view(tmp_path)
    manifest["identities"][0]["references"].pop()
    assert refused(tmp_path, manifest) == ["identities[0]: the three-view set of ada has no back view"]


def test_it_refuses_a_three_view_reference_that_is_not_full_body(tmp_path):
    manifest = with_three_view(tmp_path)
    manifest["identities"][0]["references"][4]["framing"] = "portrait"
    assert refused(tmp_path, manifest) == [
        "identities[0]: the three-view set of ada has a left profile reference framed "
        '"Portrait / half body"; every reference of the set is full body'
    ]


def test_a_second_three_view_set_for_an_identity_in_the_catalog_is_refused(tmp_path):
    manifest = with_three_view(tmp_path)
    write_manifest(tmp_path, manifest)
    catalog_import(manifest_path=tmp_path)
    write_png(tmp_path / "refs/ada_front_again.png", shade=222)
    manifest["identities"][0]["references"].append(
        {"file": "refs/ada_front_again.png", "framing": "full_body", "viewpoint": "front", "three_view": True}
    )
    assert refused(tmp_path, manifest) == [
        "identities[0]: the three-view set of ada has 2 front views; one of each"
    ]


def test_it_still_refuses_two_primaries_for_one_identity(tmp_path):
    manifest = with_three_view(tmp_path)
    manifest["identities"][0]["references"][3]["primary"] = True
    assert refused(tmp_path, manifest) == [
        'refs/ada_front.png: second primary reference for identity "ada"; refs/ada_face.png is primary '
        "(identities[0].references[3])"
    ]


# --- stories -----------------------------------------------------------------------------------------


def test_it_imports_a_story_with_its_shots_in_order(tmp_path):
    write_manifest(tmp_path, with_story(tmp_path, ["p2", "p1", "p3"]))

    summary = catalog_import(manifest_path=tmp_path)

    story = Story.objects.get(slug="market")
    assert (story.identity.slug, story.title) == ("ada", "At the market")
    assert [prompt.slug for prompt in story.shot_prompts()] == ["p2", "p1", "p3"]
    assert list(story.shots.values_list("position", flat=True)) == [1, 2, 3]
    assert "stories: 1 created, 0 reused" in str(summary)


def test_a_second_run_creates_the_story_once(tmp_path):
    write_manifest(tmp_path, with_story(tmp_path, ["p1", "p2"]))
    catalog_import(manifest_path=tmp_path)

    summary = catalog_import(manifest_path=tmp_path)

    assert (summary.stories.new, summary.stories.present) == (0, 1)
    assert Story.objects.get().shots.count() == 2


def test_a_story_may_name_an_identity_and_prompts_already_in_the_catalog(tmp_path):
    IdentityFactory(slug="bob")
    PromptFactory(slug="walk")
    PromptFactory(slug="sit")
    write_manifest(tmp_path, {"stories": [{"slug": "park", "identity": "bob", "shots": ["walk", "sit"]}]})

    catalog_import(manifest_path=tmp_path)

    assert [p.slug for p in Story.objects.get(slug="park").shot_prompts()] == ["walk", "sit"]


def test_it_refuses_a_story_with_an_unknown_identity_or_prompt(tmp_path):
    manifest = with_story(tmp_path, ["p1", "p9"])
    manifest["stories"][0]["identity"] = "zed"
    assert refused(tmp_path, manifest) == [
        'stories[0]: unknown identity "zed" (neither in the manifest nor in the catalog)',
        'stories[0]: shot 2: unknown prompt "p9" (neither in the manifest nor in the catalog)',
    ]


@pytest.mark.parametrize("shots", [["p1"], ["p1", "p2", "p3", "p1", "p2", "p3"]])
def test_it_refuses_a_story_with_too_few_or_too_many_shots(tmp_path, shots):
    assert refused(tmp_path, with_story(tmp_path, shots)) == [
        f'stories[0]: "shots" has {len(shots)} prompt(s); a story has 2 to 5'
    ]


def test_it_refuses_a_story_that_differs_from_its_namesake_in_the_catalog(tmp_path):
    manifest = with_story(tmp_path, ["p1", "p2"])
    write_manifest(tmp_path, manifest)
    catalog_import(manifest_path=tmp_path)
    manifest["stories"][0]["shots"] = ["p2", "p1"]
    assert refused(tmp_path, manifest) == [
        'stories[0]: slug "market" is already in the catalog as a story with another identity, title or '
        "shots; give it a new slug, or describe it as the catalog has it"
    ]
