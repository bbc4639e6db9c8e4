"""Gold comparisons: known answers marked by an admin or made by the platform from the catalog."""

from __future__ import annotations

import io
import random
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command

from annotate.errors import GoldAnswerError
from annotate.models import Comparison, GoldAnswer
from annotate.services import make_gold_pairs, mark_gold, track_create
from generation.models import Video
from generation.services import video_degraded_copy, video_shapes_match
from studies.plans import case_pools
from tests.factories import IdentityFactory, MethodFactory, PromptFactory, make_video
from tests.generation.test_video_degraded_copy import textured_video

pytestmark = pytest.mark.django_db


def stored_files() -> set[Path]:
    return {path for path in Path(settings.MEDIA_ROOT).rglob("*") if path.is_file()}


def right_and_wrong(gold: GoldAnswer) -> tuple[Video, Video]:
    """The video the known answer names, and the other one, read in the comparison's canonical terms."""
    comparison = gold.comparison
    assert comparison.video_a_id < comparison.video_b_id
    if gold.answer == "A":
        return comparison.video_a, comparison.video_b
    return comparison.video_b, comparison.video_a


# --- marked by an admin -------------------------------------------------------------------------------------


@pytest.fixture
def comparison() -> Comparison:
    identity, prompt = IdentityFactory(), PromptFactory()
    first = make_video(identity=identity, prompt=prompt)
    second = make_video(identity=identity, prompt=prompt)
    return Comparison.objects.create(video_a=first, video_b=second, identity=identity, prompt=prompt)


def test_an_admin_marks_a_known_answer(comparison: Comparison, study_admin: User) -> None:
    gold = mark_gold(
        comparison=comparison, criterion="visual_quality", answer="B", by=study_admin, note="A is blurred"
    )
    gold.refresh_from_db()
    assert (gold.criterion, gold.answer, gold.source, gold.created_by, gold.note) == (
        "visual_quality",
        "B",
        GoldAnswer.Source.ADMIN,
        study_admin,
        "A is blurred",
    )


def test_marking_again_changes_the_answer_and_keeps_one_row(
    comparison: Comparison, study_admin: User
) -> None:
    mark_gold(comparison=comparison, criterion="identity_fidelity", answer="A", by=study_admin)
    mark_gold(comparison=comparison, criterion="identity_fidelity", answer="B", by=None, note="second look")
    assert list(GoldAnswer.objects.values_list("answer", "note")) == [("B", "second look")]


@pytest.mark.parametrize(
    ("criterion", "answer", "message"),
    [
        ("identity_fidelity", "tie", "“tie” is not a known answer"),
        ("identity_fidelity", "both_bad", "“both_bad” is not a known answer"),
        ("identity_fidelity", "left", "“left” is not a choice; a gold answer is A or B"),
        ("beauty", "A", "“beauty” is not a criterion here; expected one of: identity_fidelity"),
    ],
)
def test_a_bad_answer_or_criterion_is_refused_and_nothing_is_written(
    comparison: Comparison, study_admin: User, criterion: str, answer: str, message: str
) -> None:
    with pytest.raises(GoldAnswerError, match=message) as refused:
        mark_gold(comparison=comparison, criterion=criterion, answer=answer, by=study_admin)
    assert refused.value.status == 400
    assert not GoldAnswer.objects.exists()


def test_a_note_too_long_is_refused(comparison: Comparison, study_admin: User) -> None:
    with pytest.raises(GoldAnswerError, match="The note has 301 characters; at most 300"):
        mark_gold(
            comparison=comparison, criterion="identity_fidelity", answer="A", by=study_admin, note="x" * 301
        )
    assert not GoldAnswer.objects.exists()


def test_the_admin_lists_and_filters_gold_answers(comparison: Comparison, client, study_admin: User) -> None:
    study_admin.is_staff = study_admin.is_superuser = True
    study_admin.save()
    client.force_login(study_admin)
    mark_gold(comparison=comparison, criterion="visual_quality", answer="A", by=study_admin)
    page = client.get("/admin/annotate/goldanswer/?source__exact=admin&criterion__exact=visual_quality")
    assert page.status_code == 200
    assert f"Comparison {comparison.pk}" in page.content.decode()
    assert "By criterion" in page.content.decode() and "By source" in page.content.decode()
    empty = client.get("/admin/annotate/goldanswer/?source__exact=made")
    assert f"Comparison {comparison.pk}" not in empty.content.decode()


def test_the_admin_form_marks_through_the_service(comparison: Comparison, client, study_admin: User) -> None:
    study_admin.is_staff = study_admin.is_superuser = True
    study_admin.save()
    client.force_login(study_admin)
    data = {"comparison": comparison.pk, "criterion": "identity_fidelity", "answer": "tie", "note": ""}
    refused = client.post("/admin/annotate/goldanswer/add/", data)
    assert refused.status_code == 200 and "Select a valid choice" in refused.content.decode()
    assert not GoldAnswer.objects.exists()
    client.post("/admin/annotate/goldanswer/add/", {**data, "answer": "B"})
    gold = GoldAnswer.objects.get()
    assert (gold.answer, gold.source, gold.created_by) == ("B", "admin", study_admin)


# --- made by the platform -----------------------------------------------------------------------------------


def test_identity_fidelity_pairs_the_right_identity_against_another(study_admin: User) -> None:
    method, prompt = MethodFactory(), PromptFactory()
    first, _, last = (make_video(method=method, identity=IdentityFactory(), prompt=prompt) for _ in range(3))
    # The last video has the largest id: it is video B of its pair, so the known answer is B.
    (late,) = make_gold_pairs(criterion="identity_fidelity", videos=[last], by=study_admin)
    # The first has the smallest id: A.
    (early,) = make_gold_pairs(criterion="identity_fidelity", videos=[first])
    assert (late.answer, early.answer) == ("B", "A")
    for gold, target in ((late, last), (early, first)):
        right, wrong = right_and_wrong(gold)
        assert right == target
        assert (gold.comparison.identity, gold.comparison.prompt) == (target.identity, target.prompt)
        assert wrong.identity != target.identity
        assert (wrong.prompt, wrong.method) == (target.prompt, target.method)
        assert gold.source == GoldAnswer.Source.MADE and gold.criterion == "identity_fidelity"
        assert video_shapes_match(right, wrong)
    assert late.created_by == study_admin


def test_prompt_controllability_pairs_the_asked_prompt_against_another() -> None:
    method, identity = MethodFactory(), IdentityFactory()
    first, _, last = (make_video(method=method, identity=identity, prompt=PromptFactory()) for _ in range(3))
    (late,) = make_gold_pairs(criterion="prompt_controllability", videos=[last])
    (early,) = make_gold_pairs(criterion="prompt_controllability", videos=[first])
    assert (late.answer, early.answer) == ("B", "A")
    for gold, target in ((late, last), (early, first)):
        right, wrong = right_and_wrong(gold)
        assert right == target
        assert (gold.comparison.identity, gold.comparison.prompt) == (target.identity, target.prompt)
        assert wrong.prompt != target.prompt
        assert (wrong.identity, wrong.method) == (target.identity, target.method)
        assert video_shapes_match(right, wrong)


def test_visual_quality_pairs_a_video_against_its_degraded_copy() -> None:
    source = textured_video()
    (gold,) = make_gold_pairs(criterion="visual_quality", videos=[source])
    right, wrong = right_and_wrong(gold)
    assert right == source
    assert wrong.is_gold_stimulus and wrong.gold_source == source
    # The copy is made after its source, so it is B and the answer is A.
    assert gold.answer == "A"
    assert video_shapes_match(right, wrong)
    assert (gold.comparison.identity, gold.comparison.prompt) == (source.identity, source.prompt)


def test_a_pair_whose_sides_differ_in_shape_is_skipped() -> None:
    method, prompt = MethodFactory(), PromptFactory()
    target = make_video(method=method, identity=IdentityFactory(), prompt=prompt, size=64)
    make_video(method=method, identity=IdentityFactory(), prompt=prompt, size=32)
    make_video(method=method, identity=IdentityFactory(), prompt=prompt, size=64, frames=12)
    assert make_gold_pairs(criterion="identity_fidelity", videos=[target]) == []
    assert not Comparison.objects.exists()


def test_other_methods_videos_are_not_paired() -> None:
    prompt = PromptFactory()
    target = make_video(method=MethodFactory(), identity=IdentityFactory(), prompt=prompt)
    make_video(method=MethodFactory(), identity=IdentityFactory(), prompt=prompt)
    assert make_gold_pairs(criterion="identity_fidelity", videos=[target]) == []


def test_making_again_makes_nothing_new() -> None:
    method, prompt = MethodFactory(), PromptFactory()
    for _ in range(4):
        make_video(method=method, identity=IdentityFactory(), prompt=prompt)
    first = make_gold_pairs(criterion="identity_fidelity", limit=3, seed=7)
    counts = (Comparison.objects.count(), GoldAnswer.objects.count())
    again = make_gold_pairs(criterion="identity_fidelity", limit=3, seed=7)
    assert [gold.pk for gold in again] == [gold.pk for gold in first]
    assert len(first) == 3 and counts == (3, 3)
    assert (Comparison.objects.count(), GoldAnswer.objects.count()) == counts
    # Another seed reuses what is there and adds only for videos that have no pair yet.
    make_gold_pairs(criterion="identity_fidelity", limit=4, seed=8)
    assert GoldAnswer.objects.count() <= 4


def test_making_visual_quality_again_makes_no_second_copy() -> None:
    source = textured_video()
    first = make_gold_pairs(criterion="visual_quality", videos=[source])
    files = stored_files()
    assert make_gold_pairs(criterion="visual_quality", videos=[source]) == first
    assert Video.objects.filter(is_gold_stimulus=True).count() == 1
    assert stored_files() == files


def test_a_failure_leaves_no_rows_and_no_files() -> None:
    good, broken = textured_video(seed=1), textured_video(seed=2)
    Path(settings.MEDIA_ROOT, broken.file.name).write_bytes(b"not a video any more")
    # A seed that takes the good video first, so a copy is written before the broken one fails.
    seed = next(s for s in range(100) if _first_of(s, [good, broken]) == good)
    files = stored_files()
    with pytest.raises(
        GoldAnswerError, match=f"No degraded copy of video {broken.pk}: .*could not be decoded"
    ):
        make_gold_pairs(criterion="visual_quality", videos=[good, broken], seed=seed)
    assert not Video.objects.filter(is_gold_stimulus=True).exists()
    assert not Comparison.objects.exists() and not GoldAnswer.objects.exists()
    assert stored_files() == files


def _first_of(seed: int, videos: list[Video]) -> Video:
    order = sorted(videos, key=lambda video: video.pk)
    random.Random(seed).shuffle(order)
    return order[0]


@pytest.mark.parametrize("criterion", ["element_consistency", "beauty"])
def test_a_criterion_the_platform_cannot_make_is_refused(criterion: str) -> None:
    with pytest.raises(GoldAnswerError, match=f"“{criterion}” is not a criterion here; expected one of: "):
        make_gold_pairs(criterion=criterion)


def test_a_track_gives_its_criterion_and_videos() -> None:
    methods, prompt = [MethodFactory(), MethodFactory()], PromptFactory()
    identities = [IdentityFactory() for _ in range(2)]
    for identity in identities:
        for method in methods:
            make_video(method=method, identity=identity, prompt=prompt)
    track = track_create(
        name="fidelity",
        kind="identity_fidelity",
        identities=identities[:1],
        prompts=[prompt],
        methods=methods,
    )
    golds = make_gold_pairs(track=track)
    assert len(golds) == 2  # each of the track's two videos, against its method's video of the other person
    assert {right_and_wrong(gold)[0].identity for gold in golds} == {identities[0]}
    with pytest.raises(GoldAnswerError, match="asks about identity_fidelity, not visual_quality"):
        make_gold_pairs(track=track, criterion="visual_quality")


# --- degraded copies stay out of tracks and studies ---------------------------------------------------------


def test_degraded_copies_enter_no_track_and_no_study_plan() -> None:
    identity, prompt = IdentityFactory(), PromptFactory()
    ours, baseline = MethodFactory(), MethodFactory()
    mine = textured_video(seed=1, method=ours, identity=identity, prompt=prompt)
    theirs = textured_video(seed=2, method=baseline, identity=identity, prompt=prompt)
    copies = {video_degraded_copy(video=mine).pk, video_degraded_copy(video=theirs).pk}
    track = track_create(
        name="t", kind="identity_fidelity", identities=[identity], prompts=[prompt], methods=[ours, baseline]
    )
    pairs = list(track.comparisons.values_list("video_a_id", "video_b_id"))
    assert pairs == [(mine.pk, theirs.pk)]
    pools = case_pools(
        ours_id=ours.pk,
        baseline_ids=[baseline.pk],
        identity_ids=[identity.pk],
        prompt_ids=[prompt.pk],
        best_of_all=False,
    )
    shown = {video_id for cases in pools.values() for case in cases for video_id in case.video_ids}
    assert shown == {mine.pk, theirs.pk} and not shown & copies


def test_the_command_makes_pairs_and_names_a_bad_criterion() -> None:
    method, prompt = MethodFactory(), PromptFactory()
    for _ in range(2):
        make_video(method=method, identity=IdentityFactory(), prompt=prompt)
    out = io.StringIO()
    call_command("make_gold", "--criterion", "identity_fidelity", "--limit", "5", stdout=out)
    assert out.getvalue().endswith("1 gold comparisons\n")  # the second video's pair is the first's
    assert GoldAnswer.objects.filter(source="made").count() == 1
    with pytest.raises(CommandError, match="“beauty” is not a criterion here"):
        call_command("make_gold", "--criterion", "beauty")
    with pytest.raises(CommandError, match="no such track: 999"):
        call_command("make_gold", "--track", "999")
