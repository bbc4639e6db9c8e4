"""What a quality page shows (a track's, a study's): the stored report's rows with each rater's standing,
sorted, and the scatter figure drawn as SVG."""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

# A Figure of its own, without pyplot: no global state, no display backend, safe in threads.
from matplotlib.figure import Figure

from annotate.models import QualityReport, RaterDecision, TrackSeat

# ?sort= values: a column of the table, "-" in front for descending.
SORT_KEYS = {
    "rater": "name",
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
# A study's page: speed figures per matchup instead of the median time per answer.
STUDY_SORT_KEYS = {
    **{key: column for key, column in SORT_KEYS.items() if key != "time"},
    "seconds": "median_seconds",
    "faster": "faster_than_videos",
    "same_side": "same_side",
}
DEFAULT_SORT = "-flags"


@dataclass
class QualityRow:
    """One rater's stored figures (``figures``: annotate.quality's columns and the scope's own) with
    their standing: ``subject`` is the track's seat or the study's participant (None when unknown)."""

    figures: dict[str, Any]
    subject: Any
    name: str
    last_decision: RaterDecision | None
    excluded: bool = False
    state: str = ""  # a study's: included / excluded / screened out / withdrawn
    no_figures_reason: str = ""  # why a row without figures has none

    def __getattr__(self, name: str) -> Any:  # the template reads figures as attributes
        try:
            return self.__dict__["figures"][name]
        except KeyError:
            raise AttributeError(name) from None

    @property
    def flag_count(self) -> int:
        return len(self.figures.get("flags") or [])

    @property
    def median_time_seconds(self) -> float | None:
        ms = self.figures.get("median_ms")
        return None if ms is None else ms / 1000


def sort_param(value: str | None, keys: dict[str, str] = SORT_KEYS) -> str:
    """The asked sort if the whitelist knows it, else the default (most flags first)."""
    if value and value.lstrip("-") in keys:
        return value
    return DEFAULT_SORT


def quality_rows(*, report: QualityReport | None, seats: dict[int, TrackSeat], sort: str) -> list[QualityRow]:
    """A track's rows: each with its seat, named by the annotator's user name."""
    rows = []
    for figures in report.raters if report else []:
        seat = seats.get(figures["rater"])
        rows.append(
            QualityRow(
                figures=figures,
                subject=seat,
                name=seat.user.get_username() if seat else f"rater {figures['rater']}",
                last_decision=getattr(seat, "last_decision", None),
                excluded=bool(seat and seat.excluded),
            )
        )
    return rows_sorted(rows, sort)


def rows_sorted(rows: list[QualityRow], sort: str, keys: dict[str, str] = SORT_KEYS) -> list[QualityRow]:
    key, descending = keys[sort.lstrip("-")], sort.startswith("-")

    def value(row: QualityRow) -> Any:
        return getattr(row, key) if key in ("name", "flag_count") else row.figures.get(key)

    present = sorted((r for r in rows if value(r) is not None), key=value, reverse=descending)
    return present + [r for r in rows if value(r) is None]  # no figure: last either way


def quality_figure_svg(*, report: QualityReport | None, names: dict[int, str]) -> bytes:
    """Gold accuracy (or, where no rater answered gold, Dawid–Skene reliability) against left share, one
    point per rater: careful raters gather high and near the middle; always-Left raters sit at the right,
    random ones low. Flagged points carry their rater's name from ``names`` (by rater id)."""
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
                axes.annotate(names.get(r["rater"], str(r["rater"])), (x, y), fontsize=7)
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


HEADERS = (
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
STUDY_HEADERS = (
    ("rater", "Participant", False),
    *(h for h in HEADERS[1:] if h[0] not in ("time", "flags")),
    ("seconds", "Median seconds a matchup", True),
    ("faster", "Faster than the videos", True),
    ("same_side", "All the same side", True),
    ("flags", "Flags and notes", False),
)


def sort_headers(sort: str, headers: tuple[tuple[str, str, bool], ...] = HEADERS) -> list[SortHeader]:
    """The table's headers, each a link that sorts by it (descending first for numbers; again: reversed)."""
    current, descending = sort.lstrip("-"), sort.startswith("-")
    out = []
    for key, label, numeric in headers:
        if key == current:
            next_sort, arrow = (key if descending else f"-{key}"), ("▼" if descending else "▲")
        else:
            next_sort, arrow = (f"-{key}" if numeric or key == "flags" else key), ""
        out.append(SortHeader(key, label, numeric, next_sort, arrow))
    return out
