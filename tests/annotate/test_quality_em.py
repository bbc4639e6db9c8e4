"""annotate.quality_em gives crowd-kit's own Dawid–Skene and MACE figures, on data where rater and item
numbers are not in the order they first appear (MACE's pandas code depends on that order)."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd
from crowdkit.aggregation import MACE, DawidSkene

from annotate import quality_em

LABELS = np.array(["A", "B", "tie"])


def answers(seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, 3, size=80)
    rows: list[tuple[int, int, str]] = []
    for worker in rng.permutation(np.arange(100, 130)):  # first appearance is not sorted order
        skill = rng.uniform(0.3, 0.95)
        for task in rng.choice(80, size=25, replace=False):
            label = truth[task] if rng.random() < skill else rng.integers(0, 3)
            rows.append((int(task) * 7 + 3, int(worker), str(LABELS[label])))
    return pd.DataFrame(rows, columns=["task", "worker", "label"])


def codes(labels: pd.Series[Any]) -> np.ndarray:
    return pd.Categorical(labels, categories=list(LABELS)).codes.astype(np.int64)


def quiet_fit(model: Any, *args: Any, **kwargs: Any) -> Any:
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", module=r"crowdkit\.")
        return model.fit(*args, **kwargs)


def test_dawid_skene_with_gold_tasks_gives_crowdkits_posteriors_priors_and_confusion_matrices() -> None:
    data = answers(1)
    gold_tasks = data["task"].unique()[:6]
    known = data[data["task"].isin(gold_tasks)].assign(task=lambda d: -1 - d["task"])
    data = pd.concat([data[~data["task"].isin(gold_tasks)], known], ignore_index=True)
    true_labels = pd.Series(["A", "B", "tie", "A", "B", "A"], index=-1 - gold_tasks)
    theirs = quiet_fit(DawidSkene(n_iter=100, tol=1e-5), data, true_labels=true_labels)

    tasks, task = np.unique(data["task"].to_numpy(), return_inverse=True)
    workers, worker = np.unique(data["worker"].to_numpy(), return_inverse=True)
    truth = np.full(len(tasks), -1)
    truth[np.searchsorted(tasks, true_labels.index.to_numpy())] = codes(true_labels)
    ours = quality_em.dawid_skene(
        task, worker, codes(data["label"]), n_tasks=len(tasks), n_workers=len(workers), n_labels=3,
        true_labels=truth,
    )  # fmt: skip
    assert ours.iterations == len(theirs.loss_history_)
    expected = theirs.probas_.reindex(index=tasks, columns=list(LABELS)).to_numpy()
    assert np.allclose(ours.probas, expected, atol=1e-9, rtol=0)
    assert np.allclose(ours.priors, theirs.priors_.reindex(list(LABELS)).to_numpy(), atol=1e-9, rtol=0)
    for (w, observed), row in theirs.errors_.iterrows():
        at = (np.searchsorted(workers, w), list(LABELS).index(observed))
        assert ours.answered[at]
        assert np.allclose(ours.errors[at], row.reindex(list(LABELS)).to_numpy(), atol=1e-9, rtol=0)
    assert ours.answered.sum() == len(theirs.errors_)

    # Raters left out of the fit, measured against its posteriors: crowd-kit's M-step.
    outside = answers(2).query("task in @data.task")
    others, other = np.unique(outside["worker"].to_numpy(), return_inverse=True)
    errors, said = quality_em.dawid_skene_errors_against(
        np.searchsorted(tasks, outside["task"].to_numpy()), other, codes(outside["label"]), ours.probas,
        n_workers=len(others),
    )  # fmt: skip
    for (w, observed), row in DawidSkene._m_step(outside, theirs.probas_).iterrows():
        at = (np.searchsorted(others, w), list(LABELS).index(observed))
        assert said[at]
        assert np.allclose(errors[at], row.reindex(list(LABELS)).to_numpy(), atol=1e-9, rtol=0)


def test_mace_gives_crowdkits_spamming_and_posteriors() -> None:
    data = answers(3)
    theirs = quiet_fit(MACE(n_restarts=1, n_iter=25, random_state=0), data)
    ours = quality_em.mace(
        data["task"].to_numpy(), data["worker"].to_numpy(), codes(data["label"]), n_iter=25, random_state=0
    )
    assert list(ours.workers) == list(pd.factorize(data["worker"])[1])
    assert np.allclose(ours.spamming, theirs.spamming_, atol=1e-9, rtol=0)
    expected = theirs.probas_.reindex(index=ours.tasks, columns=[LABELS[c] for c in ours.labels]).to_numpy()
    assert np.allclose(ours.probas, expected, atol=1e-9, rtol=0)
