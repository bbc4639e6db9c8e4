"""Simulated judgments from careful and careless raters, in the table :mod:`annotate.quality` reads.

Used by the quality tests (detection by simulation) and ``bench/quality.py``; vectorised so that a million
judgments take seconds. Rater kinds:

- ``careful``: the true answer with probability ``accuracy``; otherwise the other side, or (one time in
  four) a tie;
- ``always_left``: the video shown on the left, whatever it is;
- ``random``: left or right, half and half.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

DURATION_MS = 8000.0


@dataclass(frozen=True)
class Simulated:
    judgments: pd.DataFrame
    kinds: dict[int, str]  # rater -> careful, always_left or random

    @property
    def careless(self) -> set[int]:
        return {r for r, kind in self.kinds.items() if kind != "careful"}


def _kinds(careful: int, always_left: int, random: int) -> np.ndarray:
    return np.array(["careful"] * careful + ["always_left"] * always_left + ["random"] * random)


def _answers(
    rng: np.random.Generator, kind: np.ndarray, truth: np.ndarray, shown_left: np.ndarray, accuracy: float
) -> np.ndarray:
    u = rng.random(len(kind))
    other = np.where(truth == "A", "B", "A")
    careful = np.where(u < accuracy, truth, np.where(u < accuracy + (1 - accuracy) * 0.75, other, "tie"))
    random = np.where(rng.random(len(kind)) < 0.5, "A", "B")
    return np.where(kind == "always_left", shown_left, np.where(kind == "random", random, careful))


def _sides(rng: np.random.Generator, n: int) -> np.ndarray:
    return np.where(rng.random(n) < 0.5, "A", "B")


def _times(rng: np.random.Generator, n: int) -> np.ndarray:
    # Every answer comes after the videos played through: the watch rule is enforced by the server.
    return DURATION_MS + rng.gamma(2.0, 1500.0, n)


def simulate_track(
    seed: int,
    *,
    comparisons: int = 1000,
    careful: int = 20,
    always_left: int = 2,
    random: int = 2,
    votes_per_comparison: int = 3,
    gold_rate: float = 0.10,
    repeat_rate: float = 0.10,
    accuracy: float = 0.8,
    criterion: str = "visual_quality",
) -> Simulated:
    """One track: each comparison voted by ``votes_per_comparison`` distinct raters drawn at random; gold
    and repeated comparisons make up ``gold_rate`` and ``repeat_rate`` of everything handed out; a repeat is
    the same rater's same comparison later, sides swapped, answered again by the same rater model."""
    rng = np.random.default_rng(seed)
    kinds = _kinds(careful, always_left, random)
    n_raters = len(kinds)
    if votes_per_comparison != 3:
        raise ValueError("the track simulation draws three distinct raters per comparison")
    truth = np.where(rng.random(comparisons) < 0.5, "A", "B")
    first = rng.integers(0, n_raters, comparisons)
    x = rng.integers(1, n_raters, comparisons)
    y = rng.integers(1, n_raters - 1, comparisons)
    y = y + (y >= x)  # x ≠ y, both ≠ 0: three distinct raters
    raters = np.stack([first, (first + x) % n_raters, (first + y) % n_raters], axis=1).ravel()
    items = np.repeat(np.arange(comparisons), 3)
    real_truth = truth[items]

    n_real = len(items)
    share_real = 1.0 - gold_rate - repeat_rate
    n_gold = round(n_real * gold_rate / share_real)
    n_repeat = round(n_real * repeat_rate / share_real)
    gold_raters = rng.integers(0, n_raters, n_gold)
    gold_items = comparisons + np.arange(n_gold)
    gold_truth = np.where(rng.random(n_gold) < 0.5, "A", "B")

    real_left = _sides(rng, n_real)
    real_choice = _answers(rng, kinds[raters], real_truth, real_left, accuracy)
    gold_left = _sides(rng, n_gold)
    gold_choice = _answers(rng, kinds[gold_raters], gold_truth, gold_left, accuracy)
    originals = rng.choice(n_real, size=n_repeat, replace=False)
    repeat_left = np.where(real_left[originals] == "A", "B", "A")
    repeat_choice = _answers(rng, kinds[raters[originals]], real_truth[originals], repeat_left, accuracy)

    n = n_real + n_gold + n_repeat
    same = np.full(n, None, dtype=object)
    same[n_real + n_gold :] = repeat_choice == real_choice[originals]
    frame = pd.DataFrame(
        {
            "rater": np.concatenate([raters, gold_raters, raters[originals]]),
            "item": np.concatenate([items, gold_items, items[originals]]),
            "criterion": criterion,
            "choice": np.concatenate([real_choice, gold_choice, repeat_choice]),
            "shown_left": np.concatenate([real_left, gold_left, repeat_left]),
            "response_ms": _times(rng, n),
            "is_gold": (np.arange(n) >= n_real) & (np.arange(n) < n_real + n_gold),
            "gold_answer": np.concatenate([np.full(n_real, None), gold_truth, np.full(n_repeat, None)]),
            "is_repeat": np.arange(n) >= n_real + n_gold,
            "repeat_choice_same": pd.array(same, dtype="boolean"),
            "duration_ms": DURATION_MS,
        }
    )
    frame = frame.iloc[rng.permutation(n)].reset_index(drop=True)
    return Simulated(frame, dict(enumerate(kinds.tolist())))


def simulate_study(
    seed: int,
    *,
    participants: int = 30,
    careless: int = 3,
    matchups: int = 40,
    gold_matchups: int = 2,
    repeat_matchups: int = 2,
    cases: int = 100,
    baselines: int = 2,
    criteria: tuple[str, ...] = ("identity", "prompt", "motion", "visual_quality"),
    accuracy: float = 0.8,
) -> Simulated:
    """One study: the studied method against ``baselines`` baselines on ``cases`` cases, so
    ``cases × baselines`` matchups; each participant answers ``matchups`` of them (gold and repeats
    included) on every criterion. ``A`` is always the studied method, so a method pair
    (``contrast_item`` = the baseline) reads the same way in every row. Careless participants alternate
    always-Left and random."""
    rng = np.random.default_rng(seed)
    kinds = np.array(
        ["careful"] * (participants - careless) + [("always_left", "random")[i % 2] for i in range(careless)]
    )
    n_items = cases * baselines
    truth = np.where(rng.random((n_items, len(criteria))) < 0.65, "A", "B")
    real_per = matchups - gold_matchups - repeat_matchups
    rows: list[pd.DataFrame] = []
    gold_next = n_items
    for p in range(participants):
        chosen = rng.choice(n_items, size=real_per, replace=False)
        gold = gold_next + np.arange(gold_matchups)
        gold_next += gold_matchups
        gold_truth = np.where(rng.random((gold_matchups, len(criteria))) < 0.5, "A", "B")
        repeated = rng.choice(chosen, size=repeat_matchups, replace=False)
        items = np.concatenate([chosen, gold, repeated])
        item_truth = np.concatenate([truth[chosen], gold_truth, truth[repeated]])
        left_per_matchup = _sides(rng, len(items))
        position = {int(item): i for i, item in enumerate(chosen)}
        originals = np.array([position[int(item)] for item in repeated], dtype=np.int64)
        left_per_matchup[len(chosen) + gold_matchups :] = np.where(
            left_per_matchup[originals] == "A", "B", "A"
        )
        k = len(criteria)
        item_col = np.repeat(items, k)
        left = np.repeat(left_per_matchup, k)
        t = item_truth.ravel()
        choice = _answers(rng, np.full(len(t), kinds[p]), t, left, accuracy)
        is_gold = np.repeat(np.arange(len(items)) >= len(chosen), k) & ~np.repeat(
            np.arange(len(items)) >= len(chosen) + gold_matchups, k
        )
        is_repeat = np.repeat(np.arange(len(items)) >= len(chosen) + gold_matchups, k)
        same = np.full(len(t), None, dtype=object)
        criterion_col = np.tile(np.array(criteria), len(items))
        first = {
            (int(i), c): ch
            for i, c, ch, r in zip(item_col, criterion_col, choice, is_repeat, strict=True)
            if not r
        }
        for j in np.flatnonzero(is_repeat):
            same[j] = choice[j] == first[(int(item_col[j]), str(criterion_col[j]))]
        rows.append(
            pd.DataFrame(
                {
                    "rater": p,
                    "item": item_col,
                    "contrast_item": np.where(item_col < n_items, item_col % baselines, -1),
                    "criterion": criterion_col,
                    "choice": choice,
                    "shown_left": left,
                    "response_ms": _times(rng, len(t)),
                    "is_gold": is_gold,
                    "gold_answer": pd.Series(t, dtype=object).where(is_gold, None),
                    "is_repeat": is_repeat,
                    "repeat_choice_same": pd.array(same, dtype="boolean"),
                    "duration_ms": DURATION_MS,
                }
            )
        )
    frame = pd.concat(rows, ignore_index=True)
    return Simulated(frame, dict(enumerate(kinds.tolist())))
