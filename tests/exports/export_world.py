"""A small hand-made world of judgments whose export is computed by hand in the export tests.

Five identities with one prompt and three methods each: three comparisons per identity (A = the lower
video id, as in every comparison). Votes:

identity_fidelity (track "fidelity"):
    ada c1: u1 A, u2 A, u3 B            → 2/1/0, label A, p_a 2/3, share 2/3
    ada c2: u1 tie, u2 B, u3 B          → 0/2/1, label B, p_a 1/6, share 2/3
    ada c3: u1 A                        → 1/0/0, label A, p_a 1, share 1 (one vote only)
    ben c1: u1 A, u2 B                  → 1/1/0, label tie, p_a 1/2, share 1/2
    ben c2: u1 both_bad, u2 tie         → 0/0/2, label tie, p_a 1/2, share 1
    cid c1: u1 B, u2 B, u3 B            → 0/3/0, label B
    dee c1: u1 A, u2 A                  → 2/0/0, label A
prompt_controllability (track "control"):
    ada c1: u1 B, u2 B                  → 0/2/0, label B, p_a 0
    ada c2: u1 B, u2 B, u3 A            → 1/2/0, label B, p_a 1/3
visual_quality (study "study", participant P1):
    ada c1: A;  ben c1: B
Never exported:
    the excluded annotator ux: B on ada c1 (identity_fidelity), A on eve c1
    the withdrawn participant P2: B on ada c1 (visual_quality), B on eve c2
    so identity eve has no exported vote and must not appear at all.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from django.contrib.auth.models import User
from PIL import Image

from annotate.models import Comparison, Judgment, Rater, Track
from annotate.services import comparisons_build
from generation import services as catalog
from generation.models import Identity, Method, Prompt, Reference
from tests.factories import make_video

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@dataclass
class World:
    comparisons: dict[str, Comparison]
    tracks: dict[str, Track]
    raters: dict[str, Rater]
    study_id: int
    identities: dict[str, Identity]
    excluded_judgments: list[int] = field(default_factory=list)


def _reference(identity: Identity, tmp_path: Path, shade: int, *, primary: bool) -> Reference:
    path = tmp_path / f"ref-{identity.slug}-{shade}.png"
    # Distinct pixels per identity and shade: the catalog refuses two files with one sha256.
    Image.new("RGB", (24, 24), (shade, identity.pk % 256, 90)).save(path)
    return catalog.reference_create(
        identity=identity, kind=Reference.Kind.PORTRAIT, source=path, is_primary=primary, position=shade
    )


def build_world(tmp_path: Path) -> World:
    from studies.models import Answer, Matchup, Participant, Study

    methods = [
        Method.objects.create(name=f"m{i}", settings={"steps": 30, "guidance": 5.0, "scheduler": "unipc"})
        for i in (1, 2, 3)
    ]
    prompt = Prompt.objects.create(
        slug="beach",
        full_text="A person with red hair on a beach.",
        differential_text="On a beach.",
        omitted_aspects=["hairstyle"],
    )
    identities: dict[str, Identity] = {}
    comparisons: dict[str, Comparison] = {}
    for slug in ("ada", "ben", "cid", "dee", "eve"):
        identity = Identity.objects.create(slug=slug, name=slug.title(), consent_note="synthetic person")
        identities[slug] = identity
        _reference(identity, tmp_path, 10, primary=True)
        _reference(identity, tmp_path, 20, primary=False)
        videos = [
            make_video(method=m, identity=identity, prompt=prompt, seed=7, frames=4, size=32) for m in methods
        ]
        built = sorted(comparisons_build(videos=videos), key=lambda c: (c.video_a_id, c.video_b_id))
        for index, comparison in enumerate(built, start=1):
            comparisons[f"{slug}{index}"] = comparison

    # No password: hashing four of them would take longer than the rest of the world together.
    users = {name: User.objects.create_user(name) for name in ("u1", "u2", "u3", "ux")}
    raters = {
        name: Rater.objects.create(kind=Rater.Kind.ANNOTATOR, user=user) for name, user in users.items()
    }
    raters["ux"].excluded = True
    raters["ux"].save()
    tracks = {
        "fidelity": Track.objects.create(name="fidelity", kind=Track.Kind.IDENTITY_FIDELITY),
        "control": Track.objects.create(name="control", kind=Track.Kind.PROMPT_CONTROLLABILITY),
    }
    clock = iter(range(10_000))
    excluded_judgments: list[int] = []

    def vote(track: str, comparison: str, rater: str, choice: str) -> Judgment:
        judgment = Judgment.objects.create(
            comparison=comparisons[comparison],
            criterion=tracks[track].criterion,
            choice=choice,
            shown_left="A",
            rater=raters[rater],
            track=tracks[track],
            response_ms=1500,
            watched_a=1.0,
            watched_b=1.0,
            selection_probability=0.5,
        )
        # auto_now_add ignores a given time; fixed times keep the manifest's created_at predictable.
        Judgment.objects.filter(pk=judgment.pk).update(created_at=T0 + timedelta(minutes=next(clock)))
        return judgment

    for comparison, answers in {
        "ada1": {"u1": "A", "u2": "A", "u3": "B"},
        "ada2": {"u1": "tie", "u2": "B", "u3": "B"},
        "ada3": {"u1": "A"},
        "ben1": {"u1": "A", "u2": "B"},
        "ben2": {"u1": "both_bad", "u2": "tie"},
        "cid1": {"u1": "B", "u2": "B", "u3": "B"},
        "dee1": {"u1": "A", "u2": "A"},
    }.items():
        for rater, choice in answers.items():
            vote("fidelity", comparison, rater, choice)
    for comparison, answers in {
        "ada1": {"u1": "B", "u2": "B"},
        "ada2": {"u1": "B", "u2": "B", "u3": "A"},
    }.items():
        for rater, choice in answers.items():
            vote("control", comparison, rater, choice)
    excluded_judgments.append(vote("fidelity", "ada1", "ux", "B").pk)
    excluded_judgments.append(vote("fidelity", "eve1", "ux", "A").pk)

    study = Study.objects.create(name="study", ours=methods[0], instructions="Pick.", consent_text="OK?")
    for name, status, excluded in (("p1", "active", False), ("p2", "withdrawn", True)):
        rater = Rater.objects.create(kind=Rater.Kind.PARTICIPANT, excluded=excluded)
        raters[name] = rater
        participant = Participant.objects.create(study=study, rater=rater, status=status)
        answers = {"ada1": "A", "ben1": "B"} if name == "p1" else {"ada1": "B", "eve2": "B"}
        for position, (key, choice) in enumerate(answers.items()):
            comparison = comparisons[key]
            matchup = Matchup.objects.create(
                participant=participant,
                position=position,
                identity=comparison.identity,
                prompt=comparison.prompt,
                comparison=comparison,
                video_ids=[comparison.video_a_id, comparison.video_b_id],
            )
            picked = comparison.video_a if choice == "A" else comparison.video_b
            answer = Answer.objects.create(
                matchup=matchup, criterion="visual_quality", picked=0, picked_video=picked
            )
            judgment = Judgment.objects.create(
                comparison=comparison,
                criterion="visual_quality",
                choice=choice,
                shown_left="A",
                rater=rater,
                selection_policy="study_plan",
            )
            Judgment.objects.filter(pk=judgment.pk).update(created_at=T0 + timedelta(minutes=next(clock)))
            answer.judgments.add(judgment)
            if excluded:
                excluded_judgments.append(judgment.pk)
    return World(
        comparisons=comparisons,
        tracks=tracks,
        raters=raters,
        study_id=study.pk,
        identities=identities,
        excluded_judgments=excluded_judgments,
    )


@dataclass
class Checks:
    """What add_quality_checks stored: none of it may count in a pair, count, statistic or adapter."""

    gold: list[int]
    repeat: int
    repeat_of: int
    excluded_seat: list[int]
    excluded_rater: Rater


def add_quality_checks(world: World) -> Checks:
    """Gold and repeat judgments, and the votes of an annotator excluded on the fidelity track.

    Counted as votes, each would change a pair of export_world's hand-computed table:
    gold: u1 A and u2 B on eve1 (known answer A; eve has no vote of the dataset), u2 B on ada3 (known A);
    repeat: u1 B on ada1 (their vote was A, sides swapped);
    excluded seat u4 ("always Left"): A on cid1, B on dee1, A on eve1.
    """
    from annotate.models import GoldAnswer, TrackRaterDecision, TrackSeat

    fidelity = world.tracks["fidelity"]
    criterion = fidelity.criterion
    for key in ("eve1", "ada3"):
        GoldAnswer.objects.create(
            comparison=world.comparisons[key], criterion=criterion, answer="A", source=GoldAnswer.Source.ADMIN
        )

    def judge(key: str, rater: Rater, choice: str, **fields: object) -> Judgment:
        return Judgment.objects.create(
            comparison=world.comparisons[key],
            criterion=criterion,
            choice=choice,
            shown_left="B",
            rater=rater,
            track=fidelity,
            response_ms=900,
            **fields,
        )

    u1, u2 = world.raters["u1"], world.raters["u2"]
    gold = [
        judge("eve1", u1, "A", is_gold=True).pk,
        judge("eve1", u2, "B", is_gold=True).pk,
        judge("ada3", u2, "B", is_gold=True).pk,
    ]
    original = Judgment.objects.get(track=fidelity, rater=u1, comparison=world.comparisons["ada1"])
    repeat = judge("ada1", u1, "B", is_repeat=True, repeat_of=original)

    user = User.objects.create_user("u4")
    rater = Rater.objects.create(kind=Rater.Kind.ANNOTATOR, user=user)
    seat = TrackSeat.objects.create(track=fidelity, user=user, rater=rater, excluded=True)
    TrackRaterDecision.objects.create(seat=seat, action="exclude", reason="always Left")
    excluded = [judge(key, rater, choice).pk for key, choice in (("cid1", "A"), ("dee1", "B"), ("eve1", "A"))]
    return Checks(
        gold=gold, repeat=repeat.pk, repeat_of=original.pk, excluded_seat=excluded, excluded_rater=rater
    )
