"""The snapshot's automatic metrics: data/metrics.parquet, and the agreement figures in manifest and card."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pandas as pd
import pytest
import yaml
from scipy.stats import kendalltau
from statsmodels.stats.proportion import proportion_confint

from exports.build import export_build
from exports.options import ExportOptions
from generation.models import Video
from tests.exports.export_world import World, build_world
from tests.factories import make_video_metric

FACE = "face_identity"
COLUMNS = ["video_id", "name", "version", "definition", "model_hash", "settings", "status", "value", "note"]


@pytest.fixture
def world(db: None, tmp_path: Path) -> World:
    return build_world(tmp_path)


@pytest.fixture
def metrics(world: World) -> dict[str, object]:
    """Face identity of every video (lower for m1, higher for m3; dee's m2 video found no face), text
    alignment unavailable everywhere, an older definition of face identity on two videos only, and no
    flicker at all."""
    older = []
    for video in Video.objects.select_related("method").order_by("pk"):
        base = {"m1": 0.3, "m2": 0.5, "m3": 0.7}[video.method.name]
        if video.identity.slug == "dee" and video.method.name == "m2":
            make_video_metric(
                video, FACE, status="no_face", note="no face on any sampled frame", settings={"frames": 16}
            )
        else:
            make_video_metric(video, FACE, base + video.pk * 1e-4, settings={"frames": 16})
        make_video_metric(video, "text_alignment", status="unavailable", note="no local CLIP weights")
        if len(older) < 2:
            older.append(make_video_metric(video, FACE, 0.9, settings={"frames": 8}))
    return {"older": older[0].definition}


def export(tmp_path: Path, name: str = "out", **options: object) -> Path:
    return export_build(options=ExportOptions(schema=2, **options), out_dir=tmp_path / name).path  # type: ignore[arg-type]


def section(card: str, title: str) -> str:
    return card.split(f"## {title}")[1].split("\n## ")[0]


def test_the_metrics_file_has_one_row_per_exported_video_and_metric_of_one_definition(
    world: World, metrics: dict[str, object], tmp_path: Path
) -> None:
    out = export(tmp_path)

    table = pd.read_parquet(out / "data/metrics.parquet")
    exported = set(pd.read_parquet(out / "data/videos.parquet")["id"])
    assert list(table.columns) == COLUMNS
    assert set(table.video_id) == exported  # eve's videos are not exported, so neither are their metrics
    assert sorted(zip(table.video_id, table.name, strict=True)) == sorted(
        (video, name) for video in exported for name in (FACE, "text_alignment")
    )
    assert list(zip(table.video_id, table.name, strict=True)) == sorted(
        zip(table.video_id, table.name, strict=True)
    )
    face = table[table.name == FACE]
    assert metrics["older"] not in set(face.definition) and face.definition.nunique() == 1
    assert {json.dumps(json.loads(s)) for s in face.settings} == {'{"frames": 16}'}
    assert set(face.status) == {"computed", "no_face"}
    no_face = face[face.status == "no_face"].iloc[0]
    assert pd.isna(no_face.value) and no_face.note == "no face on any sampled frame"
    text = table[table.name == "text_alignment"]
    assert set(text.status) == {"unavailable"} and text.value.isna().all()


def test_the_agreement_figures_equal_those_worked_out_from_the_snapshots_own_files(
    world: World, metrics: dict[str, object], tmp_path: Path
) -> None:
    out = export(tmp_path)

    votes = pd.read_parquet(out / "data/votes.parquet")
    votes = votes[(votes.criterion == "identity_fidelity") & ~votes.is_gold & ~votes.is_repeat]
    pairs = pd.concat(pd.read_parquet(p) for p in sorted((out / "data/pairs").glob("*.parquet")))
    pairs = pairs.set_index("comparison_id")
    table = pd.read_parquet(out / "data/metrics.parquet")
    value = table[(table.name == FACE) & (table.status == "computed")].set_index("video_id")["value"]
    agree = n = undecided = missing = 0
    for comparison, group in votes.groupby("comparison_id"):
        a, b = (group.choice == "A").sum(), (group.choice == "B").sum()
        video_a, video_b = pairs.loc[comparison, "video_a_id"], pairs.loc[comparison, "video_b_id"]
        if a == b:
            undecided += 1
        elif video_a not in value.index or video_b not in value.index:
            missing += 1
        else:
            n += 1
            agree += ("A" if a > b else "B") == ("A" if value[video_a] < value[video_b] else "B")
    low, high = proportion_confint(agree, n, alpha=0.05, method="wilson")
    method = pd.read_parquet(out / "data/videos.parquet").set_index("id")["method"]
    judged = pd.unique(
        pairs.loc[votes.comparison_id.unique(), ["video_a_id", "video_b_id"]].to_numpy().ravel()
    )
    means = value[value.index.isin(judged)].groupby(method).mean()
    board = pd.read_parquet(out / "data/leaderboard.parquet").query("criterion == 'identity_fidelity'")
    scores = board.set_index("method")["score"]
    tau = kendalltau(scores[means.index], -means).statistic  # lower is better

    figures = json.loads((out / "manifest.json").read_text())["metrics"]["agreement"]["identity_fidelity"]
    assert (n, agree, undecided, missing) == (4, 2, 2, 1)  # export_world's table, dee1 without a value
    assert (figures["n"], figures["agree"], figures["undecided"], figures["missing"]) == (n, agree, 2, 1)
    assert figures["agreement"] == pytest.approx(agree / n, abs=1e-6)
    assert (figures["low"], figures["high"]) == pytest.approx((low, high), abs=1e-6)
    assert figures["tau"] == pytest.approx(tau, abs=1e-6) and figures["tau_methods"] == 3
    card = section((out / "README.md").read_text(), "Automatic metrics")
    line = next(row for row in card.splitlines() if row.startswith("| identity_fidelity | face_identity | "))
    assert f"{agree / n:.3f} ({low:.3f}–{high:.3f})" in line and f"{tau:.3f} (3 methods)" in line
    assert "not comparable with the ArcFace" in card


def test_a_metric_without_values_gives_its_reason_instead_of_numbers(
    world: World, metrics: dict[str, object], tmp_path: Path
) -> None:
    out = export(tmp_path)

    entry = json.loads((out / "manifest.json").read_text())["metrics"]
    control = entry["agreement"]["prompt_controllability"]
    quality = entry["agreement"]["visual_quality"]
    assert (
        "agreement" not in control
        and "unavailable on this installation: no local CLIP weights" in control["reason"]
    )
    assert quality["metric"] == "flicker" and "not been computed" in quality["reason"]
    assert set(entry["definitions"]) == {FACE, "text_alignment"}
    assert entry["definitions"][FACE]["settings"] == {"frames": 16}
    card = section((out / "README.md").read_text(), "Automatic metrics")
    assert (
        "| visual_quality | flicker | — (Flicker has not been computed for any video yet: run the metrics"
        in card
    )


def test_the_snapshot_lists_the_metrics_config_and_loads_it_with_datasets(
    world: World, metrics: dict[str, object], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    datasets = pytest.importorskip("datasets")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    out = export(tmp_path)

    front = yaml.safe_load((out / "README.md").read_text().split("---\n")[1])
    (config,) = [c for c in front["configs"] if c["config_name"] == "metrics"]
    assert config["data_files"] == [{"split": "train", "path": "data/metrics.parquet"}]
    loaded = datasets.load_dataset(str(out), "metrics", cache_dir=str(tmp_path / "hf-cache"))
    assert len(loaded["train"]) == len(pd.read_parquet(out / "data/metrics.parquet")) > 0
    assert loaded["train"].column_names == COLUMNS


def test_without_any_metric_the_file_is_empty_and_no_config_is_listed(world: World, tmp_path: Path) -> None:
    out = export(tmp_path)

    assert len(pd.read_parquet(out / "data/metrics.parquet")) == 0
    front = yaml.safe_load((out / "README.md").read_text().split("---\n")[1])
    assert "metrics" not in {c["config_name"] for c in front["configs"]}
    assert json.loads((out / "manifest.json").read_text())["metrics"]["rows"] == 0


def test_an_export_with_metrics_is_byte_identical_when_repeated(
    world: World, metrics: dict[str, object], tmp_path: Path
) -> None:
    def hashes(root: Path) -> dict[str, str]:
        return {
            p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*"))
            if p.is_file()
        }

    first, second = hashes(export(tmp_path, "first")), hashes(export(tmp_path, "second"))
    assert first == second and "data/metrics.parquet" in first


def test_a_schema_1_snapshot_has_no_metrics(world: World, metrics: dict[str, object], tmp_path: Path) -> None:
    out = export_build(options=ExportOptions(schema=1), out_dir=tmp_path / "one").path
    assert not (out / "data/metrics.parquet").exists()
    assert "metrics" not in json.loads((out / "manifest.json").read_text())
