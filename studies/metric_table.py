"""The paper table: each method's mean of each automatic metric beside people's win rates, as CSV and LaTeX.

- Metrics: the mean over the method's videos with a 95 % Student t interval (scipy's ``t.interval`` with
  the standard error of the mean). Videos are independent draws of the method (cases and seeds), and a
  t interval is what papers report beside such means; it needs two videos, and a single one has none.
  The videos are the method's judged ones in the chosen tracks and studies (the set people saw), or all
  of its videos. One definition per metric, as on the agreement page (``metric_agreement.metric_source``).
- Win rates: per criterion, the share of the method's judgments it won against the other chosen methods
  (a tie or "both bad" half a win, as the Rankings page counts them), with a 95 % percentile bootstrap
  interval that resamples raters (annotate.proportions), because one rater's judgments are not
  independent.
- Best in bold: the lowest or highest mean by the metric's ``better``, the highest win rate; equal bests
  are all bold.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from scipy import stats

from annotate.models import Criterion
from annotate.proportions import clustered_rate_interval
from generation.metrics.definitions import METRICS, Better
from generation.models import Method, Video
from lib.spreadsheet import formula_safe
from studies.metric_agreement import MetricSource, metric_source, metric_values
from studies.rankings import (
    MAX_ID,
    RankingOptionsError,
    RankingScope,
    ids_from_query,
    judged_by_criterion,
    scope_votes,
)

VIDEO_SETS = {"judged": "judged in the chosen tracks and studies", "all": "every video of the method"}
CONFIDENCE = 0.95


@dataclass(frozen=True)
class MeanCell:
    mean: float
    low: float | None  # None: a single video has no interval
    high: float | None
    n: int  # videos with a value
    best: bool = False

    @property
    def half_width(self) -> float | None:
        return None if self.high is None else self.high - self.mean


@dataclass(frozen=True)
class RateCell:
    rate: float
    low: float
    high: float
    n: int  # judgments
    best: bool = False


@dataclass(frozen=True)
class MetricColumn:
    source: MetricSource
    cells: list[MeanCell | None]  # one per method, None where no video has a value


@dataclass(frozen=True)
class RateColumn:
    criterion: str
    label: str
    cells: list[RateCell | None]


@dataclass(frozen=True)
class PaperTable:
    methods: list[str]
    videos: str  # "judged" or "all"
    metrics: list[MetricColumn]  # metrics with values
    missing: list[MetricSource]  # metrics without any value: the reason is shown instead
    rates: list[RateColumn]


# --- options ---------------------------------------------------------------------------------------


def video_set_from_query(query: Mapping[str, Any]) -> str:
    videos = str(query.get("videos") or "judged")
    if videos not in VIDEO_SETS:
        raise RankingOptionsError("videos", f"Videos must be one of {', '.join(VIDEO_SETS)}, not “{videos}”.")
    return videos


def table_methods_from_query(query: Mapping[str, Any]) -> list[Method] | None:
    """The chosen methods by id (repeated or comma separated); None when none is named."""
    ids = set(ids_from_query(query, "methods"))
    if not ids:
        return None
    found = {m.pk: m for m in Method.objects.filter(pk__in=[pk for pk in ids if pk <= MAX_ID])}
    missing = sorted(ids - set(found))
    if missing:
        listed = ", ".join(map(str, missing))
        message = f"No method with id {listed}." if len(missing) == 1 else f"No methods with ids {listed}."
        raise RankingOptionsError("methods", message, not_found=True)
    return sorted(found.values(), key=lambda m: m.name)


# --- the table ---------------------------------------------------------------------------------------


def _judged_videos(scope: RankingScope) -> dict[int, int]:
    """Video → method of every video in a comparison judged in the scope."""
    pairs = (
        scope_votes(scope)
        .values_list(
            "comparison__video_a_id",
            "comparison__video_a__method_id",
            "comparison__video_b_id",
            "comparison__video_b__method_id",
        )
        .distinct()
    )
    videos: dict[int, int] = {}
    for video_a, method_a, video_b, method_b in pairs:
        videos[video_a], videos[video_b] = method_a, method_b
    return videos


def mean_cell(values: Sequence[float]) -> MeanCell:
    """The mean with its 95 % t interval (none for a single value)."""
    data = np.asarray(values, dtype=np.float64)
    mean = float(data.mean())
    if len(data) < 2:
        return MeanCell(mean, None, None, len(data))
    sem = float(stats.sem(data))
    if sem == 0.0:  # every value equal: scipy would answer NaN for a zero scale
        return MeanCell(mean, mean, mean, len(data))
    low, high = stats.t.interval(CONFIDENCE, len(data) - 1, loc=mean, scale=sem)
    return MeanCell(mean, float(low), float(high), len(data))


def _with_best(cells: list[Any], key: str, better: Better) -> list[Any]:
    present = [getattr(c, key) for c in cells if c is not None]
    if not present:
        return cells
    best = min(present) if better == "lower" else max(present)
    return [None if c is None else replace(c, best=math.isclose(getattr(c, key), best)) for c in cells]


def paper_table(
    *, scope: RankingScope, methods: Sequence[Method] | None, videos: str = "judged"
) -> PaperTable:
    """The chosen methods (default: those judged in the scope, else every method) as table rows."""
    judged = _judged_videos(scope)
    if methods is None:
        chosen = list(Method.objects.filter(pk__in=set(judged.values())).order_by("name"))
        methods = chosen or list(Method.objects.order_by("name"))
    ids = [m.pk for m in methods]
    names = {m.pk: m.name for m in methods}
    if videos == "judged":
        video_method = {v: m for v, m in judged.items() if m in names}
    else:
        video_method = dict(Video.objects.filter(method_id__in=ids).values_list("pk", "method_id"))

    columns, missing = [], []
    for name in METRICS:
        source = metric_source(name)
        if not source.has_values:
            missing.append(source)
            continue
        by_method: dict[int, list[float]] = {}
        for video, value in sorted(metric_values(source, list(video_method)).items()):
            by_method.setdefault(video_method[video], []).append(value)
        cells = [mean_cell(by_method[pk]) if pk in by_method else None for pk in ids]
        columns.append(MetricColumn(source, _with_best(cells, "mean", source.spec.better)))

    return PaperTable(
        methods=[names[pk] for pk in ids],
        videos=videos,
        metrics=columns,
        missing=missing,
        rates=_rate_columns(scope, [names[pk] for pk in ids]),
    )


def _rate_columns(scope: RankingScope, methods: list[str]) -> list[RateColumn]:
    """Per judged criterion, each method's win rate against the other chosen methods."""
    columns = []
    for criterion, data in judged_by_criterion(scope).items():
        code = {name: k for k, name in enumerate(data.methods)}
        inside = np.array([name in methods for name in data.methods], dtype=bool)
        between = inside[data.first] & inside[data.second]
        cells: list[RateCell | None] = []
        for method in methods:
            k = code.get(method)
            if k is None:
                cells.append(None)
                continue
            as_first, as_second = between & (data.first == k), between & (data.second == k)
            won = np.concatenate([data.outcome[as_first], 1.0 - data.outcome[as_second]])
            if not len(won):
                cells.append(None)
                continue
            raters = np.concatenate([data.rater[as_first], data.rater[as_second]])
            _, index = np.unique(raters, return_inverse=True)
            low, high = clustered_rate_interval(
                np.bincount(index, won), np.bincount(index).astype(np.float64)
            )
            cells.append(RateCell(float(won.mean()), low, high, len(won)))
        if any(cells):
            label = str(Criterion(criterion).label)
            columns.append(RateColumn(criterion, label, _with_best(cells, "rate", "higher")))
    return columns


# --- downloads -----------------------------------------------------------------------------------------


def paper_table_csv(table: PaperTable) -> str:
    """One row per method, every number at full precision; empty cells where there is none."""
    header = ["method"]
    for column in table.metrics:
        name = column.source.spec.name
        header += [f"{name}_mean", f"{name}_low", f"{name}_high", f"{name}_videos", f"{name}_best"]
    for rates in table.rates:
        c = rates.criterion
        header += [f"{c}_win_rate", f"{c}_low", f"{c}_high", f"{c}_judgments", f"{c}_best"]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)

    def number(value: float | None) -> str:
        return "" if value is None else f"{value:.6g}"

    for row, method in enumerate(table.methods):
        line = [formula_safe(method)]
        for column in table.metrics:
            cell = column.cells[row]
            line += (
                [number(cell.mean), number(cell.low), number(cell.high), str(cell.n), str(int(cell.best))]
                if cell
                else [""] * 5
            )
        for rates in table.rates:
            rate = rates.cells[row]
            line += (
                [number(rate.rate), number(rate.low), number(rate.high), str(rate.n), str(int(rate.best))]
                if rate
                else [""] * 5
            )
        writer.writerow(line)
    return buffer.getvalue()


_LATEX_SPECIAL = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
}


def latex_escape(text: str) -> str:
    return "".join(_LATEX_SPECIAL.get(char, char) for char in text)


def decimals(values: Sequence[float]) -> int:
    """Decimals that give the column's largest mean three significant digits."""
    largest = max((abs(v) for v in values), default=0.0)
    if largest == 0.0:
        return 3
    return max(0, 2 - math.floor(math.log10(largest)))


def paper_table_latex(table: PaperTable) -> str:
    """A booktabs tabular (``\\usepackage{booktabs}``): mean ± t-interval half-width, win rates in %."""
    arrows = {"lower": r"$\downarrow$", "higher": r"$\uparrow$"}
    heads = ["Method"]
    heads += [f"{latex_escape(c.source.spec.label)} {arrows[c.source.spec.better]}" for c in table.metrics]
    heads += [f"{latex_escape(r.label)} (win \\%) {arrows['higher']}" for r in table.rates]
    lines = [
        "% Metrics: mean over videos (" + VIDEO_SETS[table.videos] + ") with the half-width of its 95 % "
        "Student t interval;",
        "% win rates: share of judgments won against the other methods of the table (ties half), 95 % "
        "interval by a bootstrap over raters in the CSV. Best in bold.",
        r"\begin{tabular}{l" + "r" * (len(heads) - 1) + "}",
        r"\toprule",
        " & ".join(heads) + r" \\",
        r"\midrule",
    ]
    places = [decimals([c.mean for c in column.cells if c]) for column in table.metrics]
    for row, method in enumerate(table.methods):
        cells = [latex_escape(method)]
        for column, digits in zip(table.metrics, places, strict=True):
            cell = column.cells[row]
            if cell is None:
                cells.append("--")
                continue
            text = f"{cell.mean:.{digits}f}"
            text = rf"\textbf{{{text}}}" if cell.best else text
            if cell.half_width is not None:
                text += rf" {{\scriptsize $\pm$ {cell.half_width:.{digits}f}}}"
            cells.append(text)
        for rates in table.rates:
            rate = rates.cells[row]
            if rate is None:
                cells.append("--")
                continue
            text = f"{100 * rate.rate:.1f}"
            cells.append(rf"\textbf{{{text}}}" if rate.best else text)
        lines.append(" & ".join(cells) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}", ""]
    return "\n".join(lines)


def table_as_dict(table: PaperTable) -> dict[str, Any]:
    """JSON-ready, as the API answers it: one entry per method in each column, null where none."""

    def cells(values: Sequence[Any], fields: tuple[str, ...]) -> list[dict[str, Any] | None]:
        return [
            None if c is None else {"method": m} | {f: getattr(c, f) for f in fields}
            for m, c in zip(table.methods, values, strict=True)
        ]

    return {
        "methods": table.methods,
        "videos": table.videos,
        "metrics": [
            {
                "name": c.source.spec.name,
                "display_name": c.source.spec.label,
                "unit": c.source.spec.unit,
                "better": c.source.spec.better,
                "version": c.source.version,
                "definition": c.source.definition,
                "cells": cells(c.cells, ("mean", "low", "high", "n", "best")),
            }
            for c in table.metrics
        ],
        "missing": [{"name": s.spec.name, "reason": s.reason} for s in table.missing],
        "win_rates": [
            {"criterion": r.criterion, "cells": cells(r.cells, ("rate", "low", "high", "n", "best"))}
            for r in table.rates
        ],
    }
