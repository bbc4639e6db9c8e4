"""Versions: an export records the earlier one it extends and what changed since (manifest and diff file)."""

from __future__ import annotations

import hashlib
import json
import tarfile
from pathlib import Path

import datasets
import numpy as np
import pandas as pd
import pytest
import yaml
from django.contrib.auth.models import Group, User
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from annotate.models import Judgment
from exports.build import export_build
from exports.models import ExportRun
from exports.options import ExportOptions
from exports.runs import export_run_archive_path, export_run_execute
from exports.tasks import export_run
from exports.versions import base_open
from studies.models import Participant
from studies.services import participant_withdraw
from tests.exports.export_world import World, build_world


@pytest.fixture
def world(db: None, tmp_path: Path, settings) -> World:
    settings.EXPORT_ROOT = tmp_path / "exports"
    return build_world(tmp_path)


def vote(world: World, key: str, rater: str, choice: str) -> Judgment:
    track = world.tracks["fidelity"]
    return Judgment.objects.create(
        comparison=world.comparisons[key],
        criterion=track.criterion,
        choice=choice,
        shown_left="A",
        rater=world.raters[rater],
        track=track,
        response_ms=1200,
    )


def hashes(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def manifest_of(root: Path) -> dict:
    return json.loads((root / "manifest.json").read_text())


def configs_of(root: Path) -> dict[str, list]:
    front = (root / "README.md").read_text().split("---\n")[1]
    return {c["config_name"]: c["data_files"] for c in yaml.safe_load(front)["configs"]}


@pytest.fixture
def changed(world: World, tmp_path: Path) -> dict:
    """A first export, then: two votes added (one on a pair never voted on, one that turns ada3's label
    from A to tie), participant p1 withdrawn (their two visual_quality answers go), and the only vote on
    cid2 deleted (the pair goes)."""
    only_on_cid2 = vote(world, "cid2", "u3", "A")
    first = export_build(options=ExportOptions(name="v1"), out_dir=tmp_path / "v1").path
    added = [vote(world, "ada3", "u2", "B").pk, vote(world, "ben3", "u1", "A").pk]
    p1 = Participant.objects.get(rater=world.raters["p1"])
    withdrawn = sorted(Judgment.objects.filter(rater=world.raters["p1"]).values_list("pk", flat=True))
    participant_withdraw(participant=p1)
    deleted = only_on_cid2.pk
    only_on_cid2.delete()
    return {"first": first, "added": added, "removed": sorted([*withdrawn, deleted])}


def test_a_first_export_extends_nothing_and_has_no_diff_file(world: World, tmp_path: Path) -> None:
    out = export_build(options=ExportOptions(), out_dir=tmp_path / "out").path
    manifest = manifest_of(out)
    assert manifest["extends"] is None and manifest["diff"] is None
    assert not (out / "data/diff.parquet").exists()
    assert "diff" not in configs_of(out)
    assert "This is a first export" in (out / "README.md").read_text()


def test_an_extending_export_counts_and_lists_exactly_what_changed(
    world: World, changed: dict, tmp_path: Path
) -> None:
    call_command("export_preferences", out=tmp_path / "v2", name="v2", extends=changed["first"])
    out = tmp_path / "v2"
    manifest = manifest_of(out)
    old_bytes = (changed["first"] / "manifest.json").read_bytes()
    assert manifest["extends"] == {
        "name": "v1",
        "created_at": manifest_of(changed["first"])["created_at"],
        "schema_version": 2,
        "manifest_sha256": hashlib.sha256(old_bytes).hexdigest(),
        "run": None,
    }
    assert manifest["diff"] == {
        "judgments_added": 2,
        "judgments_removed": 3,
        "pairs_added": 1,
        "pairs_removed": 1,
        "labels_changed": {"identity_fidelity": 1, "prompt_controllability": 0, "visual_quality": 2},
    }
    c = {key: comparison.pk for key, comparison in world.comparisons.items()}
    rows = pd.read_parquet(out / "data/diff.parquet")
    got = [tuple(None if pd.isna(v) else v for v in row) for row in rows.itertuples(index=False)]
    assert got == [
        ("judgment_added", changed["added"][0], c["ada3"], "identity_fidelity", None, None),
        ("judgment_added", changed["added"][1], c["ben3"], "identity_fidelity", None, None),
        *sorted(
            [
                ("judgment_removed", changed["removed"][0], c["ada1"], "visual_quality", None, None),
                ("judgment_removed", changed["removed"][1], c["ben1"], "visual_quality", None, None),
                ("judgment_removed", changed["removed"][2], c["cid2"], "identity_fidelity", None, None),
            ],
            key=lambda row: row[2],
        ),
        ("pair_added", None, c["ben3"], None, None, None),
        ("pair_removed", None, c["cid2"], None, None, None),
        ("label_changed", None, c["ada1"], "visual_quality", "A", "none"),
        ("label_changed", None, c["ada3"], "identity_fidelity", "A", "tie"),
        ("label_changed", None, c["ben1"], "visual_quality", "B", "none"),
    ]
    assert configs_of(out)["diff"] == [{"split": "train", "path": "data/diff.parquet"}]
    loaded = datasets.load_dataset(str(out), "diff", cache_dir=str(tmp_path / "hf-cache"))
    assert len(loaded["train"]) == 10 and loaded["train"].column_names[:2] == ["kind", "judgment_id"]
    assert "2 judgments added, 3 removed" in (out / "README.md").read_text()


def test_an_extending_export_is_byte_identical_on_a_rerun(
    world: World, changed: dict, tmp_path: Path
) -> None:
    base = base_open(changed["first"])
    one = export_build(options=ExportOptions(name="v2"), out_dir=tmp_path / "one", extends=base).path
    two = export_build(options=ExportOptions(name="v2"), out_dir=tmp_path / "two", extends=base).path
    assert hashes(one) == hashes(two)
    assert "data/diff.parquet" in manifest_of(one)["files"]


def test_extending_an_export_made_with_other_options_is_refused_naming_them(
    world: World, tmp_path: Path
) -> None:
    export_build(options=ExportOptions(min_votes=2, split_seed=3), out_dir=tmp_path / "old")
    with pytest.raises(CommandError) as refused:
        call_command("export_preferences", out=tmp_path / "new", extends=tmp_path / "old", split_seed=3)
    assert "--extends" in str(refused.value) and "min_votes (2 there, 1 here)" in str(refused.value)
    assert "split_seed" not in str(refused.value)
    assert not (tmp_path / "new").exists()


def test_extending_a_folder_that_is_not_a_snapshot_is_refused(world: World, tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(CommandError, match=r"--extends: .*no manifest\.json"):
        call_command("export_preferences", out=tmp_path / "new", extends=tmp_path / "empty")


def test_the_name_and_the_schema_may_differ_from_the_export_extended(world: World, tmp_path: Path) -> None:
    old = export_build(options=ExportOptions(name="old", schema=1), out_dir=tmp_path / "old").path
    vote(world, "ada3", "u2", "A")
    call_command("export_preferences", out=tmp_path / "new", name="new", extends=old)
    manifest = manifest_of(tmp_path / "new")
    assert manifest["extends"]["schema_version"] == 1
    assert (
        manifest["diff"]["judgments_added"] == 1
        and manifest["diff"]["labels_changed"]["identity_fidelity"] == 0
    )


def run(options: ExportOptions) -> ExportRun:
    done = export_run_execute(run_id=ExportRun.objects.create(options=options.to_json()).pk)
    assert done is not None and done.status == ExportRun.Status.DONE, done and done.error
    return done


def archived_manifest(run: ExportRun) -> dict:
    archive = export_run_archive_path(run=run)
    assert archive is not None
    with tarfile.open(archive) as tar:
        member = tar.extractfile(f"{run.options['name']}/manifest.json")
        assert member is not None
        return json.loads(member.read())


def test_a_run_extends_the_newest_finished_run_with_the_same_options_only(world: World) -> None:
    first = run(ExportOptions(name="first"))
    other = run(ExportOptions(name="other", min_votes=2))
    vote(world, "ada3", "u2", "B")
    latest = run(ExportOptions(name="latest"))
    assert first.extends is None and other.extends is None
    assert latest.extends_id == first.pk
    manifest = archived_manifest(latest)
    assert manifest["extends"]["run"] == first.pk and manifest["extends"]["name"] == "first"
    assert manifest["diff"]["judgments_added"] == 1
    assert manifest["diff"]["labels_changed"]["identity_fidelity"] == 1
    assert run(ExportOptions(name="again", min_votes=2)).extends_id == other.pk


def test_a_run_whose_earlier_archive_is_gone_extends_the_one_before(world: World) -> None:
    first = run(ExportOptions(name="first"))
    second = run(ExportOptions(name="second"))
    assert second.extends_id == first.pk
    archive = export_run_archive_path(run=second)
    assert archive is not None
    archive.unlink()
    assert run(ExportOptions(name="third")).extends_id == first.pk


@pytest.fixture
def ml_api(db: None) -> APIClient:
    user = User.objects.create_user("ml-person")
    user.groups.add(Group.objects.get_or_create(name="ML team")[0])
    client = APIClient()
    client.force_authenticate(user)
    return client


def test_a_run_started_through_the_api_extends_the_previous_one_and_says_so(
    world: World, ml_api: APIClient, admin_client: Client, django_capture_on_commit_callbacks
) -> None:
    first = run(ExportOptions(name="first"))
    with django_capture_on_commit_callbacks(execute=False):
        response = ml_api.post("/api/exports/", {"name": "second"}, format="json")
    assert response.status_code == 202 and response.json()["extends"] is None  # chosen when it runs
    second = ExportRun.objects.get(pk=response.json()["id"])
    export_run.apply(args=[second.pk])  # what the worker does with the queued task
    assert ml_api.get(f"/api/exports/{second.pk}/").json()["extends"] == first.pk
    assert ml_api.get(f"/api/exports/{first.pk}/").json()["extends"] is None
    detail = admin_client.get(reverse("exports:detail", args=[second.pk])).content.decode()
    assert f"export #{first.pk}</a>" in detail
    listing = admin_client.get(reverse("exports:list")).content.decode()
    assert f"extends #{first.pk}" in listing


def test_extending_an_unchanged_export_writes_an_empty_but_valid_diff_that_the_card_leaves_out(
    world: World, tmp_path: Path
) -> None:
    old = export_build(options=ExportOptions(), out_dir=tmp_path / "old").path
    call_command("export_preferences", out=tmp_path / "new", extends=old)
    out = tmp_path / "new"
    assert manifest_of(out)["diff"] == {
        "judgments_added": 0,
        "judgments_removed": 0,
        "pairs_added": 0,
        "pairs_removed": 0,
        "labels_changed": {"identity_fidelity": 0, "prompt_controllability": 0, "visual_quality": 0},
    }
    rows = pd.read_parquet(out / "data/diff.parquet")
    assert len(rows) == 0
    assert list(rows.columns) == [
        "kind",
        "judgment_id",
        "comparison_id",
        "criterion",
        "old_label",
        "new_label",
    ]
    assert "diff" not in configs_of(out)


def test_the_judgments_of_a_new_snapshot_are_found_in_the_old_in_any_order() -> None:
    from exports.versions import _rows_in

    old = np.array([7, 3, 9, 1])  # not in id order: looked up through a sort
    assert _rows_in(old, np.array([9, 2, 1, 7, 10])).tolist() == [2, -1, 3, 0, -1]
    assert _rows_in(np.sort(old), np.array([3, 8])).tolist() == [1, -1]
    assert _rows_in(np.zeros(0, dtype=np.int64), np.array([5])).tolist() == [-1]
