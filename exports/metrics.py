"""The snapshot's automatic metrics (schema 2): ``data/metrics.parquet`` and their agreement with the votes.

One row per exported video and metric, under one definition per metric: the one the agreement page reads
(``studies.metric_agreement.metric_source``: the definition with the most rows in the catalog, ties to
the one computed last), so that a changed metric never mixes its old and new values in one file.

The agreement figures come from the export's own tables (no second read of the votes): per criterion with
a metric, people's strict majority on each exported comparison against the metric's preferred video,
with the Wilson interval, and Kendall's τ between the Bradley–Terry order of the exported votes (as in
``data/leaderboard.parquet``) and the methods' mean values. The rules are those of the agreement page.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from exports import aggregate, write
from exports.leaderboard import judged_of, method_codes
from exports.read import copy_table, int_array_literal
from generation.metrics.definitions import METRICS
from studies.metric_agreement import (
    DLIB_CAVEAT,
    Tallies,
    agreement_compute,
    bt_scores,
    method_order,
    metric_for,
    metric_source,
    values_by_method,
)

PATH = "data/metrics.parquet"
DECIMALS = 6
SCHEMA = pa.schema(
    [
        ("video_id", pa.int64()),
        ("name", pa.string()),
        ("version", pa.string()),
        ("definition", pa.string()),
        ("model_hash", pa.string()),
        ("settings", pa.string()),  # JSON, as PostgreSQL writes jsonb: keys in its fixed order
        ("status", pa.string()),
        ("value", pa.float64()),
        ("note", pa.string()),
    ]
)
RULE = "one definition per metric: the one with the most rows in the catalog, ties to the one computed last"
AGREEMENT_RULE = (
    "per exported comparison with votes on the criterion: people's strict majority of A against B (ties and "
    "both-bad count for neither; no strict majority: undecided, left out) against the video with the "
    "metric's better value (a video without a value: missing; equal values: metric tie; both left out); "
    "agreement is the share of the rest where both pick the same video, with its 95 % Wilson interval; "
    "tau is Kendall's tau-b between the methods' Bradley-Terry scores on the exported votes between two "
    "methods and their mean value over the judged videos, signed so that 1 is the same order"
)


@dataclass(frozen=True)
class MetricsRead:
    table: pa.Table  # the rows of data/metrics.parquet
    definitions: dict[str, dict[str, Any]]  # name → version, digest, model hash, settings, row counts
    reasons: dict[str, str]  # name → why the catalog has no value of it (empty when it has some)


def metrics_read(*, video_ids: np.ndarray) -> MetricsRead:
    """The exported videos' rows of each metric's chosen definition, sorted by video and name."""
    definitions: dict[str, dict[str, Any]] = {}
    reasons: dict[str, str] = {}
    for name in METRICS:
        source = metric_source(name)
        reasons[name] = source.reason
        if source.definition is not None:
            definitions[name] = {"version": source.version, "definition": source.definition}
    if not definitions or not len(video_ids):
        return MetricsRead(SCHEMA.empty_table(), {}, reasons)
    sql = """
        SELECT m.video_id, m.name, m.version, m.definition, m.model_hash, m.settings::text, m.status,
               m.value, m.note
        FROM generation_videometric AS m
        JOIN unnest(%(ids)s::bigint[]) AS wanted(id) ON wanted.id = m.video_id
        WHERE m.definition = ANY(%(definitions)s::text[])
    """
    digests = "{" + ",".join(entry["definition"] for entry in definitions.values()) + "}"
    table = copy_table(
        sql, {"ids": int_array_literal(video_ids), "definitions": digests}, SCHEMA, free_text=True
    ).sort_by([("video_id", "ascending"), ("name", "ascending")])
    for name, entry in definitions.items():
        mine = table.filter(pc.equal(table["name"], name))
        first = mine.slice(0, 1).to_pylist()
        entry["model_hash"] = first[0]["model_hash"] if first else ""
        entry["settings"] = json.loads(first[0]["settings"]) if first else {}
        entry["videos"] = mine.num_rows
        entry["computed"] = int(pc.sum(pc.equal(mine["status"], "computed")).as_py() or 0)
    return MetricsRead(table, definitions, reasons)


def _tallies(*, votes: pa.Table, comparisons: pa.Table, videos: pa.Table, criterion: str) -> Tallies:
    """The exported votes on ``criterion`` counted per comparison, as the agreement page counts them."""
    code = aggregate.CRITERIA.index(criterion)
    mine = votes["criterion_code"].to_numpy() == code
    ids, inverse = np.unique(votes["comparison_id"].to_numpy()[mine], return_inverse=True)
    choices = votes["choice_code"].to_numpy()[mine].astype(np.int64)  # aggregate.CHOICES: A, B, tie, both bad
    # comparisons and videos come sorted by id (exports.read).
    at = np.searchsorted(comparisons["comparison_id"].to_numpy(), ids)
    video_a = comparisons["video_a_id"].to_numpy()[at]
    video_b = comparisons["video_b_id"].to_numpy()[at]
    video_ids = videos["id"].to_numpy()
    names, codes = method_codes(videos)
    method = names[codes]
    return Tallies(
        comparison=ids.astype(np.int64),
        video_a=video_a.astype(np.int64),
        video_b=video_b.astype(np.int64),
        method_a=method[np.searchsorted(video_ids, video_a)],
        method_b=method[np.searchsorted(video_ids, video_b)],
        n_a=np.bincount(inverse[choices == 0], minlength=len(ids)),
        n_b=np.bincount(inverse[choices == 1], minlength=len(ids)),
        n_other=np.bincount(inverse[choices >= 2], minlength=len(ids)),
    )


def _number(value: float | None) -> float | None:
    return None if value is None else round(float(value), DECIMALS)


def metrics_write(
    *,
    work: Path,
    read: MetricsRead,
    votes: pa.Table,
    comparisons: pa.Table,
    videos: pa.Table,
    criteria: tuple[str, ...],
) -> dict[str, Any]:
    """Write data/metrics.parquet; return the manifest's ``metrics`` entry with the agreement figures."""
    metrics = read.table
    write.write_parquet(metrics, work / PATH)
    computed = metrics.filter(pc.equal(metrics["status"], "computed"))
    agreement: dict[str, Any] = {}
    for criterion in criteria:
        spec = metric_for(criterion)
        if spec is None:
            continue
        entry: dict[str, Any] = {"metric": spec.name, "better": spec.better}
        theirs = computed.filter(pc.equal(computed["name"], spec.name))
        if not theirs.num_rows:
            entry["reason"] = (
                read.reasons[spec.name] or f"No exported video has a {spec.label.lower()} value."
            )
            agreement[criterion] = entry
            continue
        values = dict(zip(theirs["video_id"].to_pylist(), theirs["value"].to_pylist(), strict=True))
        tallies = _tallies(votes=votes, comparisons=comparisons, videos=videos, criterion=criterion)
        result = agreement_compute(tallies=tallies, values=values, better=spec.better)
        data = judged_of(votes=votes, comparisons=comparisons, videos=videos, criterion=criterion)
        order = method_order(
            scores=bt_scores(data), values_by_method=values_by_method(tallies, values), better=spec.better
        )
        entry |= {
            "agreement": _number(result.share),
            "low": _number(result.low) if result.n else None,
            "high": _number(result.high) if result.n else None,
            "n": result.n,
            "agree": result.agree,
            "judged": result.judged,
            "undecided": result.undecided,
            "missing": result.missing,
            "metric_ties": result.metric_ties,
            "tau": _number(order.tau),
            "tau_methods": len(order.methods),
        }
        agreement[criterion] = entry
    return {
        "file": PATH,
        "rows": metrics.num_rows,
        "rule": RULE,
        "definitions": read.definitions,
        "agreement_rule": AGREEMENT_RULE,
        "agreement": agreement,
        "caveat": DLIB_CAVEAT,
    }
