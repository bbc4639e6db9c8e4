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
    counts = manifest["counts"]
    groups = manifest.get("groups", {}).get("rows", 0)  # schema 2
    metrics = (manifest.get("metrics") or {}).get("rows", 0)  # schema 2
    configs: list[tuple[str, list[tuple[str, str]]]] = [
        ("pairs", _split_files("data/pairs/{split}.parquet", manifest["split"]["pairs"])),
        *[
            (name, [("train", f"data/{name}.parquet")])
            for name, rows in (
                ("votes", counts["votes"]),
                ("raters", counts["raters_table"]),
                ("videos", counts["videos"]),
                ("references", counts["references"]),
                ("groups", groups),
                ("metrics", metrics),
            )
            if rows
        ],
    ]
    # Parquet configs only: datasets picks one reader for every config of a folder, by the most common
    # file type, so the CSV and JSON Lines adapters are loaded by path (see the card's Loading section).
    adapters = manifest["counts"]["adapters"]
    folder = "dpo" if manifest["schema_version"] == 2 else "dpo_pairs"
    for name, rows in adapters[folder].items():
        configs.append((f"dpo_{name}", _split_files(f"adapters/{folder}/{name}/{{split}}.parquet", rows)))
    if diff_rows(manifest):
        configs.append(("diff", [("train", "data/diff.parquet")]))
    story_entry = manifest.get("stories") or {}  # schema 2
    if story_entry.get("stories"):
        configs.append(("stories", [("train", "data/stories.parquet")]))
    if story_entry.get("story_pairs"):
        configs.append(("story_pairs", [("train", "data/story_pairs.parquet")]))
    # A config with no row at all is left out: listing it would make the Hub fail on it.
    return [
        {"name": name, "default": index == 0, "files": files}
        for index, (name, files) in enumerate(configs)
        if files
    ]


def _by_path(variable: str, reader: str, pattern: str, rows: dict[str, int]) -> str | None:
    """One loading line for a CSV or JSON Lines adapter, its empty splits left out; None without rows."""
    files = {split: pattern.format(split=split) for split in SPLITS if rows.get(split)}
    if not files:
        return None
    counts = ", ".join(f"{split} {rows[split]}" for split in files)
    return f'{variable} = load_dataset("{reader}", data_files={json.dumps(files)})  # rows: {counts}'


def trainer_loads(manifest: dict[str, Any]) -> list[str]:
    """Schema 2: the card's loading lines for the adapters datasets reads by path."""
    adapters = manifest["counts"]["adapters"]
    lines: list[str | None] = []
    for name, rows in adapters["videoalign"].items():
        lines.append(_by_path(f"videoalign_{name}", "csv", f"adapters/videoalign/{name}/{{split}}.csv", rows))
    for name, rows in adapters["judge"].items():
        lines.append(_by_path(f"judge_{name}", "json", f"adapters/judge/{name}/{{split}}.jsonl", rows))
    prompts = adapters["rl_prompts"]
    lines.append(_by_path("rl_prompts", "csv", "adapters/rl_prompts/{split}.csv", prompts))
    lines.append(
        _by_path("rl_prompts_metadata", "json", "adapters/rl_prompts/{split}_metadata.jsonl", prompts)
    )
    return [line for line in lines if line is not None]


def _trainer_context(manifest: dict[str, Any]) -> dict[str, Any]:
    adapters = manifest["counts"]["adapters"]
    codes = manifest["adapters"]["codes"]
    questions = manifest["adapters"]["questions"]
    names = list(adapters["videoalign"])
    pairs = {s: f"data/pairs/{s}.parquet" for s in SPLITS if manifest["split"]["pairs"].get(s)}
    return {
        "pairs_load": f'pairs = load_dataset("parquet", data_files={json.dumps(pairs)})' if pairs else "",
        "trainer_loads": trainer_loads(manifest),
        "videoalign_dims": [
            (codes.get(n, n), n, str(sum(adapters["videoalign"][n].values())), questions[n]) for n in names
        ],
        "dpo_rows": [(n, str(sum(adapters["dpo"][n].values()))) for n in names],
        "videodpo_rows": [(n, str(adapters["videodpo"][n]["pairs"])) for n in names],
        "judge_rows": [(n, str(sum(adapters["judge"][n].values()))) for n in names],
        "rl_rows": [(s, str(adapters["rl_prompts"][s])) for s in SPLITS],
        "conditioning": manifest["adapters"]["conditioning_shown"],
        "answers": manifest["adapters"]["judge_answers"],
    }


def _leaderboard_context(manifest: dict[str, Any]) -> dict[str, Any]:
    """Schema 2: the card's leaderboard summary, from the manifest's ``leaderboard`` entry."""
    entry = manifest["leaderboard"]
    rows = []
    for criterion, board in entry["criteria"].items():
        top = "; ".join(
            f"{t['method']} {t['score']:.1f} ({t['low']:.1f}–{t['high']:.1f})" for t in board["top"]
        )
        fragility = board["fragility"]
        if fragility is None:
            fragile = "— (one method)"
        elif fragility["removals"] is None:
            fragile = f"no removal found that puts {fragility['runner_up']} above {fragility['leader']}"
        else:
            fragile = f"{fragility['removals']} (to put {fragility['runner_up']} above {fragility['leader']})"
        rows.append([criterion, top, str(board["judgments"]), str(board["raters"]), fragile])
    return {
        "leaderboard_rows": rows,
        "leaderboard_rounds": str(entry["rounds"]),
        "leaderboard_seed": str(entry["seed"]),
        "leaderboard_skipped": sorted(entry["skipped"].items()),
    }


def _metrics_context(manifest: dict[str, Any]) -> dict[str, Any]:
    """Schema 2: the card's metrics summary, from the manifest's ``metrics`` entry."""
    entry = manifest["metrics"]
    rows = []
    for criterion, figures in entry["agreement"].items():
        if "reason" in figures:
            why = figures["reason"].rstrip(".").replace("|", "/")  # a cell of a Markdown table
            rows.append([criterion, figures["metric"], f"— ({why})", "0", "—"])
            continue
        share = "—" if figures["agreement"] is None else f"{figures['agreement']:.3f}"
        if figures["low"] is not None:
            share += f" ({figures['low']:.3f}–{figures['high']:.3f})"
        tau = "—" if figures["tau"] is None else f"{figures['tau']:.3f} ({figures['tau_methods']} methods)"
        left_out = (
            f"{figures['undecided']} undecided, {figures['missing']} missing, {figures['metric_ties']} ties"
        )
        rows.append([criterion, figures["metric"], share, f"{figures['n']} ({left_out})", tau])
    definitions = [
        [name, d["version"], f"`{d['definition'][:12]}`", str(d["videos"]), str(d["computed"])]
        for name, d in entry["definitions"].items()
    ]
    return {
        "metrics_rows": str(entry["rows"]),
        "metrics_agreement": rows,
        "metrics_definitions": definitions,
        "metrics_caveat": entry["caveat"],
    }


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
        "stories": bool((manifest.get("stories") or {}).get("stories")),
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
        "v2": manifest["schema_version"] == 2,
        "extends": manifest.get("extends"),
        "diff": manifest.get("diff"),
        "diff_rows": str(diff_rows(manifest)),
    } | (
        _trainer_context(manifest) | _leaderboard_context(manifest) | _metrics_context(manifest)
        if manifest["schema_version"] == 2
        else {}
    )


def write_card(path: Path, *, manifest: dict[str, Any], options: ExportOptions, work: Path) -> None:
    agreement = json.loads((work / "data/agreement.json").read_text())
    context = card_context(manifest=manifest, options=options, agreement=agreement)
    # The Django engine by name: the Jinja2 one also looks in templates/.
    text = engines["django"].get_template(TEMPLATE).render(context)
    path.write_text(text, encoding="utf-8")
