"""Schema 2's adapters, each read the way its trainer reads it, every row joined back to the data."""

from __future__ import annotations

import csv
import functools
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

from exports import trainers, write
from exports.build import export_build
from exports.options import ExportOptions
from exports.trainers import ANSWERS, CONDITIONING, splitmix_coin, winner_first_balanced
from tests.exports.export_world import World, build_world

JOINT = ("identity_fidelity", "prompt_controllability")
CRITERIA = ("identity_fidelity", "prompt_controllability", "visual_quality", "joint")
CODES = {"identity_fidelity": "IF", "prompt_controllability": "PC", "visual_quality": "VQ", "joint": "J"}


@pytest.fixture
def world(db: None, tmp_path: Path) -> World:
    return build_world(tmp_path)


def export(tmp_path: Path, name: str = "out", **options: object) -> Path:
    return export_build(options=ExportOptions(**options), out_dir=tmp_path / name).path  # type: ignore[arg-type]


def data(out: Path) -> tuple[pd.DataFrame, set[str], set[str]]:
    pairs = pd.concat([pd.read_parquet(p) for p in sorted((out / "data/pairs").glob("*.parquet"))])
    videos = set(pd.read_parquet(out / "data/videos.parquet")["path"])
    references = set(pd.read_parquet(out / "data/references.parquet")["path"])
    return pairs.set_index("comparison_id"), videos, references


def path_of(world: World, key: str, side: str) -> str:
    video = getattr(world.comparisons[key], f"video_{side}")
    return f"media/{video.sha256}.mp4"


def test_videoalign_reads_one_csv_per_criterion_with_its_code_and_a_b_same(
    world: World, tmp_path: Path
) -> None:
    out = export(tmp_path, split=(1.0, 0.0, 0.0), joint_criteria=JOINT)
    pairs, videos, references = data(out)
    manifest = json.loads((out / "manifest.json").read_text())
    assert {c: manifest["adapters"]["codes"][c] for c in CRITERIA} == CODES
    for criterion, code in CODES.items():
        # VideoAlign: load_dataset("csv") — empty cells stay empty strings, never NaN words.
        frame = pd.read_csv(out / f"adapters/videoalign/{criterion}/train.csv", keep_default_na=False)
        assert list(frame.columns) == [
            "path_A", "path_B", "prompt", code, "fps_A", "num_frames_A", "fps_B", "num_frames_B",
            "comparison_id", "reference_paths", "conditioning_shown",
        ]  # fmt: skip
        assert set(frame[code]) <= {"A", "B", "same"} and len(frame) > 0
        assert set(frame["comparison_id"]) <= set(pairs.index)
        assert set(frame["path_A"]) | set(frame["path_B"]) <= videos
        for row in frame.itertuples():
            paths = row.reference_paths.split(";")
            assert set(paths) <= references and len(paths) == 2
            assert (row.path_A, row.path_B) == tuple(
                pairs.loc[row.comparison_id, ["video_a_path", "video_b_path"]]
            )
    fidelity = pd.read_csv(out / "adapters/videoalign/identity_fidelity/train.csv", keep_default_na=False)
    # Identity-fidelity annotators saw every reference and no prompt.
    assert set(fidelity["prompt"]) == {""} and set(fidelity["conditioning_shown"]) == {CONDITIONING[0]}
    by_id = fidelity.set_index("comparison_id")
    assert by_id.loc[world.comparisons["ada1"].pk, "IF"] == "A"
    assert by_id.loc[world.comparisons["ben2"].pk, "IF"] == "same"
    assert len(fidelity) == 7  # every fidelity comparison passes with min_votes 1 and ties kept
    control = pd.read_csv(out / "adapters/videoalign/prompt_controllability/train.csv", keep_default_na=False)
    assert set(control["prompt"]) == {"On a beach."} and set(control["PC"]) == {"B"}
    assert set(control["conditioning_shown"]) == {CONDITIONING[1]}
    quality = pd.read_csv(out / "adapters/videoalign/visual_quality/train.csv", keep_default_na=False)
    assert set(quality["conditioning_shown"]) == {CONDITIONING[2]}
    primary = pd.read_parquet(out / "data/references.parquet").query("is_primary")["path"]
    assert {p.split(";")[0] for p in fidelity["reference_paths"]} <= set(primary)
    card = (out / "README.md").read_text()
    assert "`--eval_dim`" in card and '- `"IF"`: "In which video does the person look more like' in card


def test_dpo_rows_order_their_videos_by_a_seeded_balanced_shuffle_and_label_the_winner(
    world: World, tmp_path: Path
) -> None:
    out = export(tmp_path, split=(1.0, 0.0, 0.0), joint_criteria=JOINT)
    pairs, videos, references = data(out)
    table = pq.read_table(out / "adapters/dpo/identity_fidelity/train.parquet")
    frame = table.to_pandas()
    assert list(frame.columns[:10]) == [
        "comparison_id", "caption", "video_0", "video_1", "label_0", "label_1", "video_0_is_a",
        "reference_paths", "primary_reference_path", "conditioning_shown",
    ]  # fmt: skip
    assert {"video_0_seed", "video_1_steps", "video_0_guidance", "video_1_settings"} <= set(frame.columns)
    assert len(frame) == 5  # seven fidelity comparisons, ben1 and ben2 are ties: left out
    assert ((frame["label_0"] + frame["label_1"]) == 1.0).all() and set(frame["label_0"]) <= {0.0, 1.0}
    a_won = (frame["video_0_is_a"] == (frame["label_0"] == 1.0)).to_numpy()
    expected = winner_first_balanced(0, frame["comparison_id"].to_numpy(), a_won)
    assert (frame["video_0_is_a"].to_numpy() == expected).all()
    assert abs(frame["label_0"].sum() - len(frame) / 2) <= 1
    for row in frame.itertuples():
        pair = pairs.loc[row.comparison_id]
        a, b = pair["video_a_path"], pair["video_b_path"]
        assert (row.video_0, row.video_1) == ((a, b) if row.video_0_is_a else (b, a))
        winner = a if pair["identity_fidelity_label"] == "A" else b
        assert (row.video_0 if row.label_0 == 1.0 else row.video_1) == winner
        assert set(row.reference_paths) <= references and row.reference_paths[0] == row.primary_reference_path
        assert {row.video_0, row.video_1} <= videos
        assert row.caption == "On a beach." and row.conditioning_shown == CONDITIONING[0]
    # Never the canonical order, and exactly balanced: however lopsided the wins (here A wins 90 %), the
    # winner is first in half the rows, A first in about half, and another seed shuffles other rows.
    ids = np.arange(1, 2_001)
    a_won = splitmix_coin(7, ids) | (ids % 5 != 0)
    a_first = winner_first_balanced(0, ids, a_won)
    winner_first = a_first == a_won
    assert abs(winner_first.sum() - len(ids) / 2) <= 1
    assert abs(a_first.mean() - 0.5) < 0.01
    other = winner_first_balanced(1, ids, a_won)
    assert 0.4 < (other != a_first).mean() < 0.6


def test_videodpo_reads_metadata_and_pair_json_with_winner_indices(world: World, tmp_path: Path) -> None:
    out = export(tmp_path, split=(1.0, 0.0, 0.0))
    pairs, videos, _ = data(out)
    folder = out / "adapters/videodpo/identity_fidelity"
    metadata = json.loads((folder / "metadata.json").read_text())
    pair_items = json.loads((folder / "pair.json").read_text())
    assert len(pair_items) == 5
    for item in metadata:
        assert item["basic"]["clip_path"] in videos and item["basic"]["clip_duration"] == 0.5
        assert item["misc"]["frame_caption"] == "On a beach."
    for item in pair_items:
        assert set(item) == {"video1", "video2", "frame_caption", "comparison_id"}  # no score
        pair = pairs.loc[item["comparison_id"]]
        winner = pair["video_a_path"] if pair["identity_fidelity_label"] == "A" else pair["video_b_path"]
        assert metadata[item["video1"]]["basic"]["clip_path"] == winner
        assert {
            metadata[item["video1"]]["basic"]["clip_path"],
            metadata[item["video2"]]["basic"]["clip_path"],
        } == {
            pair["video_a_path"],
            pair["video_b_path"],
        }


def test_judge_conversations_show_both_orders_references_and_explicit_ties(
    world: World, tmp_path: Path
) -> None:
    out = export(tmp_path, split=(1.0, 0.0, 0.0))
    pairs, videos, references = data(out)
    lines = (out / "adapters/judge/identity_fidelity/train.jsonl").read_text().splitlines()
    records = [json.loads(line) for line in lines]
    assert len(records) == 14  # seven passing comparisons, each in both orders
    for record in records:
        user, assistant = record["messages"]
        assert (user["role"], assistant["role"]) == ("user", "assistant")
        content = user["content"]
        images = [c["image"] for c in content if c["type"] == "image"]
        shown = [c["video"] for c in content if c["type"] == "video"]
        assert len(images) == 2 and set(images) <= references  # every reference for identity fidelity
        pair = pairs.loc[record["comparison_id"]]
        a, b = pair["video_a_path"], pair["video_b_path"]
        assert shown == ([a, b] if record["order"] == "AB" else [b, a]) and set(shown) <= videos
        assert content[-1]["type"] == "text" and "Prompt:" not in content[-1]["text"]
        label = pair["identity_fidelity_label"]
        answer = assistant["content"][0]["text"]
        if label == "tie":
            assert answer == ANSWERS["tie"]  # ben2's one both-bad of two votes is no majority
        else:
            first_won = (label == "A") == (record["order"] == "AB")
            assert answer == ANSWERS["first" if first_won else "second"]
    control = [
        json.loads(line) for line in (out / "adapters/judge/prompt_controllability/train.jsonl").open()
    ]
    for record in control:
        content = record["messages"][0]["content"]
        assert len([c for c in content if c["type"] == "image"]) == 1  # the primary reference
        assert "\nPrompt: On a beach.\n" in content[-1]["text"]
        assert content[-1]["text"].startswith("The references come first, then Video 1 and Video 2.\n")
        assert '"Video 1 is better", "Video 2 is better"' in content[-1]["text"]


def test_rl_prompts_hold_each_case_of_a_split_once_with_its_references(world: World, tmp_path: Path) -> None:
    out = export(tmp_path, split=(0.6, 0.2, 0.2))
    pairs, _, references = data(out)
    for split in ("train", "validation", "test"):
        cases = pairs[pairs["split"] == split][["identity_id", "prompt_id"]].drop_duplicates()
        folder = out / "adapters/rl_prompts"
        text = (folder / f"{split}.txt").read_text().splitlines()
        metadata = [json.loads(line) for line in (folder / f"{split}_metadata.jsonl").open()]
        with open(folder / f"{split}.csv", newline="") as handle:
            rows = list(csv.DictReader(handle))
        name = "videos2caption.json" if split == "train" else f"{split}_videos2caption.json"
        captions = json.loads((folder / name).read_text())
        assert len(text) == len(metadata) == len(rows) == len(captions) == len(cases)
        assert [(m["identity_id"], m["prompt_id"]) for m in metadata] == sorted(
            map(tuple, cases.values.tolist())
        )
        for line, meta, row, caption in zip(text, metadata, rows, captions, strict=True):
            assert line == meta["prompt"] == row["prompt"] == caption["cap"]
            assert (
                row["ref_paths"].split(";") == meta["reference_paths"]
                and set(meta["reference_paths"]) <= references
            )
            assert caption["path"] == meta["primary_reference_path"] == meta["reference_paths"][0]


def test_votes_say_what_their_annotators_were_shown(world: World, tmp_path: Path) -> None:
    out = export(tmp_path)
    votes = pd.read_parquet(out / "data/votes.parquet")
    shown = votes.groupby("criterion")["conditioning_shown"].unique().map(list).to_dict()
    assert shown == {
        "identity_fidelity": [CONDITIONING[0]],
        "prompt_controllability": [CONDITIONING[1]],
        "visual_quality": [CONDITIONING[2]],
    }
    assert json.loads((out / "manifest.json").read_text())["adapters"]["conditioning_shown"] == list(
        CONDITIONING
    )
    assert "conditioning_shown" not in pd.read_parquet(
        export(tmp_path, "v1", schema=1) / "data/votes.parquet"
    )


@pytest.mark.parametrize(
    "options",
    [{"joint_criteria": JOINT}, {"split": (1.0, 0.0, 0.0)}, {"min_votes": 99}],
    ids=["test-world", "train-only", "nothing-passes"],
)
def test_every_config_and_loading_line_of_the_card_loads_with_datasets(
    world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, options: dict[str, object]
) -> None:
    datasets = pytest.importorskip("datasets")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    out = export(tmp_path, **options)
    cache = str(tmp_path / "hf-cache")
    card = (out / "README.md").read_text()
    front = yaml.safe_load(card.split("---\n")[1])
    for config in front["configs"]:
        loaded = datasets.load_dataset(str(out), config["config_name"], cache_dir=cache)
        assert set(loaded) == {f["split"] for f in config["data_files"]}
        assert all(len(loaded[s]) > 0 for s in loaded)
    if options.get("min_votes") == 99:
        assert not [c for c in front["configs"] if c["config_name"].startswith("dpo_")]
    code = re.search(r"```python\n(.*?)```", card, re.S)
    assert code is not None
    lines = [line for line in code.group(1).splitlines() if "load_dataset(" in line]
    monkeypatch.chdir(out)
    namespace = {"load_dataset": functools.partial(datasets.load_dataset, cache_dir=cache)}
    for line in lines:
        exec(line.replace('"path/to/snapshot"', repr(str(out))), namespace)
    adapters = [line for line in lines if "adapters/" in line]
    if options.get("min_votes") == 99:
        assert all("rl_prompts" in line for line in adapters)  # nothing passes: only the prompt sets
    else:
        assert any("adapters/videoalign/identity_fidelity/train.csv" in line for line in adapters)
        assert any("adapters/judge/identity_fidelity/train.jsonl" in line for line in adapters)


def test_adapters_written_a_row_at_a_time_have_the_same_bytes(
    world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Row groups of 2 rows: the DPO files get several, cut where write_parquet cuts them.
    monkeypatch.setattr(write, "ROW_GROUP_SIZE", 2)
    whole = export(tmp_path, "whole", joint_criteria=JOINT, keep_ties=True, media="none")
    monkeypatch.setattr(trainers, "SLICE_ROWS", 1)
    sliced = export(tmp_path, "sliced", joint_criteria=JOINT, keep_ties=True, media="none")
    files = sorted(p.relative_to(whole) for p in (whole / "adapters").rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(sliced) for p in (sliced / "adapters").rglob("*") if p.is_file())
    assert all((whole / f).read_bytes() == (sliced / f).read_bytes() for f in files)
    # Each DPO file is what write_parquet writes of its rows at once, whatever the slices.
    for path in sorted((sliced / "adapters/dpo").rglob("*.parquet")):
        again = tmp_path / "again.parquet"
        rows = pq.read_table(path)
        # Parquet names a list's items "element"; the written table had Arrow's "item".
        items = [
            pa.field(f.name, pa.list_(f.type.value_type)) if pa.types.is_list(f.type) else f
            for f in rows.schema
        ]
        write.write_parquet(rows.cast(pa.schema(items)), again)
        assert again.read_bytes() == path.read_bytes(), path
    assert max(pq.ParquetFile(p).num_row_groups for p in (sliced / "adapters/dpo").rglob("*.parquet")) > 1
    # The JSON arrays stay one valid array however they were cut.
    arrays = [json.loads(p.read_text()) for p in (sliced / "adapters/videodpo").rglob("*.json")]
    assert max(len(items) for items in arrays) > 1
