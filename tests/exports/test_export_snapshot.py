"""The snapshot as files: reproducible bytes, nobody excluded anywhere, adapters, loaders, media."""

from __future__ import annotations

import csv
import hashlib
import json
import os
from pathlib import Path

import pandas as pd
import pytest
import yaml

from exports.build import export_build
from exports.options import ExportOptions
from exports.read import rater_public_id
from exports.write import write_archive
from generation.models import Reference, Video
from tests.exports.export_world import World, build_world

CRITERIA = ("identity_fidelity", "prompt_controllability", "visual_quality")


@pytest.fixture
def world(db: None, tmp_path: Path) -> World:
    return build_world(tmp_path)


def export(tmp_path: Path, name: str = "out", **options: object) -> Path:
    return export_build(options=ExportOptions(**options), out_dir=tmp_path / name).path  # type: ignore[arg-type]


def file_hashes(root: Path) -> dict[str, str]:
    return {
        path.relative_to(root).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


def readable_text(path: Path) -> str:
    """A file's content as text: Parquet decoded (its pages are compressed), everything else as is."""
    if path.suffix == ".parquet":
        return pd.read_parquet(path).to_csv()
    return path.read_text(encoding="utf-8")


@pytest.mark.parametrize("schema", [1, 2])
def test_two_exports_of_the_same_data_have_identical_sha256_for_every_file(
    world: World, tmp_path: Path, schema: int
) -> None:
    options = {
        "joint_criteria": ("identity_fidelity", "prompt_controllability"),
        "media": "copy",
        "schema": schema,
    }
    first = file_hashes(export(tmp_path, "first", **options))
    second = file_hashes(export(tmp_path, "second", **options))
    assert first == second
    assert "manifest.json" in first and "README.md" in first
    manifest = json.loads((tmp_path / "first/manifest.json").read_text())
    listed = {path: entry["sha256"] for path, entry in manifest["files"].items()}
    assert listed == {path: digest for path, digest in first.items() if path != "manifest.json"}
    if schema == 2:  # every schema-2 adapter is among the files compared
        folders = {"/".join(path.split("/")[:2]) for path in first if path.startswith("adapters/")}
        assert folders == {f"adapters/{a}" for a in ("videoalign", "dpo", "videodpo", "judge", "rl_prompts")}
        for adapter in ("videoalign", "dpo", "videodpo", "judge"):
            assert {p.split("/")[2] for p in first if p.startswith(f"adapters/{adapter}/")} == {
                *CRITERIA,
                "joint",
            }
        assert "adapters/rl_prompts/videos2caption.json" in first
        assert "data/leaderboard.parquet" in first
        assert "data/metrics.parquet" in first


def test_the_archive_of_a_snapshot_is_byte_identical_too(world: World, tmp_path: Path) -> None:
    out = export(tmp_path)
    write_archive(out, tmp_path / "one.tar.gz", mtime=1_700_000_000)
    os.utime(out / "README.md", (0, 0))  # file times must not leak into the archive
    write_archive(out, tmp_path / "two.tar.gz", mtime=1_700_000_000)
    assert (tmp_path / "one.tar.gz").read_bytes() == (tmp_path / "two.tar.gz").read_bytes()


def test_withdrawn_participants_and_excluded_raters_appear_in_no_file(world: World, tmp_path: Path) -> None:
    out = export(tmp_path, media="copy", joint_criteria=("identity_fidelity", "visual_quality"))
    eve = world.identities["eve"]
    forbidden = [rater_public_id(world.raters[name].pk) for name in ("ux", "p2")]
    forbidden += list(Video.objects.filter(identity=eve).values_list("sha256", flat=True))
    forbidden += list(Reference.objects.filter(identity=eve).values_list("sha256", flat=True))
    files = [p for p in out.rglob("*") if p.is_file() and not p.is_relative_to(out / "media")]
    assert len(files) > 20
    for path in files:
        text = readable_text(path)
        for token in forbidden:
            assert token not in text, f"{token} found in {path.relative_to(out)}"
    assert {p.name.split(".")[0] for p in (out / "media").iterdir()}.isdisjoint(forbidden)
    votes = pd.read_parquet(out / "data/votes.parquet")
    assert set(votes["judgment_id"]).isdisjoint(world.excluded_judgments)
    for name in ("data/videos.parquet", "data/references.parquet", "data/pairs/train.parquet"):
        assert eve.pk not in set(pd.read_parquet(out / name)["identity_id"]), name


def test_rater_ids_are_salted_hashes_never_keys_or_names(world: World, tmp_path: Path, settings) -> None:
    first = set(pd.read_parquet(export(tmp_path, "first") / "data/votes.parquet")["rater_id"])
    assert first == {rater_public_id(world.raters[name].pk) for name in ("u1", "u2", "u3", "p1")}
    settings.IDENTITY_HASH_SALT = "another salt"
    second = set(pd.read_parquet(export(tmp_path, "second") / "data/votes.parquet")["rater_id"])
    assert first.isdisjoint(second)


def test_the_schema_1_videoalign_adapter_has_exactly_the_specified_columns(
    world: World, tmp_path: Path
) -> None:
    out = export(tmp_path, split=(1.0, 0.0, 0.0), schema=1)
    with open(out / "adapters/videoalign/train.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0]) == [
        "path_A",
        "path_B",
        "prompt",
        *CRITERIA,
        "fps_A",
        "num_frames_A",
        "fps_B",
        "num_frames_B",
    ]
    assert {r[c] for r in rows for c in CRITERIA} <= {"A", "B", "same", ""}
    ada1 = world.comparisons["ada1"]
    first = next(
        r
        for r in rows
        if r["path_A"] == f"media/{ada1.video_a.sha256}.mp4"
        and r["path_B"].endswith(f"{ada1.video_b.sha256}.mp4")
    )
    labels = (first["identity_fidelity"], first["prompt_controllability"], first["visual_quality"])
    assert labels == ("A", "B", "A")
    assert first["prompt"] == "On a beach."  # the differential prompt raters read
    assert (float(first["fps_A"]), int(first["num_frames_A"])) == (8.0, 4)


def test_the_schema_1_dpo_adapter_has_exactly_its_columns_and_leaves_ties_out(
    world: World, tmp_path: Path
) -> None:
    out = export(tmp_path, split=(1.0, 0.0, 0.0), schema=1)
    frame = pd.read_parquet(out / "adapters/dpo_pairs/identity_fidelity/train.parquet")
    assert list(frame.columns) == ["caption", "video_0", "video_1", "label_0", "label_1"]
    # Seven comparisons with fidelity votes; ben1 and ben2 are ties.
    assert len(frame) == 5
    assert set(frame["label_0"]) <= {0.0, 1.0}
    assert (frame["label_0"] + frame["label_1"] == 1.0).all()


def test_the_schema_1_trl_adapter_has_exactly_its_keys(world: World, tmp_path: Path) -> None:
    out = export(
        tmp_path,
        split=(1.0, 0.0, 0.0),
        joint_criteria=("identity_fidelity", "prompt_controllability"),
        schema=1,
    )
    lines = (out / "adapters/trl/train.jsonl").read_text().splitlines()
    records = [json.loads(line) for line in lines]
    assert {tuple(r) for r in records} == {("prompt", "chosen", "rejected", "criterion")}
    assert {r["criterion"] for r in records} == {*CRITERIA, "joint"}
    ada2 = world.comparisons["ada2"]
    fidelity = next(
        r for r in records if r["criterion"] == "identity_fidelity" and ada2.video_a.sha256 in r["rejected"]
    )
    assert fidelity["chosen"] == f"media/{ada2.video_b.sha256}.mp4"  # B won ada2


def test_every_parquet_file_loads_with_pandas(world: World, tmp_path: Path) -> None:
    out = export(tmp_path, joint_criteria=("identity_fidelity",))
    for path in out.rglob("*.parquet"):
        pd.read_parquet(path)


def test_a_schema_1_snapshot_loads_with_datasets(
    world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    datasets = pytest.importorskip("datasets")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    out = export(tmp_path, split=(0.5, 0.25, 0.25), schema=1)
    cache = str(tmp_path / "hf-cache")
    splits = {s: str(out / f"data/pairs/{s}.parquet") for s in ("train", "validation", "test")}
    pairs = datasets.load_dataset("parquet", data_files=splits, cache_dir=cache)
    assert sum(len(pairs[s]) for s in pairs) == 7
    votes = datasets.load_dataset("parquet", data_files=str(out / "data/votes.parquet"), cache_dir=cache)
    assert len(votes["train"]) == 23
    # The dataset card's YAML configs, as the Hub reads them.
    by_config = datasets.load_dataset(str(out), "pairs", cache_dir=cache)
    assert sum(len(by_config[s]) for s in by_config) == 7
    raters = datasets.load_dataset(str(out), "raters", cache_dir=cache)
    assert len(raters["train"]) == 4 and raters["train"].column_names[:2] == ["rater_id", "kind"]
    dpo = datasets.load_dataset(str(out), "dpo_identity_fidelity", cache_dir=cache)
    assert dpo["train"].column_names == ["caption", "video_0", "video_1", "label_0", "label_1"]
    trl_file = str(out / "adapters/trl/train.jsonl")
    trl = datasets.load_dataset("json", data_files={"train": trl_file}, cache_dir=cache)
    assert trl["train"].column_names == ["prompt", "chosen", "rejected", "criterion"]
    videoalign = datasets.load_dataset(
        "csv", data_files={"train": str(out / "adapters/videoalign/train.csv")}, cache_dir=cache
    )
    assert videoalign["train"].column_names[:3] == ["path_A", "path_B", "prompt"]


def test_media_are_copied_under_their_sha256(world: World, tmp_path: Path) -> None:
    out = export(tmp_path, media="copy")
    video = world.comparisons["ada1"].video_a
    copied = out / f"media/{video.sha256}.mp4"
    assert hashlib.sha256(copied.read_bytes()).hexdigest() == video.sha256
    reference = world.identities["ada"].references.first()
    assert (out / f"media/{reference.sha256}.png").is_file()


def test_media_can_be_linked_instead_of_copied(world: World, tmp_path: Path) -> None:
    out = export(tmp_path, media="link")
    video = world.comparisons["ada1"].video_a
    assert (out / f"media/{video.sha256}.mp4").is_symlink()


def test_the_manifest_records_filters_sources_and_counts(world: World, tmp_path: Path) -> None:
    out = export(
        tmp_path, min_votes=2, min_majority=0.6, keep_ties=False, exclude_raters=("u3",), split_seed=9
    )
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["schema_version"] == 2  # the default
    assert manifest["created_at"] == "2026-03-01T12:24:00Z"  # the newest exported judgment
    assert manifest["filters"] == {
        "tracks": [],
        "studies": [],
        "criteria": [],
        "min_votes": 2,
        "min_majority": 0.6,
        "keep_ties": False,
        "split": {"train": 0.8, "validation": 0.1, "test": 0.1},
        "split_seed": 9,
        "media": "none",
        "joint_criteria": [],
        "joint_rule": "all",
        "excluded_raters": 1,
    }
    assert [t["name"] for t in manifest["sources"]["tracks"]] == ["fidelity", "control"]
    assert [s["id"] for s in manifest["sources"]["studies"]] == [world.study_id]
    assert manifest["counts"]["votes"] == 23 - 4  # u3 gave four of them
    card = (out / "README.md").read_text()
    front = yaml.safe_load(card.split("---\n")[1])
    assert front["configs"][0] == {
        "config_name": "pairs",
        "default": True,
        "data_files": [
            {"split": "train", "path": "data/pairs/train.parquet"},
            {"split": "validation", "path": "data/pairs/validation.parquet"},
            {"split": "test", "path": "data/pairs/test.parquet"},
        ],
    }
    assert "departs from the format" in card


def test_schema_1_is_still_written_when_asked_and_the_manifest_says_which(
    world: World, tmp_path: Path
) -> None:
    manifest = json.loads((export(tmp_path, schema=1) / "manifest.json").read_text())
    assert manifest["schema_version"] == 1
    assert "schema" not in manifest["filters"]
