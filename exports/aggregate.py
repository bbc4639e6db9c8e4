"""From raw judgments to per-comparison counts, labels, the joint label and identity-grouped splits.

All of it is vectorised over numpy arrays indexed by comparison: the export of a million judgments
spends well under a second here.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from annotate.models import Criterion
from exports.options import SPLITS
from lib.arrays import unique_inverse, unique_values

# Codes as read.votes_read sends them: the index of a criterion in CRITERIA, of a choice in CHOICES.
CRITERIA = tuple(Criterion.values)
CHOICES = ("A", "B", "tie", "both_bad")
# Counted categories. "Both bad" prefers neither video, so it counts as a tie, as arena-style
# leaderboards count it; votes.parquet keeps the raw answer for trainers that want it apart.
CATEGORIES = ("A", "B", "tie")
_CHOICE_TO_CATEGORY = np.array([0, 1, 2, 2], dtype=np.int8)


def criteria_ordered(criteria: set[str]) -> tuple[str, ...]:
    """In the order of Criterion, so column order never depends on how the criteria were listed."""
    ordered = [c for c in CRITERIA if c in criteria]
    return tuple(ordered + sorted(criteria - set(ordered)))


def criteria_present(criterion_codes: np.ndarray) -> tuple[str, ...]:
    return criteria_ordered({CRITERIA[int(code)] for code in np.unique(criterion_codes)})


def vote_counts(
    *,
    comparison_ids: np.ndarray,
    criterion_codes: np.ndarray,
    choice_codes: np.ndarray,
    criteria: tuple[str, ...],
    keep_ties: bool,
) -> tuple[np.ndarray, np.ndarray]:
    """``(comparison_ids, counts)`` with ``counts[i, c, k]`` = votes on comparison i, criterion c, category k.

    Every comparison with a selected vote gets a row, even when dropping ties leaves it no counted vote:
    it then shows up with n = 0 and the label "none" rather than silently disappearing.
    """
    unique_ids, inverse = unique_inverse(comparison_ids)
    unique_ids = unique_ids.astype(np.int64, copy=False)  # the votes' ids may come narrowed to int32
    n_criteria = len(criteria)
    # int32: a comparison's votes on one criterion number far below 2**31, and at millions of
    # comparisons the table is held for the whole export (Labels' n_a, n_b, n_tie are views of it).
    counts = np.zeros((len(unique_ids), n_criteria, len(CATEGORIES)), dtype=np.int32)
    if not n_criteria or not len(unique_ids):
        return unique_ids, counts
    # Per vote as int8, and the flat cell index built in one int64 array in place: at ten million votes
    # each int64 per-vote array is 80 MB, and the expression held five of them at once.
    column_of = np.full(len(CRITERIA), -1, dtype=np.int8)
    for index, criterion in enumerate(criteria):
        column_of[CRITERIA.index(criterion)] = index
    column = column_of[criterion_codes]
    category = _CHOICE_TO_CATEGORY[choice_codes]
    if not keep_ties:
        category[category == 2] = -1
    counted = (column >= 0) & (category >= 0)
    flat = inverse[counted]
    del inverse
    flat *= n_criteria
    flat += column[counted]
    flat *= len(CATEGORIES)
    flat += category[counted]
    del column, category, counted
    counts += np.bincount(flat, minlength=counts.size).reshape(counts.shape)
    return unique_ids, counts


# The label words. Labels.label holds them as a categorical, a byte a comparison: as an object array of
# words each criterion's labels took 8 bytes a comparison (16 MB at two million) for the whole export.
LABEL_WORDS = ("A", "B", "tie", "none")
_A, _B, _TIE, _NONE = range(len(LABEL_WORDS))


def _labels_of(codes: np.ndarray) -> pd.Categorical:
    return pd.Categorical.from_codes(codes, categories=LABEL_WORDS)


@dataclass(frozen=True)
class Labels:
    """Per comparison: the counts, the label and whether it passes the filters. ``p_a`` and the majority
    share are computed for the rows asked (``p_a_of``, ``majority_share_of``): held whole for every
    criterion they were 16 MB each per million comparisons for the whole export, read only a row group at
    a time. A joint label's ``p_a`` is its own (the mean over its criteria), held in ``joint_p_a``."""

    n_a: np.ndarray
    n_b: np.ndarray
    n_tie: np.ndarray
    label: pd.Categorical  # LABEL_WORDS: compared with a word, it gives a numpy mask
    passes_filter: np.ndarray
    joint_p_a: np.ndarray | None = None

    def p_a_of(self, rows: np.ndarray | slice) -> np.ndarray:
        """``(n_a + n_tie / 2) / n`` of these rows, NaN without a vote (a joint label's own p_a)."""
        if self.joint_p_a is not None:
            return self.joint_p_a[rows]
        n_a, n_tie = self.n_a[rows], self.n_tie[rows]
        n = n_a + self.n_b[rows] + n_tie
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(n > 0, (n_a + n_tie / 2.0) / n, np.nan)

    def majority_share_of(self, rows: np.ndarray | slice) -> np.ndarray:
        """The top count over n of these rows, NaN without a vote."""
        n_a, n_b, n_tie = self.n_a[rows], self.n_b[rows], self.n_tie[rows]
        return _share(np.maximum(np.maximum(n_a, n_b), n_tie), n_a + n_b + n_tie)


def _share(top: np.ndarray, n: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n > 0, top / n, np.nan)


def criterion_labels(counts: np.ndarray, *, keep_ties: bool, min_votes: int, min_majority: float) -> Labels:
    """Labels of one criterion from its ``(comparisons, 3)`` counts.

    The label is the plurality answer; when two answers share the top count there is no winner and the
    label is "tie". ``p_a = (n_a + n_tie / 2) / n``; ``majority_share`` = top count / n. A comparison
    passes when it has at least ``min_votes`` counted votes, a majority share of at least
    ``min_majority``, and a label of A or B (or tie, when ties are kept).
    """
    n_a, n_b, n_tie = (counts[:, k] for k in range(3))
    n = n_a + n_b + n_tie
    top = counts.max(axis=1)
    share = _share(top, n)
    sole_top = (counts == top[:, None]).sum(axis=1) == 1
    label = np.full(len(n), _NONE, dtype=np.int8)
    label[n > 0] = _TIE
    label[(n > 0) & sole_top & (n_a == top)] = _A
    label[(n > 0) & sole_top & (n_b == top)] = _B
    decided = (label == _A) | (label == _B) | ((label == _TIE) & keep_ties)
    passes = decided & (n >= min_votes) & (np.nan_to_num(share) >= min_majority)
    return Labels(n_a, n_b, n_tie, _labels_of(label), passes)


def joint_labels(labels: list[Labels], *, rule: str, keep_ties: bool) -> Labels:
    """One label over several criteria, built from the criteria that pass their own filter.

    - ``all``: every chosen criterion passes and they all give the same label.
    - ``no_conflict``: at least one passes; A when some say A and none B (ties and missing allowed),
      B likewise, tie when all passing say tie.
    - ``mean``: the mean ``p_a`` of the passing criteria; A above 0.5, B below, tie at 0.5.

    ``p_a`` is the mean ``p_a`` over the passing criteria for every rule; counts are summed.
    """
    passes = np.stack([lab.passes_filter for lab in labels])
    stacked_labels = np.stack([lab.label.codes for lab in labels])
    p = np.stack([lab.p_a_of(slice(None)) for lab in labels])
    n_pass = passes.sum(axis=0)
    with np.errstate(invalid="ignore"):
        p_a = np.where(n_pass > 0, np.where(passes, p, 0.0).sum(axis=0) / n_pass, np.nan)
    says_a = (passes & (stacked_labels == _A)).sum(axis=0)
    says_b = (passes & (stacked_labels == _B)).sum(axis=0)
    says_tie = (passes & (stacked_labels == _TIE)).sum(axis=0)
    count = len(labels)
    label = np.full(passes.shape[1], _NONE, dtype=np.int8)
    if rule == "all":
        label[says_a == count] = _A
        label[says_b == count] = _B
        label[says_tie == count] = _TIE
    elif rule == "no_conflict":
        label[(says_a > 0) & (says_b == 0)] = _A
        label[(says_b > 0) & (says_a == 0)] = _B
        label[(says_tie > 0) & (says_tie == n_pass)] = _TIE
    elif rule == "mean":
        label[(n_pass > 0) & (p_a > 0.5)] = _A
        label[(n_pass > 0) & (p_a < 0.5)] = _B
        label[(n_pass > 0) & (p_a == 0.5)] = _TIE
    else:  # options.validate keeps other names out
        raise ValueError(f"unknown joint rule {rule!r}")
    decided = (label == _A) | (label == _B) | ((label == _TIE) & keep_ties)
    n_a = np.sum([lab.n_a for lab in labels], axis=0)
    n_b = np.sum([lab.n_b for lab in labels], axis=0)
    n_tie = np.sum([lab.n_tie for lab in labels], axis=0)
    return Labels(n_a, n_b, n_tie, _labels_of(label), decided, joint_p_a=p_a)


# --- splits -------------------------------------------------------------------------------------


def _seeded_order(keys: list[str], seed: int) -> list[int]:
    # A hash of (seed, slug) rather than random.shuffle: the order depends on nothing but these two,
    # not on database ids, insertion order or the Python version.
    digests = [hashlib.sha256(f"{seed}:{key}".encode()).hexdigest() for key in keys]
    return sorted(range(len(keys)), key=lambda i: (digests[i], keys[i]))


def splits_assign(
    *,
    identity_of_pair: np.ndarray,
    prompt_of_pair: np.ndarray,
    identity_slugs: dict[int, str],
    fractions: tuple[float, float, float],
    seed: int,
) -> tuple[np.ndarray, dict[str, Any]]:
    """Split index (0 train, 1 validation, 2 test) per pair, whole identities at a time.

    Identities are walked in a seeded order. Each goes to a split still below its share of the pairs;
    among those, to the one that already holds most of its prompts (so a prompt stays in one split
    where the shares allow), then to the one furthest below its share. The last identities go to
    splits that would otherwise stay empty.
    """
    identity_ids, inverse = unique_inverse(identity_of_pair)
    pair_counts = np.bincount(inverse, minlength=len(identity_ids))
    prompts_of: list[set[int]] = [set() for _ in identity_ids]
    # Each distinct (identity, prompt) once: a case has many pairs.
    prompt_ids, prompt_code = unique_inverse(prompt_of_pair)
    width = max(len(prompt_ids), 1)
    cases = unique_values(inverse * width + prompt_code)
    for index, prompt in zip((cases // width).tolist(), prompt_ids[cases % width].tolist(), strict=True):
        prompts_of[index].add(prompt)
    targets = np.array(fractions) * len(identity_of_pair)
    held = np.zeros(3)
    split_prompts: list[set[int]] = [set(), set(), set()]
    split_of_identity = np.zeros(len(identity_ids), dtype=np.int8)  # held per pair: 0, 1 or 2
    order = _seeded_order([identity_slugs[int(i)] for i in identity_ids], seed)
    usable = [s for s in range(3) if fractions[s] > 0]
    for position, index in enumerate(order):
        below = [s for s in usable if held[s] < targets[s]]
        empty = [s for s in usable if held[s] == 0]
        if empty and len(order) - position <= len(empty):
            # As many identities left as splits still empty: give each split one rather than none
            # (datasets refuses to load an empty split).
            chosen = max(empty, key=lambda s: (targets[s], -s))
        elif below:
            chosen = max(
                below,
                key=lambda s: (
                    len(prompts_of[index] & split_prompts[s]),
                    (targets[s] - held[s]) / targets[s],
                    -s,
                ),
            )
        else:
            chosen = max(usable, key=lambda s: (targets[s] - held[s], -s))
        split_of_identity[index] = chosen
        held[chosen] += pair_counts[index]
        split_prompts[chosen] |= prompts_of[index]
    split_of_pair = split_of_identity[inverse]
    shared_prompts = sum(
        1 for prompt in set().union(*split_prompts) if sum(prompt in prompts for prompts in split_prompts) > 1
    )
    summary = {
        "group_by": "identity",
        "identities": {name: int((split_of_identity == s).sum()) for s, name in enumerate(SPLITS)},
        "pairs": {name: int((split_of_pair == s).sum()) for s, name in enumerate(SPLITS)},
        "prompts": {name: len(split_prompts[s]) for s, name in enumerate(SPLITS)},
        "prompts_in_several_splits": shared_prompts,
    }
    return split_of_pair, summary
