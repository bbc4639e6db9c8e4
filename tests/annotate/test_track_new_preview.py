from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from annotate.models import Comparison
from annotate.services import track_comparisons_count, track_create
from tests.factories import IdentityFactory, MethodFactory, PromptFactory, make_video

pytestmark = pytest.mark.django_db


@pytest.fixture
def catalog() -> dict:
    """Two identities, two prompts, three methods, and a second seed of the first method for one case."""
    identities = [IdentityFactory(), IdentityFactory()]
    prompts = [PromptFactory(), PromptFactory()]
    methods = [MethodFactory(), MethodFactory(), MethodFactory()]
    for identity in identities:
        for prompt in prompts:
            for method in methods:
                make_video(method=method, identity=identity, prompt=prompt, frames=4, size=32)
    make_video(method=methods[0], identity=identities[0], prompt=prompts[0], frames=4, size=32, seed=7)
    return {"identities": identities, "prompts": prompts, "methods": methods}


def _ids(rows: list) -> list[int]:
    return [row.pk for row in rows]


def test_the_count_is_what_creating_the_track_builds_and_building_nothing():
    identities, prompts, methods = [IdentityFactory()], [PromptFactory()], [MethodFactory() for _ in range(3)]
    for method in methods:
        make_video(method=method, identity=identities[0], prompt=prompts[0], frames=4, size=32)
    make_video(method=methods[0], identity=identities[0], prompt=prompts[0], frames=4, size=32, seed=9)
    slice_ = {"identities": identities, "prompts": prompts, "methods": methods}

    counted = track_comparisons_count(**slice_)

    assert not Comparison.objects.exists()
    track = track_create(name="counted", kind="identity_fidelity", **slice_)
    assert counted == track.items_total == 6  # four videos in one case: C(4, 2)


def test_the_preview_follows_the_chosen_identities_prompts_and_methods_as_a_fragment(
    admin_client: Client, catalog
):
    data = {
        "identities": _ids(catalog["identities"][:1]),
        "prompts": _ids(catalog["prompts"]),
        "methods": _ids(catalog["methods"][:2]),
    }
    response = admin_client.post(reverse("manage_tracks:new_preview"), data, headers={"HX-Request": "true"})

    body = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in body
    # One identity × two prompts × one pair, plus the first case's second seed: 3 pairs there.
    assert "These choices make <strong>4 comparisons</strong>" in body


def test_the_preview_says_when_the_choices_make_no_comparison(admin_client: Client, catalog):
    data = {"identities": _ids(catalog["identities"]), "prompts": [], "methods": _ids(catalog["methods"])}
    response = admin_client.post(reverse("manage_tracks:new_preview"), data, headers={"HX-Request": "true"})

    assert "These choices make no comparison" in response.content.decode()


def test_the_creation_page_opens_with_the_count_of_the_whole_catalog(admin_client: Client, catalog):
    response = admin_client.get(reverse("manage_tracks:new"))

    # Four cases × C(3, 2), and the case with a second seed has C(4, 2) = 6 instead of 3.
    assert "These choices make <strong>15 comparisons</strong>" in response.content.decode()
