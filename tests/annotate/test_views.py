from __future__ import annotations

import html as html_entities
import re
import tempfile
from datetime import timedelta
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from PIL import Image

from annotate.models import Assignment, Judgment, Track
from annotate.services import track_create, track_pause_set
from annotate.vote_path import canonical_choice
from generation import media
from generation.models import Reference, Video
from generation.services import reference_create
from tests.factories import IdentityFactory, MethodFactory, PromptFactory, gradient_frames, make_video

pytestmark = pytest.mark.django_db

SEED_BASE = 918273
SECRET_METHOD_NAMES = ("secret-ours-wan-lora", "secret-baseline-alpha", "secret-baseline-beta")


def html_text(page: str) -> str:
    """The page with its character references resolved: escaping may spell a quote either way."""
    return html_entities.unescape(page)


def make_track_with_references(
    *,
    kind: str,
    annotators: list[User] | tuple[User, ...] = (),
    methods: int = 3,
    frames: int = 32,
    shade: int = 0,
    **options: object,
) -> Track:
    """A track over one identity with three references (face, portrait, clip; the face primary),
    one prompt and ``methods`` videos with telltale method names and seeds: C(methods, 2) comparisons."""
    identity = IdentityFactory()
    prompt = PromptFactory()
    with tempfile.TemporaryDirectory() as folder:
        for position, (ref_kind, colour) in enumerate(
            [("face", (200, 90, 60)), ("portrait", (60, 120, 200))]
        ):
            path = Path(folder) / f"{ref_kind}.png"
            Image.new("RGB", (48, 64), (colour[0], colour[1], (colour[2] + shade + identity.pk) % 256)).save(
                path
            )
            reference_create(
                identity=identity, kind=ref_kind, source=path, is_primary=position == 0, position=position
            )
    clip = media.encode_mp4(gradient_frames(count=8, size=32, shade=200 + shade + identity.pk), fps=8)
    reference_create(identity=identity, kind=Reference.Kind.VIDEO, source=media.media_path(clip), position=2)
    method_rows = [MethodFactory(name=f"{name}-{identity.pk}") for name in SECRET_METHOD_NAMES[:methods]]
    for number, method in enumerate(method_rows):
        make_video(
            method=method, identity=identity, prompt=prompt, seed=SEED_BASE + number, frames=frames, size=32
        )
    return track_create(
        name=f"{Track.Kind(kind).label} round {identity.pk}",
        kind=kind,
        identities=[identity],
        prompts=[prompt],
        methods=method_rows,
        annotators=annotators,
        **options,  # type: ignore[arg-type]
    )


@pytest.fixture
def distinctive_video_ids() -> None:
    # Small ids such as 3 appear in any page ("3 left"); ids like 7654321 can only come from a leak.
    with connection.cursor() as cursor:
        cursor.execute("SELECT setval(pg_get_serial_sequence('generation_video', 'id'), 7654320)")


@pytest.fixture
def identity_track(annotator, distinctive_video_ids) -> Track:
    return make_track_with_references(kind=Track.Kind.IDENTITY_FIDELITY, annotators=[annotator])


@pytest.fixture
def control_track(annotator, distinctive_video_ids) -> Track:
    return make_track_with_references(kind=Track.Kind.PROMPT_CONTROLLABILITY, annotators=[annotator])


def work_url(track: Track) -> str:
    return reverse("annotate:track_work", args=[track.pk])


def vote_url(track: Track, assignment: Assignment) -> str:
    return reverse("annotate:vote", args=[track.pk, assignment.pk])


def watch_url(track: Track, assignment: Assignment) -> str:
    return reverse("annotate:watch", args=[track.pk, assignment.pk])


def open_assignment(client: Client, track: Track) -> Assignment:
    """Open the work page (which hands out a comparison) and return the assignment it shows."""
    assert client.get(work_url(track)).status_code == 200
    return Assignment.objects.get(item__track=track, status=Assignment.Status.OPEN)


def watch_plausibly(client: Client, track: Track, assignment: Assignment) -> None:
    """Report both videos played through, as if the comparison had been handed out a minute ago."""
    Assignment.objects.filter(pk=assignment.pk).update(issued_at=timezone.now() - timedelta(seconds=60))
    response = client.post(watch_url(track, assignment), {"watched_left": "1", "watched_right": "1"})
    assert response.json() == {"watched_left": 1.0, "watched_right": 1.0}


def prompt_texts(track: Track) -> list[str]:
    prompt = track.comparisons.first().prompt
    return [prompt.full_text, prompt.differential_text, prompt.hairstyle, prompt.setting]


# --- the work page in each mode -----------------------------------------------------------------


def test_the_identity_mode_shows_every_reference_and_no_prompt_text(annotator_client, identity_track):
    html = annotator_client.get(work_url(identity_track)).content.decode()

    references = Reference.objects.filter(identity=identity_track.comparisons.first().identity)
    assert references.count() == 3
    for reference in references:
        assert reverse("media", args=[reference.file.name]) in html
    clip = references.get(kind=Reference.Kind.VIDEO)
    assert "muted loop autoplay playsinline" in html.split(reverse("media", args=[clip.file.name]))[1][:200]
    for text in prompt_texts(identity_track):
        assert text.lower() not in html.lower()
    assert "The prompt asks for" not in html


def test_the_controllability_mode_shows_only_the_primary_reference_and_the_differential_prompt(
    annotator_client, control_track
):
    html = annotator_client.get(work_url(control_track)).content.decode()

    prompt = control_track.comparisons.first().prompt
    assert prompt.differential_text in html
    assert prompt.full_text not in html
    references = Reference.objects.filter(identity=control_track.comparisons.first().identity)
    shown = [r for r in references if reverse("media", args=[r.file.name]) in html]
    assert shown == [references.get(is_primary=True)]


@pytest.mark.parametrize("mode", ["identity_track", "control_track"])
def test_the_page_reveals_no_method_seed_or_video_id(request, annotator_client, mode):
    track = request.getfixturevalue(mode)
    html = annotator_client.get(work_url(track)).content.decode()

    assert "secret" not in html.lower()
    assert str(SEED_BASE)[:4] not in html
    videos = Video.objects.filter(identity=track.comparisons.first().identity)
    assert min(v.pk for v in videos) > 7654320
    for video in videos:
        assert str(video.pk) not in html
    assert "Left video" in html and "Right video" in html


def test_the_left_video_is_the_one_the_assignment_shows_left(annotator_client, identity_track):
    assignment = open_assignment(annotator_client, identity_track)
    comparison = assignment.item.comparison
    for shown_left, left, right in [
        ("A", comparison.video_a, comparison.video_b),
        ("B", comparison.video_b, comparison.video_a),
    ]:
        Assignment.objects.filter(pk=assignment.pk).update(shown_left=shown_left)
        html = annotator_client.get(work_url(identity_track)).content.decode()
        left_at = html.index(reverse("media", args=[left.file.name]))
        right_at = html.index(reverse("media", args=[right.file.name]))
        assert html.index("Left video") < left_at < html.index("Right video") < right_at


def test_the_page_header_counts_what_i_did_and_what_is_left(annotator_client, identity_track):
    html = annotator_client.get(work_url(identity_track)).content.decode()
    assert "0 done</strong> · 3 left" in html


def test_an_htmx_get_of_the_work_page_returns_only_the_panel(annotator_client, identity_track):
    response = annotator_client.get(work_url(identity_track), headers={"HX-Request": "true"})
    html = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in html
    assert 'id="comparison-panel"' in html


def test_my_tracks_and_the_home_page_list_the_tracks_with_progress(
    annotator_client, identity_track, annotator
):
    make_track_with_references(kind=Track.Kind.PROMPT_CONTROLLABILITY, shade=50)  # not mine
    for url in (reverse("annotate:track_list"), reverse("home")):
        html = annotator_client.get(url).content.decode()
        assert identity_track.name in html
        assert "Prompt controllability round" not in html
        assert "0 done</strong> · 3 left" in html
        assert "0 of 9 votes" in html


# --- voting ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("clicked", "shown_left"), [("left", "A"), ("left", "B"), ("right", "A"), ("right", "B")]
)
def test_an_htmx_vote_stores_the_canonical_choice_and_returns_the_next_panel(
    annotator_client, identity_track, clicked, shown_left
):
    assignment = open_assignment(annotator_client, identity_track)
    Assignment.objects.filter(pk=assignment.pk).update(shown_left=shown_left)
    watch_plausibly(annotator_client, identity_track, assignment)

    response = annotator_client.post(
        vote_url(identity_track, assignment),
        {"choice": clicked, "response_ms": "4321"},
        headers={"HX-Request": "true"},
    )

    html = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in html and 'id="comparison-panel"' in html
    judgment = Judgment.objects.get(assignment=assignment)
    assert judgment.choice == canonical_choice(side_choice=clicked, shown_left=shown_left)
    assert (judgment.shown_left, judgment.response_ms) == (shown_left, 4321)
    following = Assignment.objects.get(item__track=identity_track, status=Assignment.Status.OPEN)
    assert following.pk != assignment.pk
    assert vote_url(identity_track, following) in html
    assert "1 done</strong> · 2 left" in html
    assert "Undo last vote" in html


def test_a_vote_without_htmx_redirects_to_the_work_page(annotator_client, identity_track):
    assignment = open_assignment(annotator_client, identity_track)
    watch_plausibly(annotator_client, identity_track, assignment)

    response = annotator_client.post(vote_url(identity_track, assignment), {"choice": "right"})

    assert response.status_code == 302
    assert response["Location"] == work_url(identity_track)
    assert Judgment.objects.filter(assignment=assignment).exists()


def test_without_script_the_page_s_own_csrf_field_lets_the_vote_through(annotator, identity_track):
    # The panel is a Jinja2 template inside a Django page: its forms must carry the CSRF field there.
    client = Client(enforce_csrf_checks=True)
    client.force_login(annotator)
    page = client.get(work_url(identity_track)).content.decode()
    vote_form = re.search(r'<form class="vote".*?</form>', page, re.DOTALL)
    assert vote_form is not None
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', vote_form.group(0))
    assert token is not None
    assignment = Assignment.objects.get(item__track=identity_track, status=Assignment.Status.OPEN)
    Assignment.objects.filter(pk=assignment.pk).update(watched_a=1.0, watched_b=1.0)

    refused = client.post(vote_url(identity_track, assignment), {"choice": "left"})
    response = client.post(
        vote_url(identity_track, assignment), {"choice": "left", "csrfmiddlewaretoken": token.group(1)}
    )

    assert refused.status_code == 403
    assert response.status_code == 302
    assert Judgment.objects.filter(assignment=assignment).exists()


def test_an_htmx_panel_carries_no_csrf_field(annotator_client, identity_track):
    # htmx sends the page's token in a header; a field in each swapped-in panel would be a stale copy.
    panel = annotator_client.get(work_url(identity_track), headers={"HX-Request": "true"}).content.decode()
    assert "<html" not in panel and "csrfmiddlewaretoken" not in panel


def test_a_resent_vote_stores_one_judgment(annotator_client, identity_track):
    assignment = open_assignment(annotator_client, identity_track)
    watch_plausibly(annotator_client, identity_track, assignment)
    for _ in range(2):
        response = annotator_client.post(
            vote_url(identity_track, assignment), {"choice": "left"}, headers={"HX-Request": "true"}
        )
        assert response.status_code == 200
    assert Judgment.objects.filter(track=identity_track).count() == 1


def test_the_watch_report_is_mapped_from_left_and_right_to_a_and_b(annotator_client, identity_track):
    assignment = open_assignment(annotator_client, identity_track)
    Assignment.objects.filter(pk=assignment.pk).update(
        shown_left="B", issued_at=timezone.now() - timedelta(seconds=60)
    )

    response = annotator_client.post(
        watch_url(identity_track, assignment), {"watched_left": "1", "watched_right": "0.5"}
    )

    assert response.status_code == 200
    assert response.json() == {"watched_left": 1.0, "watched_right": 0.5}
    assignment.refresh_from_db()
    assert (assignment.watched_a, assignment.watched_b) == (0.5, 1.0)


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"watched_left": "abc", "watched_right": "1"}, "watched_left"),
        ({"watched_left": "1", "watched_right": "1.5"}, "watched_right"),
        ({"watched_left": "nan", "watched_right": "1"}, "watched_left"),
        ({"watched_left": "1"}, "watched_right"),
    ],
)
def test_a_bad_watch_report_gets_400_naming_the_field(annotator_client, identity_track, data, field):
    assignment = open_assignment(annotator_client, identity_track)
    response = annotator_client.post(watch_url(identity_track, assignment), data)
    assert response.status_code == 400
    assert field in response.json()["error"]
    assignment.refresh_from_db()
    assert (assignment.watched_a, assignment.watched_b) == (0.0, 0.0)


def test_an_unknown_choice_gets_400_with_the_message(annotator_client, identity_track):
    assignment = open_assignment(annotator_client, identity_track)
    watch_plausibly(annotator_client, identity_track, assignment)

    response = annotator_client.post(
        vote_url(identity_track, assignment), {"choice": "sideways"}, headers={"HX-Request": "true"}
    )

    assert response.status_code == 400
    html = response.content.decode()
    assert "Unknown choice 'sideways'" in html_text(html)
    assert "<html" not in html and vote_url(identity_track, assignment) in html  # the same comparison again
    assert not Judgment.objects.exists()


def test_a_tie_where_ties_are_not_allowed_gets_400(annotator_client, identity_track):
    assignment = open_assignment(annotator_client, identity_track)
    watch_plausibly(annotator_client, identity_track, assignment)

    response = annotator_client.post(vote_url(identity_track, assignment), {"choice": "tie"})

    assert response.status_code == 400
    assert "not an allowed answer on this track" in response.content.decode()
    assert not Judgment.objects.exists()


def test_tie_and_both_bad_buttons_show_only_where_allowed(annotator_client, annotator, identity_track):
    html = annotator_client.get(work_url(identity_track)).content.decode()
    assert 'value="tie"' not in html and 'value="both_bad"' not in html
    lenient = make_track_with_references(
        kind=Track.Kind.IDENTITY_FIDELITY,
        annotators=[annotator],
        allow_tie=True,
        allow_both_bad=True,
        shade=9,
    )
    html = annotator_client.get(work_url(lenient)).content.decode()
    assert 'aria-label="Tie"' in html and 'aria-label="Both bad"' in html


def test_a_vote_without_any_watch_report_gets_400_and_stores_nothing(annotator_client, identity_track):
    assignment = open_assignment(annotator_client, identity_track)

    response = annotator_client.post(
        vote_url(identity_track, assignment), {"choice": "left"}, headers={"HX-Request": "true"}
    )

    assert response.status_code == 400
    assert "Please watch both videos first" in response.content.decode()
    assert not Judgment.objects.exists()


def test_a_watch_report_claiming_everything_a_second_after_issue_does_not_unlock_the_vote(
    annotator_client, identity_track
):
    assignment = open_assignment(annotator_client, identity_track)
    Assignment.objects.filter(pk=assignment.pk).update(issued_at=timezone.now() - timedelta(seconds=1))

    report = annotator_client.post(
        watch_url(identity_track, assignment), {"watched_left": "1", "watched_right": "1"}
    )
    response = annotator_client.post(vote_url(identity_track, assignment), {"choice": "left"})

    assert max(report.json().values()) < 0.9  # 4-second videos cannot be seen whole in one second
    assert response.status_code == 400
    assert not Judgment.objects.exists()


def test_a_vote_on_a_paused_track_gets_409_with_a_clear_message(annotator_client, identity_track):
    assignment = open_assignment(annotator_client, identity_track)
    watch_plausibly(annotator_client, identity_track, assignment)
    track_pause_set(track=identity_track, paused=True)

    response = annotator_client.post(
        vote_url(identity_track, assignment), {"choice": "left"}, headers={"HX-Request": "true"}
    )

    assert response.status_code == 409
    assert "This track is paused; your vote was not stored." in response.content.decode()
    assert not Judgment.objects.exists()


def test_the_work_page_of_a_paused_track_says_so_with_409(annotator_client, identity_track):
    track_pause_set(track=identity_track, paused=True)
    response = annotator_client.get(work_url(identity_track))
    assert response.status_code == 409
    assert "This track is paused" in response.content.decode()


def test_a_vote_on_an_expired_assignment_gets_410_and_stores_nothing(annotator_client, identity_track):
    assignment = open_assignment(annotator_client, identity_track)
    watch_plausibly(annotator_client, identity_track, assignment)
    Assignment.objects.filter(pk=assignment.pk).update(expires_at=timezone.now() - timedelta(seconds=1))

    response = annotator_client.post(
        vote_url(identity_track, assignment), {"choice": "left"}, headers={"HX-Request": "true"}
    )

    assert response.status_code == 410
    assert "went back to the pool" in response.content.decode()
    assert not Judgment.objects.exists()


def test_a_malformed_response_time_gets_400_naming_the_field(annotator_client, identity_track):
    assignment = open_assignment(annotator_client, identity_track)
    watch_plausibly(annotator_client, identity_track, assignment)
    response = annotator_client.post(
        vote_url(identity_track, assignment), {"choice": "left", "response_ms": "soon"}
    )
    assert response.status_code == 400
    assert "response_ms" in response.content.decode()
    assert not Judgment.objects.exists()


# --- undo -----------------------------------------------------------------------------------------


def test_undo_takes_back_the_last_vote_and_shows_that_comparison_again(annotator_client, identity_track):
    assignment = open_assignment(annotator_client, identity_track)
    watch_plausibly(annotator_client, identity_track, assignment)
    annotator_client.post(
        vote_url(identity_track, assignment), {"choice": "left"}, headers={"HX-Request": "true"}
    )

    response = annotator_client.post(
        reverse("annotate:undo", args=[identity_track.pk]), headers={"HX-Request": "true"}
    )

    html = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in html
    assert vote_url(identity_track, assignment) in html
    assert "taken back" in html
    assert "0 done</strong> · 3 left" in html
    assert not Judgment.objects.exists()
    assert Assignment.objects.get(item__track=identity_track, status=Assignment.Status.OPEN) == assignment


def test_undo_with_nothing_to_undo_gets_409(annotator_client, identity_track):
    response = annotator_client.post(
        reverse("annotate:undo", args=[identity_track.pk]), headers={"HX-Request": "true"}
    )
    assert response.status_code == 409
    assert "There is no vote to undo" in response.content.decode()


def test_undo_without_htmx_redirects_to_the_work_page(annotator_client, identity_track):
    assignment = open_assignment(annotator_client, identity_track)
    watch_plausibly(annotator_client, identity_track, assignment)
    annotator_client.post(vote_url(identity_track, assignment), {"choice": "left"})

    response = annotator_client.post(reverse("annotate:undo", args=[identity_track.pk]))

    assert response.status_code == 302
    assert not Judgment.objects.exists()


# --- who may do what ------------------------------------------------------------------------------


@pytest.fixture
def requests_on(identity_track, annotator):
    """Every annotator URL of the track, with a real assignment of the seated annotator in it."""
    client = Client()
    client.force_login(annotator)
    assignment = open_assignment(client, identity_track)
    return [
        ("get", work_url(identity_track), {}),
        ("post", vote_url(identity_track, assignment), {"choice": "left"}),
        ("post", watch_url(identity_track, assignment), {"watched_left": "1", "watched_right": "1"}),
        ("post", reverse("annotate:undo", args=[identity_track.pk]), {}),
    ]


@pytest.mark.parametrize("persona", ["outsider", "second_annotator"])
def test_an_outsider_and_an_annotator_not_on_the_track_get_404_everywhere(
    request, client, requests_on, persona
):
    user = request.getfixturevalue(persona)
    make_track_with_references(
        kind=Track.Kind.IDENTITY_FIDELITY, annotators=[user], shade=77
    )  # seated elsewhere
    client.force_login(user)
    for method, url, data in requests_on:
        assert getattr(client, method)(url, data).status_code == 404, url
        assert getattr(client, method)(url, data, headers={"HX-Request": "true"}).status_code == 404, url
    assert not Judgment.objects.exists()


def test_an_anonymous_visitor_is_sent_to_sign_in(client, requests_on):
    for method, url, data in requests_on:
        response = getattr(client, method)(url, data)
        assert response.status_code == 302 and response["Location"].startswith(reverse("login"))


def test_unknown_ids_get_404(annotator_client, identity_track):
    assignment = open_assignment(annotator_client, identity_track)
    assert annotator_client.get(reverse("annotate:track_work", args=[999999])).status_code == 404
    assert (
        annotator_client.post(reverse("annotate:vote", args=[identity_track.pk, 999999])).status_code == 404
    )
    assert annotator_client.post(reverse("annotate:watch", args=[999999, assignment.pk])).status_code == 404


def test_an_assignment_of_another_track_is_not_found_through_this_one(
    annotator_client, annotator, identity_track
):
    other = make_track_with_references(
        kind=Track.Kind.PROMPT_CONTROLLABILITY, annotators=[annotator], shade=33
    )
    assignment = open_assignment(annotator_client, other)
    watch_plausibly(annotator_client, other, assignment)
    response = annotator_client.post(
        reverse("annotate:vote", args=[identity_track.pk, assignment.pk]), {"choice": "left"}
    )
    assert response.status_code == 404
    assert not Judgment.objects.exists()


def test_views_answer_only_their_method(annotator_client, identity_track):
    assignment = open_assignment(annotator_client, identity_track)
    assert annotator_client.get(vote_url(identity_track, assignment)).status_code == 405
    assert annotator_client.post(work_url(identity_track)).status_code == 405


def test_the_work_page_and_a_vote_keep_their_queries_bounded(
    annotator_client, annotator, django_assert_max_num_queries
):
    # Many references and earlier votes must not add queries: progress comes from counters, the panel
    # from one query, and the vote with the next comparison from a few statements in one transaction.
    track = make_track_with_references(kind=Track.Kind.IDENTITY_FIDELITY, annotators=[annotator], frames=8)
    assignment = open_assignment(annotator_client, track)
    watch_plausibly(annotator_client, track, assignment)
    with django_assert_max_num_queries(12):
        annotator_client.get(work_url(track))
    with django_assert_max_num_queries(8):
        annotator_client.post(watch_url(track, assignment), {"watched_left": "1", "watched_right": "1"})
    with django_assert_max_num_queries(8):
        response = annotator_client.post(
            vote_url(track, assignment), {"choice": "left"}, headers={"HX-Request": "true"}
        )
    assert response.status_code == 200 and "1 done" in response.content.decode()


def test_an_annotator_keeps_working_while_the_cache_is_down(cache_redis, annotator_client, identity_track):
    assignment = open_assignment(annotator_client, identity_track)  # signed in, the session in Redis
    cache_redis.stop()

    assert annotator_client.get(work_url(identity_track)).status_code == 200
    watch_plausibly(annotator_client, identity_track, assignment)
    response = annotator_client.post(
        vote_url(identity_track, assignment), {"choice": "left"}, headers={"HX-Request": "true"}
    )
    assert response.status_code == 200
    assert Judgment.objects.filter(assignment=assignment).exists()

    cache_redis.start()
    following = Assignment.objects.get(item__track=identity_track, status=Assignment.Status.OPEN)
    watch_plausibly(annotator_client, identity_track, following)
    response = annotator_client.post(
        vote_url(identity_track, following), {"choice": "right"}, headers={"HX-Request": "true"}
    )
    assert response.status_code == 200
    assert Judgment.objects.filter(assignment=following).exists()
