from __future__ import annotations

import itertools

import pytest
from django.contrib.auth.models import User
from django.db.models import Sum
from django.urls import reverse

from annotate.gold import mark_gold
from annotate.models import Assignment, Comparison, GoldAnswer, Judgment, Track, TrackItem, TrackSeat
from annotate.vote_path import REPEAT_AFTER, judgment_submit_and_next, judgment_undo_last, work_for
from tests.factories import MethodFactory, make_track, make_video

pytestmark = pytest.mark.django_db


def gold_comparisons(track: Track, count_methods: int) -> list[Comparison]:
    """Gold comparisons of the track's identity and prompt, outside the track: pairs of new methods."""
    case = track.items.select_related("comparison").first().comparison
    videos = [
        make_video(method=MethodFactory(), identity=case.identity, prompt=case.prompt, frames=4, size=32)
        for _ in range(count_methods)
    ]
    golds = []
    for a, b in itertools.combinations(sorted(videos, key=lambda v: v.pk), 2):
        comparison = Comparison.objects.create(
            video_a=a, video_b=b, identity=case.identity, prompt=case.prompt
        )
        mark_gold(comparison=comparison, criterion=track.criterion, answer="A", by=None)
        golds.append(comparison)
    return golds


def vote_through(track: Track, user: User, handouts: int, side_choice: str = "left") -> None:
    """Answer the annotator's comparisons through the vote button, ``handouts`` times or until none."""
    work = work_for(track=track, user=user)
    for _ in range(handouts):
        assignment = work.assignment
        if assignment is None:
            return
        work = judgment_submit_and_next(
            track_id=track.pk,
            assignment_id=assignment.pk,
            user=user,
            side_choice=side_choice,
            now=assignment.issued_at,
        )


def assert_counters_count_only_work(track: Track) -> None:
    track.refresh_from_db()
    work = Judgment.objects.filter(track=track, is_gold=False, is_repeat=False)
    assert track.votes_stored == work.count()
    items = TrackItem.objects.filter(track=track, is_check=False)
    assert track.items_total == items.count()
    assert items.aggregate(n=Sum("votes"))["n"] == work.count()
    assert not TrackItem.objects.filter(track=track, is_check=True).exclude(claimed=0, votes=0).exists()
    for seat in TrackSeat.objects.filter(track=track):
        assert seat.votes_given == work.filter(rater=seat.rater).count()
    open_work = Assignment.objects.filter(item__track=track, purpose="vote").exclude(status="expired")
    for item in items:
        assert item.claimed == open_work.filter(item=item).count()
        assert item.votes == work.filter(comparison=item.comparison).count()


def test_gold_makes_up_its_rate_of_handouts_and_never_comes_twice_to_a_rater(annotator, second_annotator):
    track = make_track(
        annotators=[annotator, second_annotator], methods=12, min_watch_fraction=0, votes_needed=2
    )
    Track.objects.filter(pk=track.pk).update(gold_rate=0.2, repeat_rate=0)
    track.refresh_from_db()
    golds = gold_comparisons(track, 8)  # 28 gold comparisons: more than a rater draws

    for user in (annotator, second_annotator):
        vote_through(track, user, 60)

    handed = Assignment.objects.filter(item__track=track)
    gold = handed.filter(purpose="gold")
    assert handed.count() >= 120
    assert 0.1 <= gold.count() / handed.count() <= 0.3  # 0.2 within about 2.7 standard deviations
    gold_votes = Judgment.objects.filter(track=track, is_gold=True)
    assert gold_votes.count() >= gold.count() - 2  # all answered but the last handout of each rater
    assert set(gold_votes.values_list("comparison", flat=True)) <= {c.pk for c in golds}
    for user in (annotator, second_annotator):
        given = list(gold_votes.filter(rater__user=user).values_list("comparison", flat=True))
        assert len(given) == len(set(given))
        # Sides are drawn like any other's: both sides of gold comparisons appear on the left.
    assert set(gold.values_list("shown_left", flat=True)) == {"A", "B"}
    assert not gold_votes.filter(is_repeat=True).exists()
    assert_counters_count_only_work(track)


def test_a_gold_vote_changes_no_counter_of_the_track_its_items_or_the_seat(annotator):
    track = make_track(annotators=[annotator], methods=4, min_watch_fraction=0)
    Track.objects.filter(pk=track.pk).update(gold_rate=0.5, repeat_rate=0)
    track.refresh_from_db()
    gold_comparisons(track, 3)

    vote_through(track, annotator, 6)

    assert Judgment.objects.filter(track=track, is_gold=True).exists()
    assert Judgment.objects.filter(track=track, is_gold=False).exists()
    assert_counters_count_only_work(track)
    assert track.items_complete == 0  # votes_needed 3, one annotator


def test_repeats_come_ten_handouts_later_with_sides_swapped_once_per_original(annotator):
    track = make_track(annotators=[annotator], methods=10, min_watch_fraction=0, votes_needed=1)
    Track.objects.filter(pk=track.pk).update(gold_rate=0, repeat_rate=0.5)
    track.refresh_from_db()

    # Until no handout is left: at most 45 comparisons and one repeat of each (how many handouts are
    # repeats is drawn from the track's and rater's ids, so a fixed count could stop short of the work).
    vote_through(track, annotator, 200)

    repeats = Judgment.objects.filter(track=track, is_repeat=True).select_related(
        "repeat_of__assignment", "assignment"
    )
    assert repeats.count() >= 5
    originals = [repeat.repeat_of for repeat in repeats]
    assert len({original.pk for original in originals}) == len(originals)
    for repeat, original in zip(repeats, originals, strict=True):
        assert original is not None and not original.is_repeat and not original.is_gold
        assert (original.rater_id, original.comparison_id) == (repeat.rater_id, repeat.comparison_id)
        assert {repeat.shown_left, original.shown_left} == {"A", "B"}
        assert repeat.assignment.position - original.assignment.position > REPEAT_AFTER
        # A repeat is handed out only after REPEAT_AFTER other comparisons of this rater.
        between = Assignment.objects.filter(
            rater=repeat.rater,
            position__gt=original.assignment.position,
            position__lt=repeat.assignment.position,
        )
        assert between.count() >= REPEAT_AFTER
    assert_counters_count_only_work(track)
    assert track.items_complete == track.items_total == 45  # every comparison once, repeats on top


def test_with_both_rates_zero_every_handout_is_work(annotator):
    track = make_track(annotators=[annotator], methods=8, min_watch_fraction=0, votes_needed=1)
    Track.objects.filter(pk=track.pk).update(gold_rate=0, repeat_rate=0)
    track.refresh_from_db()
    gold_comparisons(track, 3)

    vote_through(track, annotator, 40)

    assert set(Assignment.objects.values_list("purpose", flat=True)) == {"vote"}
    assert not TrackItem.objects.filter(is_check=True).exists()
    assert Judgment.objects.filter(track=track).count() == 28
    assert_counters_count_only_work(track)


def test_undoing_a_gold_answer_hands_the_gold_comparison_back_and_changes_no_counter(annotator):
    track = make_track(annotators=[annotator], methods=4, min_watch_fraction=0)
    Track.objects.filter(pk=track.pk).update(gold_rate=0.5, repeat_rate=0)
    track.refresh_from_db()
    gold_comparisons(track, 3)
    work = work_for(track=track, user=annotator)
    while work.assignment is not None and work.assignment.purpose != "gold":
        assignment = work.assignment
        work = judgment_submit_and_next(
            track_id=track.pk,
            assignment_id=assignment.pk,
            user=annotator,
            side_choice="left",
            now=assignment.issued_at,
        )
    gold = work.assignment
    assert gold is not None
    after = judgment_submit_and_next(
        track_id=track.pk, assignment_id=gold.pk, user=annotator, side_choice="right", now=gold.issued_at
    )
    assert Judgment.objects.get(assignment=gold).is_gold
    assert after.track.can_undo

    redo = judgment_undo_last(track=track, user=annotator, now=gold.issued_at)

    assert redo.pk == gold.pk and redo.status == "open"
    assert not Judgment.objects.filter(is_gold=True).exists()
    assert after.assignment is not None
    assert Assignment.objects.get(pk=after.assignment.pk).status == "expired"
    assert_counters_count_only_work(track)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("gold_rate", "60", "Gold rate must be between 0 and 50 %."),
        ("repeat_rate", "-1", "Repeat rate must be between 0 and 50 %."),
        ("gold_rate", "lots", "Gold rate must be between 0 and 50 %."),
    ],
)
def test_a_rate_outside_0_to_50_percent_is_a_400_naming_it_and_changes_nothing(
    admin_client, field, value, message
):
    track = make_track(methods=2)
    data = {"gold_rate": "10", "repeat_rate": "10", field: value}

    response = admin_client.post(reverse("manage_tracks:checks", args=[track.pk]), data)

    assert response.status_code == 400
    assert message in response.content.decode()
    track.refresh_from_db()
    assert (track.gold_rate, track.repeat_rate) == (0.05, 0.05)


def test_a_study_admin_sets_the_rates_in_percent_and_sees_the_gold_available(admin_client):
    track = make_track(methods=2)
    gold_comparisons(track, 2)

    response = admin_client.post(
        reverse("manage_tracks:checks", args=[track.pk]),
        {"gold_rate": "12.5", "repeat_rate": "0"},
        follow=True,
    )

    track.refresh_from_db()
    assert (track.gold_rate, track.repeat_rate) == (0.125, 0)
    assert response.context["gold_available"] == 1


def test_a_study_admin_marks_a_comparison_gold_from_the_track_page(admin_client):
    track = make_track(methods=2)
    comparison = track.items.get().comparison
    url = reverse("manage_tracks:gold_mark", args=[track.pk])

    response = admin_client.post(url, {"comparison": comparison.pk, "answer": "B", "note": "looked"})

    assert response.status_code == 302
    answer = GoldAnswer.objects.get(comparison=comparison, criterion=track.criterion)
    assert (answer.answer, answer.note, answer.source) == ("B", "looked", "admin")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"comparison": "999999", "answer": "A"}, "No comparison 999999."),
        ({"comparison": "{pk}", "answer": "tie"}, "The known answer is A or B"),
        ({"comparison": "x", "answer": "A"}, "The comparison id is a whole number."),
        ({"comparison": "{pk}", "answer": "A", "note": "n" * 301}, "at most 300 characters"),
    ],
)
def test_marking_gold_with_bad_input_is_a_400_naming_it_and_stores_nothing(admin_client, data, message):
    track = make_track(methods=2)
    pk = track.items.get().comparison_id
    data = {key: value.format(pk=pk) for key, value in data.items()}

    response = admin_client.post(reverse("manage_tracks:gold_mark", args=[track.pk]), data)

    assert response.status_code == 400
    assert message in response.content.decode()
    assert not GoldAnswer.objects.exists()


def test_the_make_gold_pairs_button_makes_pairs_of_the_tracks_videos(admin_client):
    track = make_track(methods=2, identities=2)

    response = admin_client.post(reverse("manage_tracks:gold_make", args=[track.pk]), follow=True)

    made = GoldAnswer.objects.filter(criterion=track.criterion, source="made")
    assert made.exists()
    assert response.context["gold_available"] == made.count()
    assert f"{made.count()} gold comparisons" in response.content.decode()


def test_gold_of_other_identities_is_handed_out_only_when_the_track_has_none_of_its_own(annotator):
    track = make_track(annotators=[annotator], methods=8, min_watch_fraction=0, votes_needed=1)
    Track.objects.filter(pk=track.pk).update(gold_rate=0.5, repeat_rate=0)
    track.refresh_from_db()
    elsewhere = make_track(methods=4)
    foreign = gold_comparisons(elsewhere, 3)  # three gold comparisons of another identity

    vote_through(track, annotator, 6)
    assert set(Judgment.objects.filter(is_gold=True).values_list("comparison", flat=True)) <= {
        c.pk for c in foreign
    }
    assert Judgment.objects.filter(is_gold=True).exists()
    own = gold_comparisons(track, 4)  # six of the track's own

    vote_through(track, annotator, 14)
    later = Assignment.objects.filter(purpose="gold", position__gte=7)
    assert later.exists()
    assert set(later.values_list("item__comparison", flat=True)) <= {c.pk for c in own}
