"""Splits grouped by identity, prompts kept apart where the shares allow."""

from __future__ import annotations

import numpy as np

from exports.aggregate import splits_assign


def assign(identities: list[int], prompts: list[int], fractions=(0.8, 0.1, 0.1), seed: int = 0):
    slugs = {i: f"person-{i}" for i in set(identities)}
    return splits_assign(
        identity_of_pair=np.array(identities),
        prompt_of_pair=np.array(prompts),
        identity_slugs=slugs,
        fractions=fractions,
        seed=seed,
    )


def test_every_pair_of_an_identity_lands_in_one_split() -> None:
    identities = [i for i in range(40) for _ in range(5)]
    split, _ = assign(identities, [p % 7 for p in range(200)])
    for identity in range(40):
        assert len(set(split[np.array(identities) == identity])) == 1


def test_split_sizes_follow_the_fractions() -> None:
    identities = [i for i in range(100) for _ in range(3)]
    _, summary = assign(identities, [0] * 300, fractions=(0.7, 0.2, 0.1))
    assert summary["pairs"] == {"train": 210, "validation": 60, "test": 30}


def test_prompts_stay_in_one_split_where_the_identities_allow() -> None:
    # Ten identities, each with its own pair of prompts shared with one neighbour: 0-1 share prompts 0,
    # 2-3 share prompts 1, and so on. Grouping neighbours keeps every prompt in a single split.
    identities = [i for i in range(10) for _ in range(2)]
    prompts = [i // 2 for i in range(10) for _ in range(2)]
    _, summary = assign(identities, prompts, fractions=(0.6, 0.2, 0.2))
    assert summary["prompts_in_several_splits"] == 0


def test_the_seed_changes_the_assignment_and_nothing_else_does() -> None:
    identities = [i for i in range(30) for _ in range(2)]
    first, _ = assign(identities, [0] * 60, seed=1)
    again, _ = assign(identities, [0] * 60, seed=1)
    other, _ = assign(identities, [0] * 60, seed=2)
    assert np.array_equal(first, again)
    assert not np.array_equal(first, other)


def test_each_split_with_a_share_gets_an_identity_when_there_are_enough() -> None:
    _, summary = assign([1, 1, 1, 2, 3], [0] * 5, fractions=(0.8, 0.1, 0.1))
    assert summary["identities"] == {"train": 1, "validation": 1, "test": 1}


def test_a_split_without_a_share_stays_empty() -> None:
    _, summary = assign(list(range(10)), [0] * 10, fractions=(0.9, 0.1, 0.0))
    assert summary["identities"]["test"] == 0
