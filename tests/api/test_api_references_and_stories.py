"""The catalog's references (framing, viewpoint, three-view flag) and stories through the API."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from generation.models import Identity, Reference, Story, StoryShot
from tests.factories import IdentityFactory, PromptFactory

pytestmark = pytest.mark.django_db


def reference(identity: Identity, name: str, **fields: Any) -> Reference:
    return Reference.objects.create(
        identity=identity,
        file=f"{name}.png",
        sha256=name.ljust(64, "0"),
        bytes=1,
        width=8,
        height=8,
        **fields,
    )


def story(identity: Identity, slug: str, prompts: list[str]) -> Story:
    made = Story.objects.create(slug=slug, identity=identity, title=slug.title())
    for position, prompt in enumerate(prompts, start=1):
        StoryShot.objects.create(
            story=made, position=position, prompt=PromptFactory(slug=prompt, full_text=f"The {prompt} shot.")
        )
    return made


def test_identities_list_their_references_with_framing_viewpoint_and_three_view_flag(ml_api: APIClient):
    ada = IdentityFactory(slug="ada")
    reference(ada, "face", kind="face", is_primary=True)
    reference(ada, "back", kind="full_body", viewpoint="back", in_three_view=True)

    [row] = ml_api.get("/api/identities/").json()["results"]

    assert [
        (r["framing"], r["viewpoint"], r["in_three_view"], r["is_primary"]) for r in row["references"]
    ] == [
        ("face", "unknown", False, True),
        ("full_body", "back", True, False),
    ]


def test_the_identities_list_reads_references_in_one_query_for_the_page(ml_api: APIClient):
    for slug in ("ada", "bob", "cy"):
        identity = IdentityFactory(slug=slug)
        reference(identity, f"{slug}-face", kind="face", is_primary=True)
        reference(identity, f"{slug}-side", kind="portrait", viewpoint="profile_left")
    with CaptureQueriesContext(connection) as few:
        ml_api.get("/api/identities/")
    reference(IdentityFactory(slug="dee"), "dee-face", kind="face")
    with CaptureQueriesContext(connection) as more:
        ml_api.get("/api/identities/")
    assert len(more) == len(few)


def test_stories_list_their_shots_in_order_with_prompt_slug_and_text(ml_api: APIClient):
    ada = IdentityFactory(slug="ada")
    made = story(ada, "market", ["arrive", "buy", "leave"])

    [row] = ml_api.get("/api/stories/").json()["results"]

    assert (row["id"], row["slug"], row["identity"], row["title"]) == (made.pk, "market", ada.pk, "Market")
    assert [(shot["position"], shot["prompt_slug"], shot["text"]) for shot in row["shots"]] == [
        (1, "arrive", "The arrive shot."),
        (2, "buy", "The buy shot."),
        (3, "leave", "The leave shot."),
    ]


def test_stories_filter_by_identity(ml_api: APIClient):
    ada, bob = IdentityFactory(slug="ada"), IdentityFactory(slug="bob")
    story(ada, "market", ["arrive", "leave"])
    story(bob, "park", ["walk", "sit"])

    rows = ml_api.get(f"/api/stories/?identity={bob.pk}").json()["results"]

    assert [row["slug"] for row in rows] == ["park"]


@pytest.mark.parametrize("query", ["identity=abc", "identity=0", "shots=2"])
def test_a_bad_story_filter_gets_400_naming_it(ml_api: APIClient, query: str):
    response = ml_api.get(f"/api/stories/?{query}")
    assert response.status_code == 400
    assert query.split("=")[0] in response.json()


def test_the_api_root_lists_the_stories(ml_api: APIClient):
    assert ml_api.get("/api/").json()["stories"].endswith("/api/stories/")
