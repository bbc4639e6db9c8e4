"""The catalog admin's references (framing, viewpoint, three-view set) and stories with their shots."""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse

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


@pytest.fixture
def ada() -> Identity:
    identity = IdentityFactory(slug="ada", name="Ada")
    reference(identity, "face", kind="face", is_primary=True)
    reference(identity, "front", kind="full_body", viewpoint="front")
    reference(identity, "side", kind="full_body", viewpoint="profile_left")
    reference(identity, "back", kind="full_body", viewpoint="back")
    return identity


def identity_post(identity: Identity, changes: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The identity page's form as the browser sends it, with ``changes`` by reference file name."""
    rows = list(identity.references.order_by("id"))
    data: dict[str, Any] = {
        "slug": identity.slug,
        "name": identity.name,
        "references-TOTAL_FORMS": len(rows),
        "references-INITIAL_FORMS": len(rows),
        "references-MIN_NUM_FORMS": 0,
        "references-MAX_NUM_FORMS": 1000,
    }
    for index, row in enumerate(rows):
        fields = {
            "id": row.pk,
            "identity": identity.pk,
            "kind": row.kind,
            "viewpoint": row.viewpoint,
            "position": row.position,
            "note": row.note,
            **({"in_three_view": "on"} if row.in_three_view else {}),
            **({"is_primary": "on"} if row.is_primary else {}),
            **changes.get(row.file.name.removesuffix(".png"), {}),
        }
        data.update(
            {f"references-{index}-{key}": value for key, value in fields.items() if value is not None}
        )
    return data


def test_the_identity_page_shows_each_references_framing_viewpoint_and_three_view_flag(admin_client, ada):
    page = admin_client.get(reverse("admin:generation_identity_change", args=[ada.pk])).content.decode()
    assert 'name="references-0-viewpoint"' in page
    assert 'name="references-0-in_three_view"' in page
    assert 'name="references-0-kind"' in page
    assert "Three-quarter left" in page and "Full body" in page


def test_the_identity_page_saves_a_complete_three_view_set(admin_client, ada):
    three = {"in_three_view": "on"}
    response = admin_client.post(
        reverse("admin:generation_identity_change", args=[ada.pk]),
        identity_post(ada, {"front": three, "side": three, "back": three}),
    )
    assert response.status_code == 302
    assert set(ada.references.filter(in_three_view=True).values_list("viewpoint", flat=True)) == {
        "front",
        "profile_left",
        "back",
    }


def test_the_identity_page_refuses_a_three_view_set_without_its_back_view(admin_client, ada):
    three = {"in_three_view": "on"}
    response = admin_client.post(
        reverse("admin:generation_identity_change", args=[ada.pk]),
        identity_post(ada, {"front": three, "side": three}),
    )
    assert response.status_code == 200
    assert "The three-view set of ada has no back view." in response.content.decode()
    assert not ada.references.filter(in_three_view=True).exists()


def test_the_identity_page_refuses_a_set_member_that_is_not_full_body(admin_client, ada):
    three = {"in_three_view": "on"}
    response = admin_client.post(
        reverse("admin:generation_identity_change", args=[ada.pk]),
        identity_post(ada, {"front": {**three, "kind": "portrait"}, "side": three, "back": three}),
    )
    assert response.status_code == 200
    assert "every reference of the set is full body" in response.content.decode()
    assert ada.references.get(file="front.png").kind == "full_body"


def test_a_still_image_cannot_become_a_clip(admin_client, ada):
    response = admin_client.post(
        reverse("admin:generation_identity_change", args=[ada.pk]),
        identity_post(ada, {"face": {"kind": "video"}}),
    )
    assert response.status_code == 200
    assert "The file is a still image: its framing cannot be a clip." in response.content.decode()


def test_the_reference_page_refuses_to_leave_a_set_incomplete(admin_client, ada):
    ada.references.exclude(kind="face").update(in_three_view=True)
    back = ada.references.get(file="back.png")
    response = admin_client.post(
        reverse("admin:generation_reference_change", args=[back.pk]),
        {
            "identity": ada.pk,
            "kind": "full_body",
            "viewpoint": "unknown",
            "in_three_view": "on",
            "position": 0,
        },
    )
    assert response.status_code == 200
    page = response.content.decode()
    assert "The three-view set of ada has a reference of unknown viewpoint" in page
    assert "The three-view set of ada has no back view." in page
    back.refresh_from_db()
    assert back.viewpoint == "back"


# --- stories -----------------------------------------------------------------------------------------


def story_post(identity: Identity, shots: list[tuple[int, int]]) -> dict[str, Any]:
    data: dict[str, Any] = {
        "slug": "market",
        "title": "At the market",
        "identity": identity.pk,
        "shots-TOTAL_FORMS": len(shots),
        "shots-INITIAL_FORMS": 0,
        "shots-MIN_NUM_FORMS": 0,
        "shots-MAX_NUM_FORMS": 1000,
    }
    for index, (position, prompt) in enumerate(shots):
        data |= {f"shots-{index}-position": position, f"shots-{index}-prompt": prompt}
    return data


def test_the_story_pages_render(admin_client, ada):
    story = Story.objects.create(slug="walk", identity=ada)
    for position in (1, 2):
        StoryShot.objects.create(story=story, position=position, prompt=PromptFactory())
    for url in (
        reverse("admin:generation_story_changelist"),
        reverse("admin:generation_story_add"),
        reverse("admin:generation_story_change", args=[story.pk]),
    ):
        assert admin_client.get(url).status_code == 200, url


def test_a_story_is_added_with_its_shots_in_order(admin_client, ada):
    first, second, third = PromptFactory(slug="enter"), PromptFactory(slug="buy"), PromptFactory(slug="leave")
    response = admin_client.post(
        reverse("admin:generation_story_add"), story_post(ada, [(2, second.pk), (1, first.pk), (3, third.pk)])
    )
    assert response.status_code == 302
    assert [prompt.slug for prompt in Story.objects.get(slug="market").shot_prompts()] == [
        "enter",
        "buy",
        "leave",
    ]


def test_a_story_with_one_shot_is_refused(admin_client, ada):
    response = admin_client.post(
        reverse("admin:generation_story_add"), story_post(ada, [(1, PromptFactory().pk)])
    )
    assert response.status_code == 200
    assert "A story has 2 to 5 shots; this one has 1." in response.content.decode()
    assert not Story.objects.exists()


def test_a_story_with_six_shots_is_refused(admin_client, ada):
    prompt = PromptFactory().pk
    response = admin_client.post(
        reverse("admin:generation_story_add"), story_post(ada, [(n, prompt) for n in (1, 2, 3, 4, 5, 5)])
    )
    assert response.status_code == 200
    assert not Story.objects.exists()


def test_shots_numbered_with_a_gap_are_refused(admin_client, ada):
    prompt = PromptFactory().pk
    response = admin_client.post(
        reverse("admin:generation_story_add"), story_post(ada, [(1, prompt), (3, prompt)])
    )
    assert response.status_code == 200
    assert "Number the shots 1, 2 in the order they play (given: 1, 3)." in response.content.decode()
    assert not Story.objects.exists()
