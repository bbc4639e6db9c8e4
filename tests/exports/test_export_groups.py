"""Schema 2: data/groups.parquet (per-case Bradley–Terry scores) and each pair's pair_construction."""

from __future__ import annotations

import json
from pathlib import Path

import choix
import numpy as np
import pandas as pd
import pytest

from annotate.bradley_terry import ALPHA, fit_groups
from annotate.models import Judgment
from annotate.services import comparisons_build
from exports.build import export_build
from exports.options import ExportOptions
from generation.models import Method, Video
from tests.exports.export_world import World, build_world
from tests.factories import make_video

SPLITS = ("train", "validation", "test")


@pytest.fixture
def world(db: None, tmp_path: Path) -> World:
    return build_world(tmp_path)


def export(tmp_path: Path, name: str = "out", **options: object) -> Path:
    return export_build(options=ExportOptions(**options), out_dir=tmp_path / name).path  # type: ignore[arg-type]


def pairs_of(out: Path) -> pd.DataFrame:
    return pd.concat([pd.read_parquet(out / f"data/pairs/{split}.parquet") for split in SPLITS])


def choix_scores(k: int, comparisons: list[tuple[int, int, float, float]]) -> np.ndarray:
    """choix on the same comparisons: every count doubled so that half wins become whole ones (the
    objective doubles, so alpha doubles with it and the optimum stays put)."""
    data: list[tuple[int, int]] = []
    for i, j, wins_i, wins_j in comparisons:
        data += [(i, j)] * round(2 * wins_i) + [(j, i)] * round(2 * wins_j)
    scores = choix.opt_pairwise(k, data, alpha=2 * ALPHA, tol=1e-10)
    return scores - scores.mean()


# --- the fit ---------------------------------------------------------------------------------------


def test_the_batched_fit_equals_choix_on_random_groups_with_a_sweeper_and_ties() -> None:
    rng = np.random.default_rng(5)
    sizes = [2, 3, 4, 5, 5, 6, 3]
    expected: list[np.ndarray] = []
    firsts, seconds, wins_first, wins_second, group_of_item = [], [], [], [], []
    offset = 0
    for group, k in enumerate(sizes):
        comparisons = []
        for i in range(k):
            for j in range(i + 1, k):
                a, b, tie = rng.integers(0, 4, size=3)
                if group == 1:  # item 0 wins everything it meets
                    a, b, tie = (3, 0, 0) if i == 0 else (a, b, tie)
                if group == 2:  # ties only
                    a, b, tie = 0, 0, 2
                comparisons.append((i, j, a + tie / 2, b + tie / 2))
        expected.append(choix_scores(k, comparisons))
        for i, j, wins_i, wins_j in comparisons:
            firsts.append(offset + i)
            seconds.append(offset + j)
            wins_first.append(wins_i)
            wins_second.append(wins_j)
        group_of_item += [group] * k
        offset += k
    fit = fit_groups(
        group_of_item=np.array(group_of_item),
        first=np.array(firsts),
        second=np.array(seconds),
        wins_first=np.array(wins_first),
        wins_second=np.array(wins_second),
    )
    np.testing.assert_allclose(fit.score, np.concatenate(expected), atol=1e-4)
    sweeper = sum(sizes[:1])
    assert np.isfinite(fit.score[sweeper]) and fit.rank[sweeper] == 1
    only_ties = slice(sum(sizes[:2]), sum(sizes[:3]))
    assert list(fit.score[only_ties]) == [0.0] * 4
    assert list(fit.rank[only_ties]) == [1] * 4  # equal scores share the first rank: no arbitrary first
    assert np.all(fit.low <= fit.score) and np.all(fit.score <= fit.high)


def test_ranks_share_the_best_place_on_equal_scores_and_an_item_without_votes_has_none() -> None:
    # Items 1 and 2 each lose once to item 0 and never meet: equal scores. Item 3 has no vote.
    fit = fit_groups(
        group_of_item=np.zeros(4, dtype=np.int64),
        first=np.array([0, 0]),
        second=np.array([1, 2]),
        wins_first=np.array([1.0, 1.0]),
        wins_second=np.array([0.0, 0.0]),
    )
    assert list(fit.rank) == [1, 2, 2, 0]
    assert np.isnan(fit.score[3]) and fit.votes[3] == 0
    assert fit.score[1] == fit.score[2]


def test_a_comparison_that_joins_two_groups_is_refused() -> None:
    with pytest.raises(ValueError, match="joins two groups"):
        fit_groups(
            group_of_item=np.array([0, 1]),
            first=np.array([0]),
            second=np.array([1]),
            wins_first=np.array([1.0]),
            wins_second=np.array([0.0]),
        )


# --- the export ------------------------------------------------------------------------------------


def test_every_video_of_the_pairs_is_in_exactly_one_case_and_its_votes_are_the_pairs_counts(
    world: World, tmp_path: Path
) -> None:
    out = export(tmp_path, split=(0.5, 0.25, 0.25), split_seed=3)
    groups = pd.read_parquet(out / "data/groups.parquet")
    pairs = pairs_of(out)
    listed = [v for videos in groups["video_ids"] for v in videos]
    assert sorted(listed) == sorted(set(pairs["video_a_id"]) | set(pairs["video_b_id"]))
    assert len(listed) == len(set(listed))
    assert list(groups["case_id"]) == list(range(len(groups)))
    assert list(groups["identity_id"]) == sorted(groups["identity_id"])  # rows sorted by the case key
    for criterion in ("identity_fidelity", "prompt_controllability", "visual_quality"):
        n = pairs[f"{criterion}_n_a"] + pairs[f"{criterion}_n_b"] + pairs[f"{criterion}_n_tie"]
        expected = (
            n.groupby(pairs["video_a_id"]).sum().add(n.groupby(pairs["video_b_id"]).sum(), fill_value=0)
        )
        got = {
            v: votes
            for videos, counts in zip(groups["video_ids"], groups[f"{criterion}_votes"], strict=True)
            for v, votes in zip(videos, counts, strict=True)
        }
        assert got == {int(v): int(c) for v, c in expected.items()}
    # The case's split is its identity's: the same as its pairs', so cases keep the splits apart.
    split_of_identity = dict(zip(pairs["identity_id"], pairs["split"], strict=False))
    assert all(split_of_identity[i] == s for i, s in zip(groups["identity_id"], groups["split"], strict=True))


def test_scores_equal_choix_ranks_follow_scores_and_tied_scores_share_a_rank(
    world: World, tmp_path: Path
) -> None:
    groups = pd.read_parquet(export(tmp_path) / "data/groups.parquet").set_index("identity_id")
    ada = groups.loc[world.identities["ada"].pk]
    # ada's fidelity votes (export_world): v1–v2 2/1/0, v1–v3 0/2/1, v2–v3 1/0/0.
    expected = choix_scores(3, [(0, 1, 2.0, 1.0), (0, 2, 0.5, 2.5), (1, 2, 1.0, 0.0)])
    np.testing.assert_allclose(ada["identity_fidelity_score"], expected, atol=1e-4)
    assert list(ada["identity_fidelity_votes"]) == [6, 4, 4]
    order = np.argsort(-ada["identity_fidelity_score"])
    assert list(ada["identity_fidelity_rank"][order]) == [1, 2, 3]
    assert list(ada["methods"]) == ["m1", "m2", "m3"]
    # ben: v1–v2 1/1/0, v1–v3 a tie and a both-bad: every score is 0 and all three share rank 1.
    ben = groups.loc[world.identities["ben"].pk]
    assert list(ben["identity_fidelity_score"]) == [0.0, 0.0, 0.0]
    assert list(ben["identity_fidelity_rank"]) == [1, 1, 1]
    # visual_quality in ada: only v1–v2 was voted on; v3 has no score, no rank and no vote.
    assert list(ada["visual_quality_votes"]) == [1, 1, 0]
    assert pd.isna(ada["visual_quality_score"][2]) and pd.isna(ada["visual_quality_rank"][2])
    assert list(ada["visual_quality_rank"][:2]) == [1, 2]
    # No vote of a criterion in a case at all: every score and rank is null, every count 0.
    cid = groups.loc[world.identities["cid"].pk]
    assert all(pd.isna(s) for s in cid["prompt_controllability_score"])
    assert all(pd.isna(r) for r in cid["prompt_controllability_rank"])
    assert list(cid["prompt_controllability_votes"]) == [0, 0]


def test_the_manifest_states_the_case_tie_and_construction_rules(world: World, tmp_path: Path) -> None:
    manifest = json.loads((export(tmp_path) / "manifest.json").read_text())
    assert manifest["groups"]["rows"] == 4
    assert "half a win" in manifest["groups"]["ties"]
    assert "no arbitrary first" in manifest["groups"]["rank"]
    assert set(manifest["pair_construction_rule"]) >= {
        "independent_seeds",
        "cross_checkpoint",
        "cross_method",
        "story_shots",
    }


def test_schema_1_has_neither_groups_nor_pair_construction(world: World, tmp_path: Path) -> None:
    out = export(tmp_path, schema=1)
    assert not (out / "data/groups.parquet").exists()
    assert "pair_construction" not in pairs_of(out).columns
    assert "groups" not in json.loads((out / "manifest.json").read_text())


def test_pair_construction_tells_seeds_checkpoints_and_methods_apart(world: World, tmp_path: Path) -> None:
    ada = world.identities["ada"]
    m1 = Method.objects.get(name="m1")
    m1.revision = "wan-2.1"
    m1.save()
    tuned = Method.objects.create(
        name="m1-lora", revision="wan-2.1", lora_path="lora.safetensors", settings=m1.settings
    )
    old = Video.objects.get(identity=ada, method=m1)
    reseeded = make_video(method=m1, identity=ada, prompt=old.prompt, seed=8, frames=4, size=32)
    other = make_video(method=tuned, identity=ada, prompt=old.prompt, seed=7, frames=4, size=32)
    m2_video = Video.objects.get(identity=ada, method__name="m2")
    built = comparisons_build(videos=[old, reseeded, other, m2_video])
    track = world.tracks["fidelity"]
    for comparison in built:
        Judgment.objects.create(
            comparison=comparison,
            criterion=track.criterion,
            choice="A",
            shown_left="A",
            rater=world.raters["u1"],
            track=track,
        )
    pairs = pairs_of(export(tmp_path)).set_index(["video_a_id", "video_b_id"])

    def construction(x: Video, y: Video) -> str:
        return pairs.loc[(min(x.pk, y.pk), max(x.pk, y.pk)), "pair_construction"]

    assert construction(old, reseeded) == "independent_seeds"
    assert construction(old, other) == "cross_checkpoint"  # one base model, another LoRA
    assert construction(reseeded, m2_video) == "cross_method"
    assert set(pairs["pair_construction"]) <= {"independent_seeds", "cross_checkpoint", "cross_method"}
    groups = pd.read_parquet(tmp_path / "out/data/groups.parquet").set_index("identity_id")
    case = groups.loc[ada.pk]
    setups = dict(zip(case["video_ids"], case["setups"], strict=True))
    assert setups[old.pk] == setups[reseeded.pk] != setups[other.pk]
    assert len(case["video_ids"]) == 5  # the new videos share ada's case: same prompt and shape


def test_the_card_describes_groups_and_construction_only_in_schema_2(world: World, tmp_path: Path) -> None:
    card_2 = (export(tmp_path, "two") / "README.md").read_text()
    card_1 = (export(tmp_path, "one", schema=1) / "README.md").read_text()
    assert "`data/groups.parquet`" in card_2 and "`pair_construction`" in card_2
    assert "groups.parquet" not in card_1 and "pair_construction" not in card_1


def test_datasets_reads_the_groups_file_with_its_list_columns(world: World, tmp_path: Path) -> None:
    from datasets import load_dataset

    out = export(tmp_path)
    groups = load_dataset("parquet", data_files=str(out / "data/groups.parquet"))["train"]
    assert groups.num_rows == 4
    assert len(groups[0]["video_ids"]) == len(groups[0]["identity_fidelity_score"])
