from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from annotate.models import TrackItem
from generation.errors import GenerationError
from generation.models import GenerationJob, Method, Video
from generation.services import generation_job_create, generation_render, video_degraded_copy
from tests.factories import IdentityFactory, MethodFactory, PromptFactory, make_track, make_video

pytestmark = pytest.mark.django_db

CARTOON = {"width": 32, "height": 32, "num_frames": 4, "fidelity": 0.6, "control": 0.8}


@pytest.fixture
def new(db: None) -> Method:
    # The demo's procedural backend: a real render without a model.
    return MethodFactory(name="checkpoint-2", backend=Method.Backend.PROCEDURAL, settings=dict(CARTOON))


@pytest.fixture
def old(db: None) -> Method:
    """The last checkpoint, with videos on three (identity, prompt, seed) cases out of the catalog's eight."""
    method = MethodFactory(name="checkpoint-1")
    ada, bo = IdentityFactory(slug="ada"), IdentityFactory(slug="bo")
    beach, snow = PromptFactory(slug="beach"), PromptFactory(slug="snow")
    for identity, prompt, seed in [(ada, beach, 3), (ada, snow, 7), (bo, beach, 3)]:
        make_video(method=method, identity=identity, prompt=prompt, seed=seed, frames=4, size=32)
    return method


def _cases(rows) -> set[tuple[str, str, int]]:
    return set(rows.values_list("identity__slug", "prompt__slug", "seed"))


def test_a_job_matching_a_method_renders_exactly_the_cases_of_its_videos(new, old):
    video_degraded_copy(video=Video.objects.filter(method=old).first())  # a gold copy is no case of old's

    job = generation_job_create(method=new, match_method=old)

    assert _cases(job.items) == _cases(Video.objects.of_methods().filter(method=old))
    assert _cases(job.items) == {("ada", "beach", 3), ("ada", "snow", 7), ("bo", "beach", 3)}
    assert (job.match_method, job.seeds) == (old, [3, 7])


def test_a_rematch_extends_the_track_with_each_new_video_against_the_old_one_of_the_same_seed(
    new, django_capture_on_commit_callbacks
):
    track = make_track(methods=2)  # one case, two methods with seed 0: one comparison
    case = track.comparisons.get()
    old = MethodFactory(name="checkpoint-1")  # not in the track
    old_videos = {
        seed: make_video(method=old, identity=case.identity, prompt=case.prompt, seed=seed, frames=4, size=32)
        for seed in (0, 5)
    }
    job = generation_job_create(method=new, match_method=old, extend_track_id=track.pk)

    with django_capture_on_commit_callbacks(execute=True):
        generation_render(item_ids=list(job.items.values_list("pk", flat=True)))

    new_videos = {video.seed: video for video in Video.objects.filter(method=new)}
    assert set(new_videos) == {0, 5}
    pairs = {
        frozenset(pair)
        for pair in TrackItem.objects.filter(track=track).values_list(
            "comparison__video_a_id", "comparison__video_b_id"
        )
    }
    # The one there was, each new video against the track's two, and each against old's of its seed.
    assert len(pairs) == 1 + 2 * 2 + 2
    for seed in (0, 5):
        assert frozenset((new_videos[seed].pk, old_videos[seed].pk)) in pairs
    assert frozenset((new_videos[0].pk, old_videos[5].pk)) not in pairs
    track.refresh_from_db()
    assert track.items_total == len(pairs)


def test_a_rematch_against_a_method_of_the_track_adds_no_pair_twice(new, django_capture_on_commit_callbacks):
    track = make_track(methods=2)
    old = track.comparisons.get().video_a.method
    job = generation_job_create(method=new, match_method=old, extend_track_id=track.pk)

    with django_capture_on_commit_callbacks(execute=True):
        generation_render(item_ids=list(job.items.values_list("pk", flat=True)))

    assert TrackItem.objects.filter(track=track).count() == 1 + 2


@pytest.mark.parametrize(
    ("match", "message"),
    [
        ("self", "the method to match must be another method than checkpoint-2, the one rendering"),
        ("empty", "method checkpoint-0 has no videos to match"),
    ],
)
def test_a_rematch_with_nothing_to_match_is_refused_and_nothing_is_written(new, old, match, message):
    target = new if match == "self" else MethodFactory(name="checkpoint-0")
    with pytest.raises(GenerationError, match=message):
        generation_job_create(method=new, match_method=target)
    assert not GenerationJob.objects.exists()


def test_the_command_launches_a_rematch(new, old):
    out = StringIO()
    call_command("generate", "--method", "checkpoint-2", "--match-method", "checkpoint-1", stdout=out)

    job = GenerationJob.objects.get()
    assert out.getvalue() == f"Job {job.pk}: 3 videos queued for checkpoint-2.\n"
    assert _cases(job.items) == _cases(Video.objects.filter(method=old))


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--match-method", "checkpoint-2"], "another method than checkpoint-2, the one rendering"),
        (["--match-method", "checkpoint-0"], "method checkpoint-0 has no videos to match"),
        (["--match-method", "nobody"], "no such method to match: nobody"),
        (["--match-method", "checkpoint-1", "--seeds", "2"], "of OLD's videos: leave out --seeds"),
        (["--identities", "all", "--prompts", "all"], "give --identities, --prompts and --seeds, or --match"),
    ],
)
def test_the_command_names_what_is_wrong_with_a_rematch(new, old, arguments, message):
    MethodFactory(name="checkpoint-0")
    with pytest.raises(CommandError, match=message):
        call_command("generate", "--method", "checkpoint-2", *arguments)
    assert not GenerationJob.objects.exists()


def test_the_launch_form_queues_a_rematch_that_extends_a_track(admin_client, new, old):
    track = make_track(methods=2)
    page = admin_client.get(reverse("generation:job_new")).content.decode()
    assert "Same identities, prompts and seeds as method" in page
    assert "paired with that method&#x27;s video of the same identity, prompt and seed" in page

    response = admin_client.post(
        reverse("generation:job_new"),
        {"method": new.pk, "match_method": old.pk, "seeds": "2", "extend_track": track.pk},
    )

    job = GenerationJob.objects.get()
    assert response.status_code == 302
    assert (job.match_method, job.extend_track_id) == (old, track.pk)
    assert _cases(job.items) == _cases(Video.objects.filter(method=old))
    detail = admin_client.get(reverse("generation:job_detail", args=[job.pk])).content.decode()
    assert "each also paired with checkpoint-1's video of the same identity, prompt and seed" in detail


@pytest.mark.parametrize(
    ("match", "ticked", "message"),
    [
        ("self", False, "The method to match must be another method than checkpoint-2, the one rendering."),
        ("empty", False, "Method checkpoint-0 has no videos to match."),
        ("unknown", False, "No such method to match: choose one from the list."),
        ("old", True, "Either match checkpoint-1&#x27;s identities, prompts and seeds or choose them"),
    ],
)
def test_the_launch_form_names_what_is_wrong_with_a_rematch(admin_client, new, old, match, ticked, message):
    target = {
        "self": new.pk,
        "empty": MethodFactory(name="checkpoint-0").pk,
        "unknown": 999999,
        "old": old.pk,
    }
    form = {"method": new.pk, "match_method": target[match], "seeds": "2"}
    if ticked:
        form["identities"] = [IdentityFactory().pk]

    response = admin_client.post(reverse("generation:job_new"), form)

    assert response.status_code == 400
    assert message in response.content.decode()
    assert list(response.context["form"].errors) == ["match_method"]
    assert not GenerationJob.objects.exists()


def test_without_a_method_to_match_the_launch_form_still_asks_for_identities_and_prompts(admin_client, new):
    response = admin_client.post(reverse("generation:job_new"), {"method": new.pk, "seeds": "2"})
    assert response.status_code == 400
    assert set(response.context["form"].errors) == {"identities", "prompts"}
    assert not GenerationJob.objects.exists()
