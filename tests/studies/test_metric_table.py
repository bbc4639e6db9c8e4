"""The paper table: metric means with t intervals, win rates, best in bold, CSV and LaTeX."""

from __future__ import annotations

import csv
import io

import numpy as np
import pytest
from django.urls import reverse
from scipy import stats

from generation.models import Method
from studies.metric_table import paper_table, paper_table_csv, paper_table_latex
from studies.rankings import RankingScope
from tests.factories import make_video_metric
from tests.studies.conftest import fake_video
from tests.studies.metric_world import TABLE, MetricWorld, build_metric_world, value_of

pytestmark = pytest.mark.django_db

URL = "/manage/metrics/agreement/table/"


@pytest.fixture
def world() -> MetricWorld:
    return build_metric_world()


def scope(world: MetricWorld) -> RankingScope:
    return RankingScope(tracks=(world.track.pk,))


def values_of(method: str) -> list[float]:
    found = []
    for method_a, method_b, value_a, value_b, *_ in TABLE.values():
        for m, v in ((method_a, value_of(value_a)), (method_b, value_of(value_b))):
            if m == method and v is not None:
                found.append(v)
    return found


def win_rate_of(method: str, among: set[str]) -> tuple[float, int]:
    """Wins (ties half) over judgments against the other methods of ``among``, from TABLE's votes."""
    won = judgments = 0.0
    for method_a, method_b, _, _, n_a, n_b, n_tie in TABLE.values():
        if {method_a, method_b} <= among and method in (method_a, method_b):
            mine, theirs = (n_a, n_b) if method == method_a else (n_b, n_a)
            won += mine + n_tie / 2
            judgments += mine + theirs + n_tie
    return won / judgments, int(judgments)


def test_each_mean_comes_with_the_scipy_t_interval_over_the_methods_videos(world):
    table = paper_table(scope=scope(world), methods=None)

    assert table.methods == ["bad", "good", "mid"]
    (column,) = [c for c in table.metrics if c.source.spec.name == "face_identity"]
    for method, cell in zip(table.methods, column.cells, strict=True):
        values = np.array(values_of(method))
        low, high = stats.t.interval(0.95, len(values) - 1, loc=values.mean(), scale=stats.sem(values))
        assert cell is not None and cell.n == len(values)
        assert (cell.mean, cell.low, cell.high) == pytest.approx((values.mean(), low, high))


def test_the_best_mean_follows_the_metrics_direction(world):
    for pair in world.videos.values():  # flicker: higher is worse, and "bad" flickers least
        for video in pair:
            value = {"good": 0.3, "mid": 0.2, "bad": 0.1}[video.method.name] + video.pk * 1e-6
            make_video_metric(video, "flicker", value)

    table = paper_table(scope=scope(world), methods=None)

    best = {
        column.source.spec.name: [m for m, c in zip(table.methods, column.cells, strict=True) if c and c.best]
        for column in table.metrics
    }
    assert best == {"face_identity": ["good"], "flicker": ["bad"]}


def test_win_rates_count_judgments_among_the_chosen_methods_ties_half(world):
    table = paper_table(scope=scope(world), methods=None)

    (rates,) = table.rates
    assert rates.criterion == "identity_fidelity"
    everyone = {"good", "mid", "bad"}
    for method, cell in zip(table.methods, rates.cells, strict=True):
        rate, n = win_rate_of(method, everyone)
        assert cell is not None and (cell.rate, cell.n) == (pytest.approx(rate), n)
        assert cell.low <= cell.rate <= cell.high
    assert [m for m, c in zip(table.methods, rates.cells, strict=True) if c and c.best] == ["good"]

    two = Method.objects.filter(name__in=["good", "bad"]).order_by("name")
    chosen = paper_table(scope=scope(world), methods=list(two))
    assert chosen.methods == ["bad", "good"]
    cell = chosen.rates[0].cells[1]
    rate, n = win_rate_of("good", {"good", "bad"})
    assert cell is not None and (cell.rate, cell.n) == (pytest.approx(rate), n) and n == 12


def test_all_videos_include_those_nobody_judged(world):
    good = world.methods["good"]
    spare = fake_video(
        method=good, identity=world.comparisons["c1"].identity, prompt=world.comparisons["c1"].prompt
    )
    make_video_metric(spare, "face_identity", 0.0)

    judged = paper_table(scope=scope(world), methods=[good], videos="judged").metrics[0].cells[0]
    every = paper_table(scope=scope(world), methods=[good], videos="all").metrics[0].cells[0]

    assert judged is not None and every is not None
    assert (judged.n, every.n) == (len(values_of("good")), len(values_of("good")) + 1)


def test_metrics_without_values_are_listed_with_the_reason(world):
    table = paper_table(scope=scope(world), methods=None)

    assert [c.source.spec.name for c in table.metrics] == ["face_identity"]
    assert {s.spec.name for s in table.missing} == {
        "identity_consistency", "dynamic_degree", "flicker", "text_alignment",
    }  # fmt: skip


def test_the_csv_has_every_number_and_marks_the_best(world):
    table = paper_table(scope=scope(world), methods=None)

    rows = list(csv.DictReader(io.StringIO(paper_table_csv(table))))

    assert [r["method"] for r in rows] == ["bad", "good", "mid"]
    good = rows[1]
    assert float(good["face_identity_mean"]) == pytest.approx(np.mean(values_of("good")), rel=1e-5)
    assert good["face_identity_best"] == "1" and rows[0]["face_identity_best"] == "0"
    assert int(good["identity_fidelity_judgments"]) == win_rate_of("good", {"good", "mid", "bad"})[1]
    assert float(good["identity_fidelity_low"]) <= float(good["identity_fidelity_win_rate"])


def test_the_latex_is_a_booktabs_tabular_with_the_best_in_bold_and_names_escaped(world):
    Method.objects.filter(name="mid").update(name="mid_50% & co")
    table = paper_table(scope=scope(world), methods=None)

    tex = paper_table_latex(table)

    assert (
        r"\begin{tabular}{lrr}" in tex and r"\toprule" in tex and r"\midrule" in tex and r"\bottomrule" in tex
    )
    assert r"Face identity $\downarrow$ & Identity fidelity (win \%) $\uparrow$ \\" in tex
    good = next(line for line in tex.splitlines() if line.startswith("good &"))
    assert rf"\textbf{{{np.mean(values_of('good')):.3f}}}" in good and r"{\scriptsize $\pm$" in good
    assert r"mid\_50\% \& co &" in tex


def test_the_page_shows_the_table_and_offers_both_downloads(admin_client, world):
    page = admin_client.get(URL, {"tracks": world.track.pk})

    assert page.status_code == 200
    html = page.content.decode()
    assert "<strong>0.3911</strong>" in html  # good's face identity, the lowest
    assert 'data-missing="text_alignment"' in html and "not comparable with the ArcFace" in html
    for fmt, kind in (("csv", "text/csv"), ("tex", "application/x-tex")):
        download = admin_client.get(
            reverse("metric_agreement:table_download", args=[fmt]), {"tracks": world.track.pk}
        )
        assert download.status_code == 200 and download["Content-Type"].startswith(kind)
        assert download["Content-Disposition"] == f'attachment; filename="metrics-table.{fmt}"'
    assert admin_client.get(reverse("metric_agreement:table_download", args=["xlsx"])).status_code == 404


@pytest.mark.parametrize(
    ("query", "status", "words"),
    [
        ({"methods": "one"}, 400, "“one” is not a method id"),
        ({"methods": "98765"}, 404, "No method with id 98765."),
        ({"videos": "some"}, 400, "Videos must be one of judged, all"),
        ({"studies": "x"}, 400, "“x” is not a study id"),
    ],
)
def test_bad_table_options_are_refused_with_what_is_wrong(admin_client, world, query, status, words):
    page = admin_client.get(URL, query)
    assert page.status_code == status and words in page.content.decode()
    download = admin_client.get(reverse("metric_agreement:table_download", args=["csv"]), query)
    assert download.status_code == status and words in download.content.decode()
