from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client
from django.urls import reverse

from annotate.errors import AlreadyReported, ProblemReportError, ProblemResolveError
from annotate.models import Assignment, Judgment, ProblemReport, Track, TrackItem, TrackSeat
from annotate.problem_reports import problem_reports_open, problem_reports_resolve
from annotate.selectors import annotator_track_progress_get, track_item_status_counts
from annotate.vote_path import (
    _PICK_SQL,
    assignment_next_for,
    judgment_submit,
    problem_report_create,
    work_for,
)
from tests.factories import make_track

pytestmark = pytest.mark.django_db


def annotators(n: int) -> list[User]:
    return [User.objects.create_user(f"rep-{i}", password=f"pw-rep-{i}") for i in range(n)]


def report(track: Track, user: User, reason: str = "broken_video", note: str = ""):
    assignment = assignment_next_for(track=track, user=user)
    assert assignment is not None
    return assignment, problem_report_create(
        track_id=track.pk, assignment_id=assignment.pk, user=user, reason=reason, note=note
    )


def test_a_report_is_stored_is_not_a_vote_and_hands_out_the_next_comparison(annotator):
    track = make_track(annotators=[annotator], methods=3, min_watch_fraction=0)

    first, work = report(track, annotator, reason="not_loading", note="  spins forever ")

    stored = ProblemReport.objects.get()
    assert (stored.item_id, stored.rater.user, stored.reason, stored.note) == (
        first.item_id,
        annotator,
        "not_loading",
        "spins forever",
    )
    assert stored.resolution == "" and stored.created_at is not None
    assert not Judgment.objects.exists()
    item = TrackItem.objects.get(pk=first.item_id)
    assert (item.claimed, item.votes, item.tally_a + item.tally_b + item.tally_tie, item.held) == (
        0,
        0,
        0,
        False,
    )
    track.refresh_from_db()
    assert (track.votes_stored, track.items_complete) == (0, 0)
    assert Assignment.objects.get(pk=first.pk).status == Assignment.Status.REPORTED
    assert work.assignment is not None and work.assignment.item_id != first.item_id
    assert (work.track.done_by_me, work.track.can_undo) == (0, False)


def test_with_prefetching_the_reserved_comparison_comes_next_and_another_is_reserved(annotator, prefetch):
    track = make_track(annotators=[annotator], methods=3, min_watch_fraction=0)
    shown = work_for(track=annotator_track_progress_get(user=annotator, track_id=track.pk), user=annotator)
    current, reserved = Assignment.objects.filter(rater__user=annotator, status="open").order_by("position")

    work = problem_report_create(
        track_id=track.pk, assignment_id=shown.assignment.pk, user=annotator, reason="not_loading"
    )

    assert shown.assignment.pk == current.pk
    assert work.assignment.pk == reserved.pk
    assert work.panel.next_media  # the third comparison, reserved for the browser to fetch
    assert Assignment.objects.filter(rater__user=annotator, status="open").count() == 2


def test_a_reported_comparison_is_never_handed_back_to_its_reporter(annotator, outsider):
    track = make_track(annotators=[annotator, outsider], methods=2, min_watch_fraction=0)

    first, work = report(track, annotator)

    assert work.panel is None
    assert assignment_next_for(track=track, user=annotator) is None
    assert assignment_next_for(track=track, user=outsider).item_id == first.item_id


def test_a_single_report_leaves_the_comparison_in_the_pool_and_a_second_takes_it_out():
    first_user, second_user, third_user = annotators(3)
    track = make_track(annotators=[first_user, second_user, third_user], methods=2, min_watch_fraction=0)

    first, _ = report(track, first_user)
    assert not TrackItem.objects.get(pk=first.item_id).held
    second, _ = report(track, second_user, reason="wrong_person")

    assert second.item_id == first.item_id
    assert TrackItem.objects.get(pk=first.item_id).held
    assert assignment_next_for(track=track, user=third_user) is None


def test_reporting_the_same_comparison_twice_is_refused_with_a_clear_message(annotator):
    track = make_track(annotators=[annotator], methods=3, min_watch_fraction=0)
    first, _ = report(track, annotator)

    with pytest.raises(AlreadyReported, match="already reported a problem with this comparison"):
        problem_report_create(track_id=track.pk, assignment_id=first.pk, user=annotator, reason="offensive")

    assert ProblemReport.objects.count() == 1


def test_an_unknown_reason_is_refused_naming_it_and_nothing_is_written(annotator):
    track = make_track(annotators=[annotator], methods=3, min_watch_fraction=0)
    assignment = assignment_next_for(track=track, user=annotator)

    with pytest.raises(ProblemReportError, match="'boring'"):
        problem_report_create(track_id=track.pk, assignment_id=assignment.pk, user=annotator, reason="boring")

    assert not ProblemReport.objects.exists()
    assert Assignment.objects.get(pk=assignment.pk).status == Assignment.Status.OPEN


def test_a_vote_on_a_reported_comparison_is_refused(annotator):
    track = make_track(annotators=[annotator], methods=3, min_watch_fraction=0)
    first, _ = report(track, annotator)

    with pytest.raises(Exception, match="You reported a problem with this comparison"):
        judgment_submit(assignment_id=first.pk, user=annotator, side_choice="left")
    assert not Judgment.objects.exists()


def held_by_two(track: Track, first_user: User, second_user: User) -> TrackItem:
    first, _ = report(track, first_user)
    report(track, second_user)
    item = TrackItem.objects.get(pk=first.item_id)
    assert item.held
    return item


def test_resolving_as_fixed_puts_the_comparison_back_for_everyone_its_reporters_too(study_admin):
    first_user, second_user = annotators(2)
    track = make_track(annotators=[first_user, second_user], methods=2, min_watch_fraction=0)
    item = held_by_two(track, first_user, second_user)

    closed = problem_reports_resolve(track=track, item_id=item.pk, resolution="fixed", by=study_admin)

    assert closed == 2
    assert set(ProblemReport.objects.values_list("resolution", "resolved_by")) == {("fixed", study_admin.pk)}
    assert not TrackItem.objects.get(pk=item.pk).held
    assert assignment_next_for(track=track, user=first_user).item_id == item.pk
    assert problem_reports_open(track=track) == []


def test_resolving_as_dismissed_puts_it_back_in_the_pool_but_not_to_its_reporters(study_admin):
    first_user, second_user, third_user = annotators(3)
    track = make_track(annotators=[first_user, second_user, third_user], methods=2, min_watch_fraction=0)
    item = held_by_two(track, first_user, second_user)

    problem_reports_resolve(track=track, item_id=item.pk, resolution="dismissed", by=study_admin)

    assert not TrackItem.objects.get(pk=item.pk).held
    assert assignment_next_for(track=track, user=first_user) is None
    assert assignment_next_for(track=track, user=third_user).item_id == item.pk


def test_removing_a_comparison_keeps_it_out_and_counts_it_as_removed_in_progress(study_admin):
    voter, first_user, second_user, latecomer = annotators(4)
    track = make_track(
        annotators=[voter, first_user, second_user, latecomer], methods=2, min_watch_fraction=0
    )
    voted = assignment_next_for(track=track, user=voter)
    judgment_submit(assignment_id=voted.pk, user=voter, side_choice="left")
    item = held_by_two(track, first_user, second_user)

    problem_reports_resolve(track=track, item_id=item.pk, resolution="removed", by=study_admin)

    item.refresh_from_db()
    track.refresh_from_db()
    assert (item.status, item.held, item.votes) == ("removed", True, 1)
    assert (track.items_total, track.items_complete, track.votes_stored) == (1, 1, 1)
    seat = TrackSeat.objects.get(track=track, user=voter)
    assert (seat.votes_on_open, seat.undoable_id) == (0, None)
    assert assignment_next_for(track=track, user=latecomer) is None
    counts = {row.status: row.count for row in track_item_status_counts(track=track)}
    assert counts["removed"] == 1


def test_resolving_needs_open_reports_and_a_known_resolution(study_admin, annotator):
    track = make_track(annotators=[annotator], methods=3, min_watch_fraction=0)
    first, _ = report(track, annotator)

    with pytest.raises(ProblemReportError, match="'ignore'"):
        problem_reports_resolve(track=track, item_id=first.item_id, resolution="ignore", by=study_admin)
    problem_reports_resolve(track=track, item_id=first.item_id, resolution="dismissed", by=study_admin)
    with pytest.raises(ProblemResolveError, match="no open problem reports"):
        problem_reports_resolve(track=track, item_id=first.item_id, resolution="dismissed", by=study_admin)


def test_the_pick_can_walk_its_partial_index_with_held_comparisons_left_out(annotator):
    track = make_track(annotators=[annotator], methods=3, min_watch_fraction=0)
    seat = TrackSeat.objects.get(track=track, user=annotator)
    params = {
        "track": track.pk,
        "rater": seat.rater_id,
        "side": "A",
        "position": 0,
        "now": track.created_at,
        "expires": track.created_at,
    }
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")  # a tiny table: ask whether the index serves
        cursor.execute("EXPLAIN " + _PICK_SQL, params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "track_item_open_pick_idx" in plan


# --- the annotator's button and the study admin's page ---------------------------------------------


def test_the_report_button_answers_htmx_with_the_next_panel(annotator_client: Client, annotator):
    track = make_track(annotators=[annotator], methods=3, min_watch_fraction=0)
    first = assignment_next_for(track=track, user=annotator)

    response = annotator_client.post(
        reverse("annotate:report", args=[track.pk, first.pk]),
        {"reason": "offensive", "note": ""},
        headers={"HX-Request": "true"},
    )

    assert response.status_code == 200
    html = response.content.decode()
    assert "<html" not in html and 'id="comparison-panel"' in html
    assert "your report was stored" in html
    following = Assignment.objects.get(rater__user=annotator, status="open")
    assert reverse("annotate:vote", args=[track.pk, following.pk]) in html
    assert "Can&#39;t judge this pair?" in html or "Can't judge this pair?" in html


def test_the_report_button_with_an_unknown_reason_is_a_400_naming_it(annotator_client: Client, annotator):
    track = make_track(annotators=[annotator], methods=3, min_watch_fraction=0)
    first = assignment_next_for(track=track, user=annotator)

    response = annotator_client.post(
        reverse("annotate:report", args=[track.pk, first.pk]),
        {"reason": "meh"},
        headers={"HX-Request": "true"},
    )

    assert response.status_code == 400
    assert "Unknown reason &#39;meh&#39;" in response.content.decode()
    assert not ProblemReport.objects.exists()


def test_someone_elses_assignment_cannot_be_reported(outsider_client: Client, annotator, outsider):
    track = make_track(annotators=[annotator, outsider], methods=3, min_watch_fraction=0)
    first = assignment_next_for(track=track, user=annotator)

    response = outsider_client.post(
        reverse("annotate:report", args=[track.pk, first.pk]), {"reason": "offensive"}
    )

    assert response.status_code == 404
    assert not ProblemReport.objects.exists()


def test_the_track_reports_page_lists_open_reports_without_methods_and_resolves_them(
    admin_client: Client, study_admin
):
    first_user, second_user = annotators(2)
    track = make_track(annotators=[first_user, second_user], methods=2, min_watch_fraction=0)
    item = held_by_two(track, first_user, second_user)
    page_url = reverse("manage_tracks:reports", args=[track.pk])

    html = admin_client.get(page_url).content.decode()

    assert "rep-0" in html and "rep-1" in html and "A video is broken" in html
    assert "out of the pool" in html
    for method in {item.comparison.video_a.method.name, item.comparison.video_b.method.name}:
        assert method not in html
    detail = admin_client.get(reverse("manage_tracks:detail", args=[track.pk])).content.decode()
    assert page_url in detail and "1 comparison with open problem reports" in detail
    resolve_url = reverse("manage_tracks:report_resolve", args=[track.pk, item.pk])
    bad = admin_client.post(resolve_url, {"resolution": "later"})
    assert bad.status_code == 400 and "later" in bad.content.decode()
    response = admin_client.post(resolve_url, {"resolution": "removed"})
    assert response.status_code == 302
    assert TrackItem.objects.get(pk=item.pk).status == "removed"
    assert "No open problem reports" in admin_client.get(page_url).content.decode()


def test_an_annotator_cannot_see_or_resolve_the_reports(annotator_client: Client, annotator):
    track = make_track(annotators=[annotator], methods=3, min_watch_fraction=0)
    first, _ = report(track, annotator)

    assert annotator_client.get(reverse("manage_tracks:reports", args=[track.pk])).status_code in {
        302,
        403,
        404,
    }
    response = annotator_client.post(
        reverse("manage_tracks:report_resolve", args=[track.pk, first.item_id]), {"resolution": "removed"}
    )
    assert response.status_code in {302, 403, 404}
    assert ProblemReport.objects.get().resolution == ""
