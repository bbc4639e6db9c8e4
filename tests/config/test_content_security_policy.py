"""Every kind of page is sent with a strict Content-Security-Policy and has nothing the policy would block:
no inline script, no inline event handler, no style attribute."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest
from django.contrib.auth.models import User
from django.http import HttpResponse
from django.test import Client
from django.urls import reverse

from exports.models import ExportRun
from generation.models import Video
from studies.models import Participant
from tests.factories import make_track
from tests.studies.conftest import answer_all, build_catalog, make_study

pytestmark = pytest.mark.django_db


class InlineCode(HTMLParser):
    """Collects what a strict policy refuses to run or apply: inline scripts without a nonce, on*=
    attributes, style="" attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []
        self._script_open = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        names = dict(attrs)
        for name, _ in attrs:
            if name.startswith("on"):
                self.found.append(f"<{tag} {name}=…>")
            if name == "style":
                self.found.append(f'<{tag} style="{names["style"]}">')
        data_only = (names.get("type") or "").lower() == "application/json"  # json_script: not run
        if tag == "script" and "src" not in names and "nonce" not in names and not data_only:
            self._script_open = True

    def handle_data(self, data: str) -> None:
        if self._script_open and data.strip():
            self.found.append(f"<script>{data.strip()[:60]}…</script>")

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._script_open = False


def directives(response: HttpResponse) -> dict[str, list[str]]:
    header = response.headers["Content-Security-Policy"]
    parts = (part.split() for part in header.split(";") if part.strip())
    return {part[0]: part[1:] for part in parts}


def assert_strict(response: HttpResponse, *, docs: bool = False) -> None:
    assert response.status_code == 200, response
    policy = directives(response)
    script_src = policy.get("script-src", policy["default-src"])
    assert script_src == ["'self'"]
    assert policy["default-src"] == ["'self'"]
    assert policy["object-src"] == ["'none'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert policy["form-action"] == ["'self'"]
    assert policy["base-uri"] == ["'self'"]
    if not docs:
        assert policy["style-src"] == ["'self'"]
        parser = InlineCode()
        parser.feed(response.content.decode())
        assert parser.found == []


def test_the_sign_in_page_is_strict(client: Client) -> None:
    assert_strict(client.get(reverse("login")))


def test_the_annotators_pages_and_the_htmx_comparison_panel_are_strict(
    client: Client, annotator: User
) -> None:
    track = make_track(annotators=[annotator])
    client.force_login(annotator)
    work = reverse("annotate:track_work", args=[track.pk])
    assert_strict(client.get(reverse("home")))
    assert_strict(client.get(reverse("annotate:track_list")))
    assert_strict(client.get(work))
    panel = client.get(work, headers={"HX-Request": "true"})
    assert 'id="comparison-panel"' in panel.content.decode() and "<html" not in panel.content.decode()
    assert_strict(panel)


def test_every_page_a_participant_sees_is_strict(client: Client) -> None:
    study = make_study(build_catalog(), matchups_per_participant=2)
    base = f"/s/{study.public_slug}/"
    assert_strict(client.get(base))  # the instructions
    client.post(base)
    assert_strict(client.get(f"{base}consent/"))
    client.post(f"{base}consent/", {"agree": "on"})
    assert_strict(client.get(f"{base}m/1/"))
    answer_all(Participant.objects.get())
    assert_strict(client.get(f"{base}done/"))
    assert_strict(client.get(f"{base}withdraw/"))


def test_a_best_of_all_matchup_page_is_strict(client: Client) -> None:
    study = make_study(build_catalog(), preset="personalvideo", matchups_per_participant=2)
    base = f"/s/{study.public_slug}/"
    client.post(base)
    client.post(f"{base}consent/", {"agree": "on"})
    page = client.get(f"{base}m/1/")
    assert 'class="ab-player study-player many" data-ab-player' in page.content.decode()
    assert_strict(page)


def test_the_study_admin_pages_are_strict(admin_client: Client) -> None:
    study = make_study(build_catalog())
    admin_client.post(reverse("studies:invitations_create", args=[study.pk]), {"count": "2"})
    for url in (
        reverse("studies:study_list"),
        reverse("studies:study_create"),
        reverse("studies:study_detail", args=[study.pk]),
        reverse("studies:study_edit", args=[study.pk]),
        reverse("studies:study_results", args=[study.pk]),
    ):
        assert_strict(admin_client.get(url))


def test_the_management_pages_are_strict(admin_client: Client) -> None:
    track = make_track()
    run = ExportRun.objects.create(options={})
    for url in (
        reverse("exports:list"),
        reverse("exports:detail", args=[run.pk]),
        reverse("manage_tracks:list"),
        reverse("manage_tracks:new"),
        reverse("manage_tracks:detail", args=[track.pk]),
        reverse("generation:job_list"),
        reverse("generation:job_new"),
        reverse("generation:video_upload"),
    ):
        assert_strict(admin_client.get(url))
    progress = reverse("exports:progress", args=[run.pk])
    assert_strict(admin_client.get(progress, headers={"HX-Request": "true"}))


def test_the_django_admin_is_strict(admin_client: Client) -> None:
    make_track()
    video = Video.objects.first()
    assert video is not None
    for url in (
        reverse("admin:index"),
        reverse("admin:generation_video_changelist"),
        reverse("admin:generation_video_change", args=[video.pk]),
    ):
        assert_strict(admin_client.get(url))


def test_the_api_docs_keep_the_script_policy_and_load_their_script_from_a_file(
    admin_client: Client,
) -> None:
    page = admin_client.get(reverse("api:docs"))
    assert_strict(page, docs=True)
    parser = InlineCode()
    parser.feed(page.content.decode())
    assert not [found for found in parser.found if found.startswith("<script")]
    script = admin_client.get(reverse("api:docs"), {"script": ""})
    assert script.headers["Content-Type"].startswith("application/javascript")
    assert b"SwaggerUIBundle" in script.content
    assert_strict(admin_client.get(reverse("api:redoc")), docs=True)
    assert b"fonts.googleapis.com" not in admin_client.get(reverse("api:redoc")).content
