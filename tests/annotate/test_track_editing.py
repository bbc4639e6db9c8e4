from __future__ import annotations

import threading
import time

import pytest
from django.contrib.auth.models import User
from django.db import connection, transaction

from annotate.adaptive import StoppingRule, VoteMode, VotePlan
from annotate.errors import TrackSetupError
from annotate.models import Assignment, Judgment, Track, TrackItem, TrackSeat
from annotate.track_edit import PlanChange, track_edit, track_plan_change_preview
from annotate.vote_path import assignment_next_for, judgment_submit
from tests.factories import make_track

pytestmark = pytest.mark.django_db


def _users(n: int) -> list[User]:
    return [User.objects.create_user(f"editor-{k}") for k in range(n)]


def _track(users: list[User], *, methods: int = 2, **options: object) -> Track:
    # One comparison by default (two methods).
    options.setdefault("votes_needed", 2)
    return make_track(
        annotators=users, methods=methods, min_watch_fraction=0, gold_rate=0, repeat_rate=0, **options
    )


def _vote(track: Track, user: User, side: str = "left") -> Assignment:
    assignment = assignment_next_for(track=track, user=user)
    assert assignment is not None, f"{user} got no comparison"
    judgment_submit(assignment_id=assignment.pk, user=user, side_choice=side, now=assignment.issued_at)
    return assignment


def _edit(track: Track, plan: VotePlan, **changes: object) -> PlanChange:
    settings: dict[str, object] = {
        "name": track.name,
        "instructions": track.instructions,
        "plan": plan,
        "allow_tie": track.allow_tie,
        "allow_both_bad": track.allow_both_bad,
        "min_watch_fraction": track.min_watch_fraction,
        "annotators": list(track.annotators.all()),
        **changes,
    }
    return track_edit(track=track, **settings)  # type: ignore[arg-type]


def _assert_counters_exact(track: Track) -> None:
    """The progress counters equal a recount from the rows."""
    track.refresh_from_db()
    items = TrackItem.objects.filter(track=track, is_check=False)
    assert track.items_complete == items.exclude(status="open").count()
    assert track.votes_stored == Judgment.objects.filter(track=track).count()
    for seat in TrackSeat.objects.filter(track=track):
        on_open = Assignment.objects.filter(
            item__in=items.filter(status="open"), rater_id=seat.rater_id, status="answered", purpose="vote"
        ).count()
        assert seat.votes_on_open == on_open, seat.user


def _item(track: Track) -> TrackItem:
    return TrackItem.objects.get(track=track, is_check=False)


def test_raising_the_votes_per_comparison_reopens_complete_comparisons_for_more_votes():
    users = _users(3)
    track = _track(users)
    _vote(track, users[0])
    _vote(track, users[1])
    assert _item(track).status == "decided"
    assert assignment_next_for(track=track, user=users[2]) is None

    change = _edit(track, VotePlan(fixed_votes=3))

    assert change == PlanChange(reopened=1)
    item = _item(track)
    assert (item.votes, item.needed, item.status) == (2, 3, "open")
    assert track.votes_needed == 3
    _assert_counters_exact(track)
    _vote(track, users[2])
    assert (_item(track).votes, _item(track).status) == (3, "decided")
    _assert_counters_exact(track)


def test_lowering_the_votes_per_comparison_keeps_every_vote_and_completes_what_has_enough():
    users = _users(3)
    track = _track(users, methods=3, votes_needed=4)  # three comparisons
    for user in users:
        _vote(track, user)  # three votes on the first comparisons handed out
    _vote(track, users[0])
    votes_before = Judgment.objects.filter(track=track).count()

    change = _edit(track, VotePlan(fixed_votes=1))

    items = TrackItem.objects.filter(track=track, is_check=False)
    assert all(item.status == "decided" for item in items if item.votes >= 1)
    assert Judgment.objects.filter(track=track).count() == votes_before
    assert change.completed == sum(1 for item in items if item.votes >= 1)
    assert change.above == sum(1 for item in items if item.votes > 1)
    assert change.above >= 1
    _assert_counters_exact(track)


def test_raising_the_maximum_of_an_adaptive_track_reopens_a_comparison_stopped_undecided():
    users = _users(3)
    plan = VotePlan(mode=VoteMode.ADAPTIVE, min_votes=2, max_votes=2, rule=StoppingRule.MARGIN, margin=2)
    track = _track(users, plan=plan)
    _vote(track, users[0], "left")
    first = Assignment.objects.get(rater__user=users[0])
    # The other side this time: 1–1, stopped at its maximum undecided.
    assignment = assignment_next_for(track=track, user=users[1])
    assert assignment is not None
    side = "left" if assignment.shown_left != first.shown_left else "right"
    judgment_submit(assignment_id=assignment.pk, user=users[1], side_choice=side, now=assignment.issued_at)
    assert _item(track).status == "undecided_at_max"

    change = _edit(
        track, VotePlan(mode=VoteMode.ADAPTIVE, min_votes=2, max_votes=5, rule=StoppingRule.MARGIN)
    )

    assert change.reopened == 1
    item = _item(track)
    assert (item.status, item.needed) == ("open", 3)
    _assert_counters_exact(track)
    assert assignment_next_for(track=track, user=users[2]) is not None


@pytest.mark.parametrize(
    ("plan", "message"),
    [
        (VotePlan(fixed_votes=0), "Votes per comparison must be 1 to 50, not 0."),
        (
            VotePlan(mode=VoteMode.ADAPTIVE, min_votes=5, max_votes=3),
            "The minimum number of votes (5) is above the maximum (3).",
        ),
    ],
)
def test_bad_votes_per_comparison_are_refused_by_name_and_nothing_changes(plan, message):
    users = _users(2)
    track = _track(users)
    name = track.name
    _vote(track, users[0])

    with pytest.raises(TrackSetupError, match=message.replace("(", r"\(").replace(")", r"\)")):
        _edit(track, plan, name="renamed")

    track.refresh_from_db()
    assert (track.name, track.votes_needed, track.vote_mode) == (name, 2, "fixed")
    assert _item(track).needed == 2


def test_the_edit_page_refuses_a_minimum_above_the_maximum_naming_it(admin_client):
    track = _track(_users(1))
    response = admin_client.post(
        f"/manage/tracks/{track.pk}/edit",
        {
            "name": track.name,
            "vote_mode": "adaptive",
            "votes_needed": 3,
            "min_votes": 6,
            "max_votes": 4,
            "stopping_rule": "posterior",
            "error_target": 0.2,
            "decision_margin": 2,
            "min_watch_fraction": 1,
        },
    )
    assert response.status_code == 400
    assert "The minimum number of votes (6) is above the maximum (4)." in response.content.decode()
    track.refresh_from_db()
    assert track.vote_mode == "fixed"


def test_the_edit_page_saves_name_rules_and_team_and_says_what_reopened(admin_client):
    users = _users(3)
    track = _track(users[:2])
    _vote(track, users[0])
    _vote(track, users[1])
    response = admin_client.post(
        f"/manage/tracks/{track.pk}/edit",
        {
            "name": "Renamed track",
            "instructions": "Look at the face.",
            "vote_mode": "fixed",
            "votes_needed": 3,
            "min_watch_fraction": 0.5,
            "allow_tie": "on",
            "annotators": [users[1].pk, users[2].pk],
        },
        follow=True,
    )
    assert response.status_code == 200
    assert "1 complete comparison needs votes again." in response.content.decode()
    track.refresh_from_db()
    assert (track.name, track.instructions, track.votes_needed) == ("Renamed track", "Look at the face.", 3)
    assert (track.min_watch_fraction, track.allow_tie, track.allow_both_bad) == (0.5, True, False)
    assert set(track.annotators.all()) == {users[1], users[2]}
    _assert_counters_exact(track)


def test_the_edit_preview_states_what_the_new_number_would_reopen_as_a_fragment(admin_client):
    users = _users(2)
    track = _track(users)
    _vote(track, users[0])
    _vote(track, users[1])
    response = admin_client.post(
        f"/manage/tracks/{track.pk}/edit/preview",
        {"name": track.name, "vote_mode": "fixed", "votes_needed": 4, "min_watch_fraction": 1},
        headers={"HX-Request": "true"},
    )
    body = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in body
    assert "1 complete comparison goes back in the pool." in body
    assert track_plan_change_preview(track=track, plan=VotePlan(fixed_votes=4)) == PlanChange(reopened=1)
    assert _item(track).needed == 2  # a preview writes nothing


# --- a change racing a vote, on two connections ------------------------------------------------


def _first_holds_then_second(first, second):
    """Run ``first`` in a transaction that stays open a moment after it returns, and ``second`` on
    another connection as soon as ``first`` has returned: ``second`` meets its locks."""
    done = threading.Event()
    results: list[object] = [None, None]

    def run_first() -> None:
        try:
            with transaction.atomic():
                results[0] = first()
                done.set()
                time.sleep(0.5)
        except Exception as error:  # reported by the caller
            results[0] = error
            done.set()
        finally:
            connection.close()

    def run_second() -> None:
        try:
            done.wait(10)
            results[1] = second()
        except Exception as error:
            results[1] = error
        finally:
            connection.close()

    threads = [threading.Thread(target=run_first), threading.Thread(target=run_second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not any(isinstance(result, Exception) for result in results), results
    return results


@pytest.mark.django_db(transaction=True)
def test_a_vote_arriving_while_the_votes_per_comparison_are_raised_counts_under_the_new_number():
    users = _users(3)
    track = _track(users)  # fixed 2
    _vote(track, users[0])
    lease = assignment_next_for(track=track, user=users[1])

    _first_holds_then_second(
        lambda: _edit(track, VotePlan(fixed_votes=3)),
        lambda: judgment_submit(
            assignment_id=lease.pk, user=users[1], side_choice="left", now=lease.issued_at
        ),
    )

    item = _item(track)
    # Under the old number this second vote would have completed it.
    assert (item.votes, item.needed, item.status) == (2, 3, "open")
    _assert_counters_exact(track)


@pytest.mark.django_db(transaction=True)
def test_lowering_the_votes_per_comparison_while_a_vote_is_being_stored_counts_that_vote():
    users = _users(3)
    track = _track(users, votes_needed=3)
    _vote(track, users[0])
    lease = assignment_next_for(track=track, user=users[1])

    _, change = _first_holds_then_second(
        lambda: judgment_submit(
            assignment_id=lease.pk, user=users[1], side_choice="left", now=lease.issued_at
        ),
        lambda: _edit(Track.objects.get(pk=track.pk), VotePlan(fixed_votes=2)),
    )

    item = _item(track)
    assert (item.votes, item.needed, item.status) == (2, 2, "decided")
    assert change == PlanChange(completed=1)
    _assert_counters_exact(track)
    assert assignment_next_for(track=track, user=users[2]) is None
