"""The catalog's admin pages: they render, and a video's provenance cannot be changed there."""

from __future__ import annotations

import pytest
from django.urls import reverse

from generation.admin import VIDEO_PROVENANCE
from generation.models import Method, Video
from tests.factories import IdentityFactory, MethodFactory, PromptFactory, make_video

pytestmark = pytest.mark.django_db


@pytest.fixture
def video() -> Video:
    return make_video(method=MethodFactory(name="made-it"), seed=7)


def test_the_catalog_admin_pages_render(admin_client, video):
    urls = [
        reverse("admin:generation_method_changelist"),
        reverse("admin:generation_method_add"),
        reverse("admin:generation_method_change", args=[video.method_id]),
        reverse("admin:generation_video_changelist"),
        reverse("admin:generation_video_change", args=[video.pk]),
        reverse("admin:generation_identity_changelist"),
        reverse("admin:generation_identity_change", args=[video.identity_id]),
        reverse("admin:generation_prompt_changelist"),
        reverse("admin:generation_prompt_change", args=[video.prompt_id]),
        reverse("admin:generation_reference_changelist"),
    ]
    for url in urls:
        assert admin_client.get(url).status_code == 200, url


def test_the_method_page_says_what_saving_checks(admin_client):
    page = admin_client.get(reverse("admin:generation_method_add")).content.decode()
    assert "num_frames of the form 4k+1" in page
    assert "make_tiny_model prints it" in page


def test_the_video_page_shows_the_provenance_without_a_field_to_change_it(admin_client, video):
    page = admin_client.get(reverse("admin:generation_video_change", args=[video.pk])).content.decode()
    assert "made-it" in page and video.identity.name in page and video.prompt.slug in page
    for name in VIDEO_PROVENANCE:
        assert f'name="{name}"' not in page


def test_posting_a_changed_provenance_leaves_the_video_unchanged(admin_client, video):
    before = Video.objects.values(*VIDEO_PROVENANCE).get(pk=video.pk)
    other = MethodFactory(name="someone-else", backend=Method.Backend.IMPORTED)
    response = admin_client.post(
        reverse("admin:generation_video_change", args=[video.pk]),
        {
            "method": other.pk,
            "identity": IdentityFactory().pk,
            "prompt": PromptFactory().pk,
            "seed": 99,
            "settings": '{"source": "rewritten"}',
        },
    )
    assert response.status_code == 302
    assert Video.objects.values(*VIDEO_PROVENANCE).get(pk=video.pk) == before


def test_videos_enter_through_generation_or_import_not_the_admin_add_page(admin_client):
    # The upload page and import_catalog probe and hash the file; the admin has no add page for videos.
    assert admin_client.get(reverse("admin:generation_video_add")).status_code == 403
    assert admin_client.get(reverse("generation:video_upload")).status_code == 200
