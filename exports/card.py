"""The dataset card: README.md with Hugging Face YAML front matter (configs → data_files).

``datasets.load_dataset(<snapshot dir>, "pairs")`` and the Hub read the configs; each config's files are
plain Parquet, CSV or JSON Lines, so ``load_dataset("parquet", data_files=…)`` works on them directly.
The words are in templates/exports/dataset_card.md; the numbers are formatted here, as text, so the
template's localisation never changes a byte of the card (the manifest hashes it).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from django.template import engines

from exports.options import SPLITS, ExportOptions

TEMPLATE = "exports/dataset_card.md"


def _size_category(rows: int) -> str:
    for limit, name in (
        (1_000, "n<1K"),
        (10_000, "1K<n<10K"),
        (100_000, "10K<n<100K"),
        (1_000_000, "100K<n<1M"),
    ):
        if rows < limit:
            return name
    return "1M<n<10M"


def _split_files(pattern: str, rows: dict[str, int] | None = None) -> list[tuple[str, str]]:
    """(split, path) of one config; a split with no row is left out (the Hub cannot show it)."""
    return [(split, pattern.format(split=split)) for split in SPLITS if rows is None or rows.get(split)]


def _configs(manifest: dict[str, Any]) -> list[dict[str, Any]]:
    """The front matter's configs with their files; the first one listed is the default."""
    configs: list[tuple[str, list[tuple[str, str]]]] = [
        ("pairs", _split_files("data/pairs/{split}.parquet", manifest["split"]["pairs"])),
        ("votes", [("train", "data/votes.parquet")]),
        ("raters", [("train", "data/raters.parquet")]),
        ("videos", [("train", "data/videos.parquet")]),
        ("references", [("train", "data/references.parquet")]),
    ]
    # Parquet configs only: datasets picks one reader for every config of a folder, by the most common
    # file type, so the CSV and JSON Lines adapters are loaded by path (see the card's Loading section).
    for name, rows in manifest["counts"]["adapters"]["dpo_pairs"].items():
        configs.append((f"dpo_{name}", _split_files(f"adapters/dpo_pairs/{name}/{{split}}.parquet", rows)))
    if diff_rows(manifest):
        configs.append(("diff", [("train", "data/diff.parquet")]))
    # A config with no row at all is left out: listing it would make the Hub fail on it.
    return [
        {"name": name, "default": index == 0, "files": files}
        for index, (name, files) in enumerate(configs)
        if files
    ]


def diff_rows(manifest: dict[str, Any]) -> int:
    """Rows of data/diff.parquet: one per judgment or pair added or removed and per label changed."""
    diff = manifest.get("diff")
    if not diff:
        return 0
    moved = ("judgments_added", "judgments_removed", "pairs_added", "pairs_removed")
    return int(sum(diff[key] for key in moved) + sum(diff["labels_changed"].values()))


def _cells(values: Iterable[Any]) -> list[str]:
    """Table cells as text; a missing value shows as a dash."""
    return ["—" if value is None else str(value) for value in values]


def _number(value: float | None) -> str | None:
    return None if value is None else f"{value:.3f}"


def card_context(
    *, manifest: dict[str, Any], options: ExportOptions, agreement: dict[str, Any]
) -> dict[str, Any]:
    """What the card template shows, every number already formatted."""
    counts = manifest["counts"]
    split = manifest["split"]
    filters = manifest["filters"]
    aggregation = manifest["aggregation"]
    criteria = aggregation["criteria"]
    sources = manifest.get("sources", {})
    return {
        "pretty_name": json.dumps(options.name),
        "size_category": _size_category(counts["pairs"]),
        "configs": _configs(manifest),
        "name": options.name,
        "schema_version": str(manifest["schema_version"]),
        "app_version": str(manifest["app_version"]),
        "tracks": sources.get("tracks", []),
        "studies": sources.get("studies", []),
        "created_at": manifest["created_at"],
        "split_pairs": _cells(split["pairs"][s] for s in SPLITS),
        "split_identities": _cells(split["identities"][s] for s in SPLITS),
        "split_prompts": _cells(split["prompts"][s] for s in SPLITS),
        "votes": str(counts["votes"]),
        "raters": str(counts["raters"]),
        "videos": str(counts["videos"]),
        "references": str(counts["references"]),
        "prompts_in_several_splits": str(split["prompts_in_several_splits"]),
        "agreement_rows": [
            _cells(
                [
                    c,
                    agreement["criteria"][c]["pairs"],
                    _number(agreement["criteria"][c]["raters_per_pair_mean"]),
                    _number(agreement["criteria"][c]["percent_agreement"]),
                    _number(agreement["criteria"][c]["krippendorff_alpha_nominal"]),
                    counts["pairs_passing"][c],
                ]
            )
            for c in criteria
        ],
        "criteria": criteria,
        "min_votes": str(filters["min_votes"]),
        "min_majority": str(filters["min_majority"]),
        "ties": aggregation["ties"],
        "excluded_raters": str(filters["excluded_raters"]),
        "split_fractions": [(s, str(f)) for s, f in filters["split"].items()],
        "split_seed": str(filters["split_seed"]),
        "joint": aggregation["joint"],
        "media": manifest["media"]["mode"],
        "extends": manifest.get("extends"),
        "diff": manifest.get("diff"),
        "diff_rows": str(diff_rows(manifest)),
    }


def write_card(path: Path, *, manifest: dict[str, Any], options: ExportOptions, work: Path) -> None:
    agreement = json.loads((work / "data/agreement.json").read_text())
    context = card_context(manifest=manifest, options=options, agreement=agreement)
    # The Django engine by name: the Jinja2 one also looks in templates/.
    text = engines["django"].get_template(TEMPLATE).render(context)
    path.write_text(text, encoding="utf-8")
