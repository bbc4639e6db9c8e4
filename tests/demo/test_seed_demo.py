from __future__ import annotations

from io import StringIO
from pathlib import Path

import av
import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command
from django.test import Client

from demo import world
from generation.models import (
    KEPT_ELEMENT_ASPECTS,
    Identity,
    Method,
    MetricRun,
    Prompt,
    Reference,
    Story,
    StoryRendering,
    Video,
)
from generation.services import video_metrics_compute
from tests.processes import queued_tasks

pytestmark = pytest.mark.django_db

SMALL = ("--identities", "2", "--prompts", "2", "--size", "64", "--frames", "9")


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    # The demo users get real password hashes; the slow default hasher would dominate these tests.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def seed(*arguments: str) -> str:
    out = StringIO()
    call_command("seed_demo", *arguments, stdout=out)
    return out.getvalue()


def media(name: str) -> Path:
    return Path(settings.MEDIA_ROOT) / name


def test_it_creates_the_small_world_it_was_asked_for():
    seed(*SMALL)
    assert Identity.objects.count() == 2
    assert Prompt.objects.filter(story_shots__isnull=True).count() == 2  # and the stories' shot prompts
    assert list(Story.objects.values_list("slug", flat=True)) == ["neon-to-sunset", "park-to-cafe"]
    assert all(story.shots.count() == 3 for story in Story.objects.all())
    assert set(Method.objects.values_list("name", flat=True)) == {"ours", "baseline-drift", "baseline-rigid"}
    assert Video.objects.filter(is_gold_stimulus=False, rendering__isnull=True).count() == 2 * 2 * 3
    # Each story rendered by ours (each shot from the last) and a baseline (shots on their own):
    renderings = StoryRendering.objects.order_by("story__slug", "method__name")
    assert [(r.story.slug, r.method.name, r.mode) for r in renderings] == [
        ("neon-to-sunset", "baseline-drift", "independent"),
        ("neon-to-sunset", "ours", "autoregressive"),
        ("park-to-cafe", "baseline-drift", "independent"),
        ("park-to-cafe", "ours", "autoregressive"),
    ]
    assert all(len(r.shot_videos()) == 3 and r.joined is not None for r in renderings)
    # and one degraded copy per "ours" video at most, the study's gold of visual quality
    assert Video.objects.filter(is_gold_stimulus=True).count() <= 2 * 2
    for identity in Identity.objects.all():
        references = list(identity.references.filter(in_three_view=False))
        assert 3 <= len(references) <= 5
        primaries = [reference for reference in references if reference.is_primary]
        assert len(primaries) == 1 and primaries[0].kind == Reference.Kind.PORTRAIT
        assert {reference.kind for reference in references} == {"face", "portrait", "video"}
    # The first identity, the digital actor of the stories, has the canonical three-view set.
    actor = Identity.objects.get(slug=world.IDENTITIES[0].slug)
    three_view = actor.references.filter(in_three_view=True)
    assert sorted(three_view.values_list("viewpoint", flat=True)) == ["back", "front", "three_quarter_left"]
    assert {reference.kind for reference in three_view} == {Reference.Kind.FULL_BODY}


def test_every_case_gets_one_video_per_method_and_seed():
    seed(
        "--identities",
        "1",
        "--prompts",
        "1",
        "--size",
        "32",
        "--frames",
        "4",
        "--seeds-per-case",
        "2",
        "--seed",
        "5",
    )
    clips = Video.objects.filter(is_gold_stimulus=False, rendering__isnull=True)
    rows = set(clips.values_list("method__name", "seed"))
    assert rows == {(name, seed) for name in ("ours", "baseline-drift", "baseline-rigid") for seed in (5, 6)}


def test_its_videos_are_h264_yuv420p_with_posters_and_their_settings():
    seed(*SMALL)
    ours = Method.objects.get(name="ours")
    assert ours.role == Method.Role.OURS and ours.backend == Method.Backend.PROCEDURAL
    assert ours.settings == {"fidelity": 0.95, "control": 0.9}
    for video in Video.objects.filter(is_gold_stimulus=False).select_related("method"):
        # A story's joined file plays its three shots one after the other.
        frames = 9 if video.rendering_id is None or video.shot else 27
        assert (video.codec, video.width, video.height, video.num_frames) == ("h264", 64, 64, frames)
        assert media(video.poster.name).is_file()
        with av.open(str(media(video.file.name))) as container:
            stream = container.streams.video[0]
            assert (stream.codec_context.name, stream.codec_context.pix_fmt) == ("h264", "yuv420p")
        assert video.settings["fidelity"] == video.method.settings["fidelity"]
        assert {"control", "width", "height", "num_frames", "fps", "seed"} <= set(video.settings)
    clip = Reference.objects.filter(kind=Reference.Kind.VIDEO).first()
    assert clip is not None and clip.duration == pytest.approx(2.0, abs=0.1)


def test_running_it_twice_creates_nothing_new():
    seed(*SMALL)
    counts = [model.objects.count() for model in (Identity, Reference, Prompt, Method, Video, User)]
    files = sorted(path for path in Path(settings.MEDIA_ROOT).rglob("*") if path.is_file())
    output = seed(*SMALL)
    assert [model.objects.count() for model in (Identity, Reference, Prompt, Method, Video, User)] == counts
    assert sorted(path for path in Path(settings.MEDIA_ROOT).rglob("*") if path.is_file()) == files
    assert "0 videos created (12 already there)" in output


def test_the_demo_users_can_sign_in(client: Client):
    seed("--identities", "1", "--prompts", "1", "--size", "32", "--frames", "2")
    # Through the sign-in page: the lockout backend wants the request that a bare client.login() lacks.
    for name in ("admin", "annotator", "mlteam"):
        response = client.post("/accounts/login/", {"username": name, "password": name})
        assert response.status_code == 302 and response.url == "/"
    admin, annotator = User.objects.get(username="admin"), User.objects.get(username="annotator")
    assert admin.is_superuser and admin.is_staff
    assert not annotator.is_staff and annotator.groups.filter(name="Annotators").exists()
    ml_member = User.objects.get(username="mlteam")
    assert not ml_member.is_staff and ml_member.groups.filter(name="ML team").exists()


def test_the_demo_banner_prints_every_login():
    from config.demo import _banner

    banner = _banner("8000")
    for login in ("admin / admin", "annotator / annotator", "mlteam / mlteam (ML team)"):
        assert login in banner


def test_it_leaves_an_existing_demo_user_alone():
    User.objects.create_user("admin", password="changed-since")
    seed("--identities", "1", "--prompts", "1", "--size", "32", "--frames", "2")
    admin = User.objects.get(username="admin")
    assert admin.check_password("changed-since")
    assert not admin.is_superuser


def test_it_refuses_an_odd_size_with_a_clear_message():
    with pytest.raises(CommandError, match="even"):
        seed("--size", "63")
    assert not Video.objects.exists()


def test_it_sets_up_one_track_of_each_kind_for_the_demo_annotator_and_an_open_study():
    seed("--identities", "1", "--prompts", "1", "--size", "32", "--frames", "2")
    from annotate.models import Track, TrackItem
    from studies.models import Study

    tracks = Track.objects.order_by("kind")
    assert [t.kind for t in tracks] == ["identity_consistency", "identity_fidelity", "prompt_controllability"]
    for track in tracks:
        assert list(track.annotators.values_list("username", flat=True)) == ["annotator"]
        # C(3 methods, 2) clip pairs; a narrative track: ours' and the baseline's rendering of each story.
        assert TrackItem.objects.filter(track=track).count() == (2 if track.is_narrative else 3)
    assert Study.objects.get(public_slug="demo").status == Study.Status.OPEN
    stories = Study.objects.get(public_slug="demo-stories")
    assert stories.status == Study.Status.OPEN and stories.is_narrative and stories.stories.count() == 2


def test_with_votes_it_adds_simulated_judgments_and_leaves_work_for_a_person():
    output = seed("--identities", "1", "--prompts", "1", "--size", "32", "--frames", "2", "--with-votes")
    from annotate.models import Judgment, TrackItem
    from studies.models import Participant

    assert "Simulated:" in output
    assert Judgment.objects.filter(track__isnull=False).count() > 0
    assert Judgment.objects.filter(track__isnull=True, rater__excluded=False).count() > 0
    assert Participant.objects.filter(status=Participant.Status.WITHDRAWN).count() == 1
    for item in TrackItem.objects.select_related("track"):
        assert item.votes < item.track.votes_needed


def test_with_votes_the_demo_has_gold_and_repeats_answered_and_careless_raters():
    # The whole world at a tiny size: enough comparisons that each simulated annotator passes the ten
    # handouts a repeat waits for.
    output = seed("--size", "16", "--frames", "2", "--with-votes")
    from annotate.models import GoldAnswer, Judgment, Track
    from studies.models import Matchup, Participant, Study

    assert "Gold comparisons (known answer):" in output
    criteria = set(GoldAnswer.objects.values_list("criterion", flat=True))
    assert {"identity_fidelity", "prompt_controllability", "visual_quality"} <= criteria
    for track in Track.objects.all():
        assert track.gold_rate > 0 and track.repeat_rate > 0
        on_track = Judgment.objects.filter(track=track)
        if track.is_narrative:  # two stories: no gold (a clip's), and too few for a repeat's ten handouts
            assert on_track.exists()
            continue
        assert on_track.filter(is_gold=True).exists()
        assert on_track.filter(is_repeat=True, repeat_of__isnull=False).exists()
        raters = set(on_track.values_list("rater__user__username", flat=True))
        assert {"sim-careless-1", "sim-careless-2"} <= raters
    left = Judgment.objects.filter(rater__user__username="sim-careless-1", is_gold=False, is_repeat=False)
    assert left.exists() and all(j.choice == j.shown_left for j in left)  # always the left video
    study = Study.objects.get(public_slug="demo")
    assert study.gold_matchups_per_participant == 2 and study.repeat_matchups_per_participant == 2
    answered = Matchup.objects.filter(participant__study=study, answered_at__isnull=False)
    assert answered.filter(purpose=Matchup.Purpose.GOLD).exists()
    assert answered.filter(purpose=Matchup.Purpose.REPEAT).exists()
    assert Judgment.objects.filter(track__isnull=True, is_gold=True).exists()
    careless = Participant.objects.filter(study=study).exclude(crowd_hash="")
    assert careless.count() == 1

    seed("--size", "16", "--frames", "2", "--with-votes")  # a second run adds no second careless one
    assert Participant.objects.filter(study=study).exclude(crowd_hash="").count() == 1
    assert set(GoldAnswer.objects.values_list("criterion", flat=True)) == criteria


def test_the_world_has_distinct_people_half_men_half_women():
    assert len(world.IDENTITIES) >= 6
    assert len({identity.slug for identity in world.IDENTITIES}) == len(world.IDENTITIES)
    assert len({identity.look for identity in world.IDENTITIES}) == len(world.IDENTITIES)
    subjects = [identity.subject for identity in world.IDENTITIES]
    assert subjects.count("man") == subjects.count("woman")


def test_prompts_are_written_in_the_seven_aspect_order():
    seed("--identities", "1", "--size", "32", "--frames", "2")
    prompts = list(Prompt.objects.filter(story_shots__isnull=True))
    assert len(prompts) >= 10
    differential = [prompt for prompt in prompts if prompt.task == Prompt.Task.DIFFERENTIAL]
    assert 2 <= len(prompts) - len(differential) < len(differential)
    assert len({tuple(prompt.omitted_aspects) for prompt in differential}) >= 3
    for prompt in prompts:
        texts = [getattr(prompt, aspect) for aspect in ("shot", "hairstyle", "clothing", "accessories")]
        texts += [prompt.expression, prompt.action, prompt.setting]
        positions = [prompt.full_text.lower().index(text.lower()) for text in texts]
        assert positions == sorted(positions)
        for aspect in prompt.omitted_aspects:
            assert aspect in KEPT_ELEMENT_ASPECTS
            assert getattr(prompt, aspect).lower() not in prompt.differential_text.lower()
        if prompt.task == Prompt.Task.FULL:
            assert prompt.omitted_aspects == [] and prompt.differential_text == prompt.full_text


def test_it_queues_the_metrics_of_its_videos_as_a_catalog_run(
    metrics_queue, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        output = seed("--identities", "1", "--prompts", "1", "--size", "32", "--frames", "2")

    run = MetricRun.objects.get()
    videos = set(Video.objects.of_methods().values_list("pk", flat=True))
    assert f"Metrics: run {run.pk} queued over {len(videos)} videos" in output
    assert {args[0] for _, args in queued_tasks(metrics_queue)} == videos

    for video in videos:
        video_metrics_compute(video_id=video)
    assert MetricRun.objects.get().status == MetricRun.Status.DONE
    assert "Metrics:" not in seed("--identities", "1", "--prompts", "1", "--size", "32", "--frames", "2")
    assert MetricRun.objects.count() == 1  # every video has its metrics: no second run
