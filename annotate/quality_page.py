"""What the quality page of a track shows: the stored report's rows with each seat's standing, sorted,
and the scatter figure drawn as SVG."""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

# A Figure of its own, without pyplot: no global state, no display backend, safe in threads.
from matplotlib.figure import Figure

from annotate.models import QualityReport, TrackRaterDecision, TrackSeat

# ?sort= values: a column of the table, "-" in front for descending.
SORT_KEYS = {
    "rater": "username",
    "votes": "votes",
    "gold": "gold_accuracy",
    "consistency": "self_consistency",
    "left": "left_share",
    "left_p": "left_p_holm",
    "e": "contradiction_e",
    "reliability": "ds_reliability",
    "spamming": "mace_spamming",
    "time": "median_ms",
    "flags": "flag_count",
}
DEFAULT_SORT = "-flags"


@dataclass
class QualityRow:
    """One rater's stored figures (``figures``: annotate.quality's columns) with their seat's standing."""

    figures: dict[str, Any]
    seat: TrackSeat | None
    username: str
    last_decision: TrackRaterDecision | None

    def __getattr__(self, name: str) -> Any:  # the template reads figures as attributes
        try:
            return self.__dict__["figures"][name]
        except KeyError:
            raise AttributeError(name) from None

    @property
    def flag_count(self) -> int:
        return len(self.figures.get("flags") or [])

    @property
    def excluded(self) -> bool:
        return bool(self.seat and self.seat.excluded)

    @property
    def median_seconds(self) -> float | None:
        ms = self.figures.get("median_ms")
        return None if ms is None else ms / 1000


def sort_param(value: str | None) -> str:
    """The asked sort if the whitelist knows it, else the default (most flags first)."""
    if value and value.lstrip("-") in SORT_KEYS:
        return value
    return DEFAULT_SORT


def quality_rows(*, report: QualityReport | None, seats: dict[int, TrackSeat], sort: str) -> list[QualityRow]:
    rows = []
    for figures in report.raters if report else []:
        seat = seats.get(figures["rater"])
        rows.append(
            QualityRow(
                figures=figures,
                seat=seat,
                username=seat.user.get_username() if seat else f"rater {figures['rater']}",
                last_decision=getattr(seat, "last_decision", None),
            )
        )
    key, descending = SORT_KEYS[sort.lstrip("-")], sort.startswith("-")

    def value(row: QualityRow) -> Any:
        return getattr(row, key) if key in ("username", "flag_count") else row.figures.get(key)

    present = sorted((r for r in rows if value(r) is not None), key=value, reverse=descending)
    return present + [r for r in rows if value(r) is None]  # no figure: last either way


def quality_figure_svg(*, report: QualityReport | None, seats: dict[int, TrackSeat]) -> bytes:
    """Gold accuracy (or, where no rater answered gold, Dawid–Skene reliability) against left share, one
    point per rater: careful raters gather high and near the middle; always-Left raters sit at the right,
    random ones low."""
    rows = report.raters if report else []
    use_gold = any(r.get("gold_accuracy") is not None for r in rows)
    y_key, y_label = ("gold_accuracy", "gold accuracy") if use_gold else ("ds_reliability", "reliability")
    figure = Figure(figsize=(6, 4))
    axes = figure.subplots()
    for flagged, colour, label in ((False, "#4a6fd1", "no flag"), (True, "#c0392b", "flagged")):
        points = [
            (r["left_share"], r[y_key], r)
            for r in rows
            if r.get("left_share") is not None
            and r.get(y_key) is not None
            and bool(r.get("flags")) == flagged
        ]
        axes.scatter([p[0] for p in points], [p[1] for p in points], c=colour, label=label, s=28)
        if flagged:
            for x, y, r in points:
                seat = seats.get(r["rater"])
                axes.annotate(seat.user.get_username() if seat else str(r["rater"]), (x, y), fontsize=7)
    axes.axvline(0.5, color="#999999", linewidth=0.8, linestyle="--")
    axes.set_xlim(0, 1)
    axes.set_ylim(0, 1.02)
    axes.set_xlabel("left share of decisive answers")
    axes.set_ylabel(y_label)
    axes.legend(loc="lower left", fontsize=8)
    figure.tight_layout()
    out = io.StringIO()
    figure.savefig(out, format="svg")
    return out.getvalue().encode()


@dataclass(frozen=True)
class SortHeader:
    key: str
    label: str
    numeric: bool
    next_sort: str  # what a click on the header asks for
    arrow: str  # "▲" / "▼" on the column sorted by, else ""


_HEADERS = (
    ("rater", "Annotator", False),
    ("votes", "Votes", True),
    ("gold", "Gold correct (95 % interval)", True),
    ("consistency", "Repeats same", True),
    ("left", "Left share", True),
    ("left_p", "Holm p", True),
    ("e", "Crowd e-value", True),
    ("reliability", "DS reliability", True),
    ("spamming", "MACE spamming", True),
    ("time", "Median time", True),
    ("flags", "Flags and notes", False),
)


def sort_headers(sort: str) -> list[SortHeader]:
    """The table's headers, each a link that sorts by it (descending first for numbers; again: reversed)."""
    current, descending = sort.lstrip("-"), sort.startswith("-")
    headers = []
    for key, label, numeric in _HEADERS:
        if key == current:
            next_sort, arrow = (key if descending else f"-{key}"), ("▼" if descending else "▲")
        else:
            next_sort, arrow = (f"-{key}" if numeric or key == "flags" else key), ""
        headers.append(SortHeader(key, label, numeric, next_sort, arrow))
    return headers
