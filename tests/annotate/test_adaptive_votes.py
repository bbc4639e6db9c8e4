"""Adaptive votes per comparison through the vote path: a comparison stops when its votes decide it or at
its maximum, opens again when an undo or an exclusion takes a deciding vote away, and is never handed
out past its decision or its maximum, also with requests racing on two connections."""

from __future__ import annotations

import threading

import pytest
from django.contrib.auth.models import User
from django.db import connection

from annotate.adaptive import StoppingRule, VoteMode, VotePlan
from annotate.models import Assignment, Judgment, TrackItem, TrackSeat
from annotate.vote_path import (
    assignment_next_for,
    judgment_submit_and_next,
    judgment_undo_last,
    track_seat_exclude,
    track_seat_include,
)
from tests.factories import make_track

pytestmark = pytest.mark.django_db

POSTERIOR = VotePlan(
    mode=VoteMode.ADAPTIVE, min_votes=2, max_votes=4, rule=StoppingRule.POSTERIOR, error_target=0.1
)


def _users(n: int) -> list[User]:
    return [User.objects.create_user(f"rater-{k}", password=f"pw-rater-{k}") for k in range(n)]


def _track(users: list[User], *, plan: VotePlan = POSTERIOR, methods: int = 2):
    # One comparison by default (two methods): every handout is of it.
    return make_track(
        annotators=users, methods=methods, plan=plan, min_watch_fraction=0, gold_rate=0, repeat_rate=0
    )


def _vote(track, user: User, choice: str) -> Assignment:
    """The user takes the next comparison and answers ``choice`` (A or B in the comparison's terms)."""
    assignment = assignment_next_for(track=track, user=user)
    assert assignment is not None, f"{user} got no comparison"
    side = "left" if assignment.shown_left == choice else "right"
    judgment_submit_and_next(
        track_id=track.pk, assignment_id=assignment.pk, user=user, side_choice=side, now=assignment.issued_at
    )
    return assignment


def _item(track) -> TrackItem:
    return TrackItem.objects.get(track=track, is_check=False)


def test_a_clear_comparison_stops_at_three_votes_and_is_handed_out_no_more():
    users = _users(4)
    track = _track(users)
    assert _item(track).needed == 2
    for user in users[:2]:
        _vote(track, user, "A")
    item = _item(track)
    # 2–0 leaves 1/8 on B, above the 10 % target: one more vote.
    assert (item.votes, item.needed, item.status) == (2, 3, "open")
    _vote(track, users[2], "A")
    item = _item(track)
    assert (item.votes, item.needed, item.status, item.tally_a) == (3, 3, "decided", 3.0)
    assert assignment_next_for(track=track, user=users[3]) is None
    track.refresh_from_db()
    assert (track.items_complete, track.votes_stored) == (1, 3)


def test_a_split_comparison_stops_at_its_maximum_undecided():
    users = _users(5)
    track = _track(users)
    for user, choice in zip(users, "ABAB", strict=False):
        _vote(track, user, choice)
    item = _item(track)
    assert (item.votes, item.status) == (4, "undecided_at_max")
    assert assignment_next_for(track=track, user=users[4]) is None


def test_the_margin_rule_decides_two_to_nothing():
    users = _users(3)
    track = _track(
        users, plan=VotePlan(mode=VoteMode.ADAPTIVE, min_votes=2, max_votes=5, rule=StoppingRule.MARGIN)
    )
    _vote(track, users[0], "B")
    _vote(track, users[1], "B")
    assert (_item(track).status, _item(track).tally_b) == ("decided", 2.0)


def test_every_judgment_records_the_policy_and_its_probability():
    users = _users(2)
    track = _track(users)
    _vote(track, users[0], "A")
    judgment = Judgment.objects.get(track=track)
    assert (judgment.selection_policy, judgment.selection_probability) == ("fewest_votes_first", 1.0)


def test_undoing_the_deciding_vote_opens_the_comparison_again():
    users = _users(4)
    track = _track(users)
    for user in users[:3]:
        _vote(track, user, "A")
    assert _item(track).status == "decided"

    judgment_undo_last(track=track, user=users[2])

    item = _item(track)
    assert (item.votes, item.needed, item.status, item.tally_a) == (2, 3, "open", 2.0)
    track.refresh_from_db()
    assert track.items_complete == 0


def test_excluding_a_deciding_rater_reopens_and_including_them_again_decides_again():
    users = _users(4)
    track = _track(users)
    for user in users[:3]:
        _vote(track, user, "A")
    seat = TrackSeat.objects.get(track=track, user=users[0])
    admin = User.objects.create_user("admin")

    track_seat_exclude(seat=seat, by=admin, reason="always left")
    item = _item(track)
    assert (item.votes, item.status, item.tally_a) == (2, "open", 2.0)
    track.refresh_from_db()
    assert track.items_complete == 0
    assert assignment_next_for(track=track, user=users[3]) is not None  # the comparison needs a vote again

    track_seat_include(seat=seat, by=admin, reason="")
    item = _item(track)
    # Their vote counts again: 3–0 decides, and the lease handed out meanwhile is still open (answerable).
    assert (item.votes, item.status, item.tally_a) == (3, "decided", 3.0)


def test_a_late_answer_on_a_lease_given_before_the_decision_is_stored_and_reopens_nothing():
    users = _users(3)
    plan = VotePlan(mode=VoteMode.ADAPTIVE, min_votes=2, max_votes=5, rule=StoppingRule.MARGIN, margin=2)
    track = _track(users, plan=plan)
    _vote(track, users[0], "A")
    _vote(track, users[1], "A")
    admin = User.objects.create_user("admin")
    seat = TrackSeat.objects.get(track=track, user=users[0])
    track_seat_exclude(seat=seat, by=admin, reason="checking")  # 1–0: open again, one lease free
    late = assignment_next_for(track=track, user=users[2])
    track_seat_include(seat=seat, by=admin)  # 2–0 again: decided while the lease is out
    assert _item(track).status == "decided"

    side = "left" if late.shown_left == "B" else "right"
    judgment_submit_and_next(
        track_id=track.pk, assignment_id=late.pk, user=users[2], side_choice=side, now=late.issued_at
    )

    item = _item(track)
    assert (item.votes, item.tally_b, item.status) == (3, 1.0, "decided")  # stored, counted, still closed
    track.refresh_from_db()
    assert (track.items_complete, track.votes_stored) == (1, 3)


def test_bad_stopping_rules_are_refused_with_what_is_wrong(admin_client):
    from tests.factories import IdentityFactory, MethodFactory, PromptFactory, make_video

    identity, prompt = IdentityFactory(), PromptFactory()
    methods = [MethodFactory(), MethodFactory()]
    for method in methods:
        make_video(method=method, identity=identity, prompt=prompt, frames=2, size=32)
    base = {
        "name": "adaptive",
        "kind": "identity_fidelity",
        "identities": [identity.pk],
        "prompts": [prompt.pk],
        "methods": [m.pk for m in methods],
        "votes_needed": 3,
        "min_watch_fraction": 1,
        "lease_minutes": 10,
        "vote_mode": "adaptive",
        "stopping_rule": "posterior",
    }
    cases = [
        (
            {"min_votes": 5, "max_votes": 3, "error_target": 0.1},
            "minimum number of votes (5) is above the maximum (3)",
        ),
        ({"min_votes": 2, "max_votes": 7, "error_target": 0.5}, "error target must be between 0 and 0.5"),
        ({"min_votes": 2, "max_votes": 7, "error_target": 0}, "error target must be between 0 and 0.5"),
        ({"min_votes": 2, "max_votes": 0, "error_target": 0.1}, "Until decided: at most"),
    ]
    for settings, message in cases:
        response = admin_client.post("/manage/tracks/new", {**base, **settings})
        assert response.status_code == 400, settings
        assert message in response.content.decode(), settings
    assert not TrackItem.objects.exists()


# --- races on two connections -------------------------------------------------------------------


def _at_once(*calls):
    """Run the calls on two connections, released together; returns their results (or exceptions)."""
    barrier = threading.Barrier(len(calls))
    results: list[object] = [None] * len(calls)

    def run(index: int, call) -> None:
        try:
            barrier.wait()
            results[index] = call()
        except Exception as error:  # reported by the caller
            results[index] = error
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(k, call)) for k, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("attempt", range(3))
def test_the_deciding_vote_racing_a_request_for_work_never_hands_the_decided_comparison_out(attempt):
    users = _users(4)
    track = _track(users)
    for user in users[:2]:
        _vote(track, user, "A")
    lease = assignment_next_for(track=track, user=users[2])  # the third vote's lease: 3–0 decides
    side = "left" if lease.shown_left == "A" else "right"

    vote, request = _at_once(
        lambda: judgment_submit_and_next(
            track_id=track.pk, assignment_id=lease.pk, user=users[2], side_choice=side, now=lease.issued_at
        ),
        lambda: assignment_next_for(track=track, user=users[3]),
    )

    assert not isinstance(vote, Exception), vote
    assert request is None
    item = _item(track)
    assert (item.votes, item.claimed, item.status) == (3, 3, "decided")
    assert not Assignment.objects.filter(rater__user=users[3]).exists()


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("attempt", range(3))
def test_two_requests_for_the_last_vote_below_the_maximum_get_it_once(attempt):
    users = _users(5)
    track = _track(users)
    for user, choice in zip(users, "ABA", strict=False):
        _vote(track, user, choice)
    assert (_item(track).votes, _item(track).needed) == (3, 4)  # 2–1: one more, the maximum

    first, second = _at_once(
        lambda: assignment_next_for(track=track, user=users[3]),
        lambda: assignment_next_for(track=track, user=users[4]),
    )

    assert sum(result is not None for result in (first, second)) == 1
    assert not any(isinstance(result, Exception) for result in (first, second))
    item = _item(track)
    assert (item.claimed, item.needed) == (4, 4)


def test_a_track_weighting_by_reliability_counts_each_vote_at_its_annotators_weight():
    users = _users(3)
    plan = VotePlan(mode=VoteMode.ADAPTIVE, min_votes=2, max_votes=5, rule=StoppingRule.MARGIN, margin=2)
    track = make_track(
        annotators=users,
        methods=2,
        plan=plan,
        weight_by_reliability=True,
        min_watch_fraction=0,
        gold_rate=0,
        repeat_rate=0,
    )
    TrackSeat.objects.filter(track=track, user=users[0]).update(vote_weight=0.0)  # a rater at chance
    _vote(track, users[0], "A")
    _vote(track, users[1], "A")
    item = _item(track)
    # Unweighted, 2–0 would lead by δ = 2; weighted, the first vote weighs nothing.
    assert (item.votes, item.tally_a, item.status) == (2, 1.0, "open")
    _vote(track, users[2], "A")
    assert (_item(track).tally_a, _item(track).status) == (2.0, "decided")


def test_the_quality_table_sets_each_seats_vote_weight_from_its_reliability():
    from annotate.adaptive import reliability_weight
    from annotate.quality_reports import quality_report_compute, track_scope

    users = _users(3)
    track = make_track(annotators=users, methods=5, min_watch_fraction=0, gold_rate=0, repeat_rate=0)
    for _ in range(4):
        for user in users:
            assignment = assignment_next_for(track=track, user=user)
            if assignment is not None:
                judgment_submit_and_next(
                    track_id=track.pk,
                    assignment_id=assignment.pk,
                    user=user,
                    side_choice="left",
                    now=assignment.issued_at,
                )
    report = quality_report_compute(scope=track_scope(track))

    weights = dict(TrackSeat.objects.filter(track=track).values_list("rater_id", "vote_weight"))
    assert any(weight != 1.0 for weight in weights.values())  # estimated, not the default left alone
    assert {row["rater"]: reliability_weight(row["ds_reliability"]) for row in report.raters} == weights


def test_with_the_next_comparison_reserved_no_comparison_goes_past_its_maximum_or_its_decision(prefetch):
    users = _users(6)
    track = _track(users, methods=4)  # 6 comparisons, 2 to 4 votes each
    current = {user.pk: assignment_next_for(track=track, user=user) for user in users}
    for _ in range(6):
        for user in users:
            assignment = current[user.pk]
            if assignment is None:
                continue
            # Everyone prefers A: comparisons decide at 3–0 while others hold them reserved.
            side = "left" if assignment.shown_left == "A" else "right"
            work = judgment_submit_and_next(
                track_id=track.pk,
                assignment_id=assignment.pk,
                user=user,
                side_choice=side,
                now=assignment.issued_at,
            )
            current[user.pk] = work.assignment

    for item in TrackItem.objects.filter(track=track, is_check=False):
        assert item.votes <= 4 and item.claimed <= 4, item
        assert item.status == ("decided" if item.tally_a >= 3 else "open"), item
        # A reserved lease handed out before the decision may still be answered; none came after it.
        assert item.claimed - item.votes <= Assignment.objects.filter(item=item, status="open").count()
