"""The annotator's progress line moves the same after a check (gold, repeat) as after a real vote."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from annotate.models import Assignment, Judgment, Track, TrackSeat
from tests.annotate.test_track_checks import gold_comparisons
from tests.factories import make_track

pytestmark = pytest.mark.django_db

PROGRESS = re.compile(r"<strong>(\d+) done</strong> · (\d+) left")
HTMX = {"HX-Request": "true"}


def progress(html: str) -> tuple[int, int]:
    """The (done, left) of the one progress line in a page or panel."""
    lines = PROGRESS.findall(html)
    assert len(lines) == 1, lines
    done, left = lines[0]
    return int(done), int(left)


def work_page(client: Client, track: Track) -> str:
    response = client.get(reverse("annotate:track_work", args=[track.pk]))
    assert response.status_code == 200
    return response.content.decode()


def current(track: Track, user: User) -> Assignment:
    return Assignment.objects.get(item__track=track, rater__user=user, status=Assignment.Status.OPEN)


def answer(client: Client, track: Track, assignment: Assignment) -> str:
    """Vote left through the vote button, as htmx sends it: the panel swapped in after the vote."""
    response = client.post(
        reverse("annotate:vote", args=[track.pk, assignment.pk]), {"choice": "left"}, headers=HTMX
    )
    assert response.status_code == 200
    return response.content.decode()


def undo(client: Client, track: Track) -> str:
    response = client.post(reverse("annotate:undo", args=[track.pk]), headers=HTMX)
    assert response.status_code == 200
    return response.content.decode()


def track_with_checks(annotators: list[User]) -> Track:
    # One vote completes a comparison: with a single annotator nobody else moves "left".
    track = make_track(annotators=annotators, methods=10, min_watch_fraction=0, votes_needed=1)
    Track.objects.filter(pk=track.pk).update(gold_rate=0.2, repeat_rate=0.25)
    track.refresh_from_db()
    gold_comparisons(track, 5)
    return track


def test_done_and_left_move_by_one_after_each_answer_whether_vote_gold_or_repeat(client, annotator):
    track = track_with_checks([annotator])
    client.force_login(annotator)
    shown = progress(work_page(client, track))
    assert shown == (0, 45)
    answered: set[str] = set()

    for _ in range(30):
        assignment = current(track, annotator)
        panel = answer(client, track, assignment)
        answered.add(assignment.purpose)

        # The panel swapped in after the vote, then the work page loaded afresh, say the same.
        assert progress(panel) == progress(work_page(client, track)) == (shown[0] + 1, shown[1] - 1), (
            assignment.purpose
        )
        shown = progress(panel)

    assert answered == {"vote", "gold", "repeat"}
    seat = TrackSeat.objects.get(track=track, user=annotator)
    checks = Judgment.objects.filter(track=track).exclude(is_gold=False, is_repeat=False).count()
    assert (seat.votes_given, seat.checks_given) == (30 - checks, checks)
    # The track list's card shows the same line.
    cards = client.get(reverse("annotate:track_list")).content.decode()
    assert progress(cards) == shown


@pytest.mark.parametrize("purpose", ["gold", "repeat"])
def test_undoing_a_check_takes_back_one_done_as_undoing_a_vote_does(client, annotator, purpose):
    track = track_with_checks([annotator])
    client.force_login(annotator)
    work_page(client, track)
    while (assignment := current(track, annotator)).purpose != purpose:
        answer(client, track, assignment)
    before = progress(work_page(client, track))
    answered = progress(answer(client, track, assignment))
    assert answered == (before[0] + 1, before[1] - 1)

    after_undo = undo(client, track)

    assert progress(after_undo) == before
    assert progress(work_page(client, track)) == before
    assert current(track, annotator) == assignment  # the check is theirs to answer again
    assert (
        TrackSeat.objects.get(track=track, user=annotator).checks_given
        == Judgment.objects.filter(track=track, rater__user=annotator)
        .exclude(is_gold=False, is_repeat=False)
        .count()
    )


def test_instructions_close_after_a_first_answer_that_was_gold_as_after_a_first_vote(client):
    # Whether a rater's first handout is gold is drawn per rater: of twelve, some get gold first.
    users = [User.objects.create_user(f"rater-{n}", password="pw") for n in range(12)]
    track = track_with_checks(users)
    Track.objects.filter(pk=track.pk).update(gold_rate=0.5, repeat_rate=0)
    first_purposes = set()
    for user in users:
        client.force_login(user)
        assert f'data-remember="track-{track.pk}" open>' in work_page(client, track)
        first = current(track, user)
        first_purposes.add(first.purpose)
        answer(client, track, first)

        page = work_page(client, track)

        assert f'data-remember="track-{track.pk}">' in page, first.purpose
        assert progress(page)[0] == 1
    assert first_purposes == {"vote", "gold"}
