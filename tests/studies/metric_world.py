"""Comparisons whose people's majority and metric preference are set by hand, for the agreement tests.

Each comparison has two videos of its own (so each value belongs to one comparison), of three methods:
"good" (people prefer it), "mid" and "bad". The metric is face identity (lower is better) and the criterion
identity fidelity. Per comparison: (A's method, B's method, A's value, B's value, votes A, B, tie):

    key  A     B     value A  value B   votes      people  metric  outcome           margin × gap
    c1   good  bad   0.30     0.70      3 0 0      A       A       agrees
    c2   good  mid   0.35     0.50      2 1 0      A       A       agrees
    c3   mid   bad   0.45     0.60      2 0 0      A       A       agrees
    c4   good  bad   0.62     0.40      3 0 0      A       B       disagrees         1 × 0.22 = 0.22
    c5   mid   bad   0.55     0.52      2 1 0      A       B       disagrees         1/3 × 0.03 = 0.01
    c6   good  mid   0.50     0.20      4 1 0      A       B       disagrees         3/5 × 0.30 = 0.18
    c7   good  mid   0.40     0.50      1 1 1      —       A       undecided
    c8   mid   bad   0.50     0.60      0 0 2      —       A       undecided (ties only)
    c9   good  bad   0.30     none      2 0 0      A       —       missing (no row)
    c10  good  mid   no face  0.45      0 2 0      B       —       missing (no face)
    c11  mid   bad   0.40     0.40      2 0 0      A       tie     metric tie
    c12  good  bad   0.25     0.80      1 0 0      A       A       agrees
    c13  mid   good  0.30     0.50      0 2 0      B       A       disagrees         1 × 0.20 = 0.20
    c14  bad   good  0.90     0.30      0 3 0      B       B       agrees

Compared: c1–c6, c12–c14 (9), agreeing 5. Gaps sorted: 0.03 (c5 ✗), 0.15 (c2 ✓), 0.15 (c3 ✓) | 0.20 (c13 ✗),
0.22 (c4 ✗), 0.30 (c6 ✗) | 0.40 (c1 ✓), 0.55 (c12 ✓), 0.60 (c14 ✓): three quantile bins agree 2/3, 0/3, 3/3.
Disagreements by margin × gap: c4, c13, c6, c5.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth.models import User

from annotate.models import Comparison, Judgment, Rater, Track
from generation.models import Method, Video
from tests.factories import IdentityFactory, MethodFactory, PromptFactory, make_video_metric
from tests.studies.conftest import fake_video

NO_FACE = "no face"
TABLE: dict[str, tuple[str, str, float | str | None, float | str | None, int, int, int]] = {
    "c1": ("good", "bad", 0.30, 0.70, 3, 0, 0),
    "c2": ("good", "mid", 0.35, 0.50, 2, 1, 0),
    "c3": ("mid", "bad", 0.45, 0.60, 2, 0, 0),
    "c4": ("good", "bad", 0.62, 0.40, 3, 0, 0),
    "c5": ("mid", "bad", 0.55, 0.52, 2, 1, 0),
    "c6": ("good", "mid", 0.50, 0.20, 4, 1, 0),
    "c7": ("good", "mid", 0.40, 0.50, 1, 1, 1),
    "c8": ("mid", "bad", 0.50, 0.60, 0, 0, 2),
    "c9": ("good", "bad", 0.30, None, 2, 0, 0),
    "c10": ("good", "mid", NO_FACE, 0.45, 0, 2, 0),
    "c11": ("mid", "bad", 0.40, 0.40, 2, 0, 0),
    "c12": ("good", "bad", 0.25, 0.80, 1, 0, 0),
    "c13": ("mid", "good", 0.30, 0.50, 0, 2, 0),
    "c14": ("bad", "good", 0.90, 0.30, 0, 3, 0),
}
AGREEING = ("c1", "c2", "c3", "c12", "c14")
DISAGREEING_BY_WEIGHT = ("c4", "c13", "c6", "c5")
COMPARED = AGREEING + DISAGREEING_BY_WEIGHT
BINS_OF_THREE = [(3, 2), (3, 0), (3, 3)]  # (comparisons, agreeing) per quantile bin of the gap


@dataclass
class MetricWorld:
    track: Track
    methods: dict[str, Method]
    comparisons: dict[str, Comparison]
    videos: dict[str, tuple[Video, Video]]
    raters: list[Rater]


def build_metric_world(*, votes_on: str = "identity_fidelity") -> MetricWorld:
    methods = {name: MethodFactory(name=name) for name in ("good", "mid", "bad")}
    identity, prompt = IdentityFactory(), PromptFactory()
    track = Track.objects.create(name="fidelity", kind=Track.Kind.IDENTITY_FIDELITY)
    raters = [
        Rater.objects.create(kind=Rater.Kind.ANNOTATOR, user=User.objects.create_user(f"rater-{k}"))
        for k in range(5)
    ]
    comparisons, videos = {}, {}
    for key, (method_a, method_b, value_a, value_b, n_a, n_b, n_tie) in TABLE.items():
        # Made in this order, A's video has the lower id, as every comparison keeps them.
        video_a = fake_video(method=methods[method_a], identity=identity, prompt=prompt)
        video_b = fake_video(method=methods[method_b], identity=identity, prompt=prompt)
        comparison = Comparison.objects.create(
            video_a=video_a, video_b=video_b, identity=identity, prompt=prompt
        )
        comparisons[key], videos[key] = comparison, (video_a, video_b)
        for video, value in ((video_a, value_a), (video_b, value_b)):
            if value == NO_FACE:
                make_video_metric(video, "face_identity", status="no_face", note="no face on any frame")
            elif value is not None:
                make_video_metric(video, "face_identity", float(value))
        choices = ["A"] * n_a + ["B"] * n_b + ["tie"] * n_tie
        for rater, choice in zip(raters, choices, strict=False):
            Judgment.objects.create(
                comparison=comparison, criterion=votes_on, choice=choice, shown_left="A", rater=rater,
                track=track,
            )  # fmt: skip
    return MetricWorld(track, methods, comparisons, videos, raters)


def value_of(value: float | str | None) -> float | None:
    return value if isinstance(value, float) else None


def method_means() -> dict[str, float]:
    """Each method's mean face identity over its videos with a value, worked out from TABLE."""
    sums: dict[str, list[float]] = {}
    for method_a, method_b, value_a, value_b, *_ in TABLE.values():
        for method, value in ((method_a, value_of(value_a)), (method_b, value_of(value_b))):
            if value is not None:
                sums.setdefault(method, []).append(value)
    return {method: sum(values) / len(values) for method, values in sums.items()}
