"""The dataset card: README.md with Hugging Face YAML front matter (configs → data_files).

``datasets.load_dataset(<snapshot dir>, "pairs")`` and the Hub read the configs; each config's files are
plain Parquet, CSV or JSON Lines, so ``load_dataset("parquet", data_files=…)`` works on them directly.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from exports.options import SPLITS, ExportOptions


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


def _split_files(pattern: str, rows: dict[str, int] | None = None) -> list[str]:
    """YAML lines for the splits of one config; a split with no row is left out (the Hub cannot show it)."""
    lines = ["  data_files:"]
    for split in SPLITS:
        if rows is not None and not rows.get(split):
            continue
        lines += [f"  - split: {split}", f"    path: {pattern.format(split=split)}"]
    return lines if len(lines) > 1 else []


def front_matter(manifest: dict[str, Any], options: ExportOptions) -> str:
    counts = manifest["counts"]
    split_rows = manifest["split"]["pairs"]
    lines = [
        "---",
        f"pretty_name: {json.dumps(options.name)}",
        "license: other",
        "tags:",
        "- human-preference",
        "- video-generation",
        "- identity-preservation",
        "- rlhf",
        "size_categories:",
        f"- {_size_category(counts['pairs'])}",
        "configs:",
    ]
    configs: list[tuple[str, list[str]]] = [
        ("pairs", _split_files("data/pairs/{split}.parquet", split_rows)),
        ("votes", ["  data_files:", "  - split: train", "    path: data/votes.parquet"]),
        ("videos", ["  data_files:", "  - split: train", "    path: data/videos.parquet"]),
        ("references", ["  data_files:", "  - split: train", "    path: data/references.parquet"]),
    ]
    # Parquet configs only: datasets picks one reader for every config of a folder, by the most common
    # file type, so the CSV and JSON Lines adapters are loaded by path (see the card's Loading section).
    for name, rows in counts["adapters"]["dpo_pairs"].items():
        configs.append((f"dpo_{name}", _split_files(f"adapters/dpo_pairs/{name}/{{split}}.parquet", rows)))
    for index, (name, files) in enumerate(configs):
        if not files:
            continue  # a config with no row at all: listing it would make the Hub fail on it
        lines.append(f"- config_name: {name}")
        if index == 0:
            lines.append("  default: true")
        lines += files
    lines.append("---")
    return "\n".join(lines) + "\n"


def _table(header: list[str], rows: list[list[Any]]) -> str:
    out = ["| " + " | ".join(header) + " |", "| " + " | ".join("---" for _ in header) + " |"]
    out += ["| " + " | ".join("—" if cell is None else str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(out)


def _number(value: float | None) -> str | None:
    return None if value is None else f"{value:.3f}"


def write_card(path: Path, *, manifest: dict[str, Any], options: ExportOptions, work: Path) -> None:
    agreement = json.loads((work / "data/agreement.json").read_text())
    counts = manifest["counts"]
    split = manifest["split"]
    aggregation = manifest["aggregation"]
    filters = manifest["filters"]
    criteria = aggregation["criteria"]
    sources = manifest.get("sources", {})
    source_names = [f"track “{t['name']}” ({t['kind']})" for t in sources.get("tracks", [])] + [
        f"study “{s['name']}”" for s in sources.get("studies", [])
    ]
    joint = aggregation["joint"]
    joint_text = f"rule {joint['rule']} over {', '.join(joint['criteria'])}" if joint else "none"
    parts = [
        front_matter(manifest, options),
        f"# {options.name}: human preferences between generated videos\n",
        "Pairwise human judgments of identity-preserving generated videos (two videos of the same person "
        "and prompt), exported by the preference annotation platform for the reinforcement-learning "
        f"stage. Schema version {manifest['schema_version']}, app version {manifest['app_version']}.\n",
        f"Sources: {', '.join(source_names) if source_names else 'none'}.  ",
        f"Data as of {manifest['created_at'] or '— (no judgment)'}.\n",
        "## Loading\n",
        "```python\nfrom datasets import load_dataset\n\n"
        "# From this folder (or the Hub), by config name:\n"
        'pairs = load_dataset("path/to/snapshot", "pairs")\n'
        "# or file by file (datasets refuses a split without rows: leave empty ones out):\n"
        'pairs = load_dataset("parquet", data_files={"train": "data/pairs/train.parquet", '
        '"validation": "data/pairs/validation.parquet", "test": "data/pairs/test.parquet"})\n'
        'votes = load_dataset("parquet", data_files="data/votes.parquet")["train"]\n'
        "# the text adapters by path:\n"
        'trl = load_dataset("json", data_files={"train": "adapters/trl/train.jsonl"})\n'
        'videoalign = load_dataset("csv", data_files={"train": "adapters/videoalign/train.csv"})\n```\n',
        "## Counts\n",
        _table(
            ["", "train", "validation", "test"],
            [
                ["pairs (comparisons)", *[split["pairs"][s] for s in SPLITS]],
                ["identities", *[split["identities"][s] for s in SPLITS]],
                ["prompts", *[split["prompts"][s] for s in SPLITS]],
            ],
        )
        + "\n",
        f"{counts['votes']} judgments by {counts['raters']} raters; {counts['videos']} videos, "
        f"{counts['references']} references. Prompts found in more than one split: "
        f"{split['prompts_in_several_splits']}.\n",
        "## Agreement\n",
        _table(
            [
                "criterion",
                "pairs",
                "raters per pair (mean)",
                "percent agreement",
                "Krippendorff's alpha (nominal)",
                "pairs passing",
            ],
            [
                [
                    c,
                    agreement["criteria"][c]["pairs"],
                    _number(agreement["criteria"][c]["raters_per_pair_mean"]),
                    _number(agreement["criteria"][c]["percent_agreement"]),
                    _number(agreement["criteria"][c]["krippendorff_alpha_nominal"]),
                    counts["pairs_passing"][c],
                ]
                for c in criteria
            ],
        )
        + "\n",
        "Computed over every exported comparison, before the minimum-votes and minimum-majority filters, "
        "with the categories A, B and tie.\n",
        "## Filters and aggregation\n",
        f"- Criteria: {', '.join(criteria) or 'none'}.",
        f"- Minimum votes per comparison: {filters['min_votes']}; minimum majority share: "
        f"{filters['min_majority']}.",
        f"- Ties: {aggregation['ties']}. Excluded raters: {filters['excluded_raters']} (besides every rater "
        "marked excluded and every withdrawn study participant, who are never exported).",
        f"- Splits: {', '.join(f'{s} {f}' for s, f in filters['split'].items())}, "
        f"seed {filters['split_seed']}, "
        "grouped by identity: no identity is in two splits; an identity joins the split that already holds "
        "most of its prompts while that split is below its share, so prompts stay apart where the shares "
        "allow.",
        f"- Joint label: {joint_text}.",
        f"- Media: {manifest['media']['mode']}.\n",
        "For each criterion `c` the pairs carry `c_n_a`, `c_n_b`, `c_n_tie`, `c_label` (A | B | tie | none), "
        "`c_p_a` = (n_a + n_tie/2)/n, `c_majority_share` (top count / n) and `c_passes_filter`. The label is "
        "the plurality answer; when two answers share the top count it is tie; none when there is no counted "
        "vote. A comparison passes when n ≥ min votes, majority share ≥ min majority, and its label is A or "
        "B (or tie when ties are kept).\n",
        "Joint rules: `all`: every chosen criterion passes with the same label; `no_conflict`: at least one "
        "passes and none of the passing ones contradict (A against B); `mean`: the mean `p_a` of the passing "
        "criteria, A above 0.5, B below, tie at 0.5. `joint_p_a` is that mean for every rule.\n",
        "## Files\n",
        _table(
            ["file", "what"],
            [
                ["`data/votes.parquet`", "one row per judgment (raw, before aggregation)"],
                [
                    "`data/pairs/{train,validation,test}.parquet`",
                    "one row per comparison, per-criterion counts",
                ],
                ["`data/videos.parquet`", "one row per video with its generation metadata"],
                ["`data/references.parquet`", "one row per reference of the identities"],
                ["`data/agreement.json`", "agreement per criterion"],
                [
                    "`adapters/videoalign/<split>.csv`",
                    "VideoAlign-style: path_A, path_B, prompt, one A/B/same "
                    "column per criterion, fps and frame counts",
                ],
                [
                    "`adapters/dpo_pairs/<criterion>/<split>.parquet`",
                    "caption, video_0, video_1, label_0, label_1 (ties left out)",
                ],
                ["`adapters/trl/<split>.jsonl`", "prompt, chosen, rejected, criterion"],
                ["`manifest.json`", "options, counts, sha256 of every file"],
            ],
        )
        + "\n",
        "## Where this snapshot departs from the format (schema v1), and why\n",
        "- `manifest.json`'s `created_at` is the time of the newest exported judgment, not the wall-clock "
        "time of the run: the same database and options then give byte-identical files, this manifest "
        "and card included. The platform's export run records when it ran.",
        "- A *both bad* answer prefers neither video and is counted in `n_tie` (as arena-style ratings count "
        "it); `votes.parquet` keeps the raw answer.",
        "- With ties dropped, tie and both-bad answers are left out of every count (`n_tie` is 0), a "
        "comparison whose A and B counts are equal is labelled tie and does not pass; `votes.parquet` "
        "keeps them.",
        "- Paths (`video_a_path`, `path`, adapter columns) point into `media/` named by sha256 even with "
        "`--media none`; `storage_name` in `videos` and `references` is the file's name under the platform's "
        "media folder, to fetch it there. With `--media link` the files in `media/` are symbolic links to "
        "that folder: they resolve only where it is mounted.",
        "- `videos.settings` holds every generation setting as JSON (the method's settings overlaid by the "
        "video's), including those broken out in their own columns, so nothing is lost when a backend names "
        "a setting differently.",
        "- Extra columns beyond the format: `method_id`, `method`, `method_role`, `checkpoint`, `origin`, "
        "`storage_name` in videos; `fps`, `num_frames`, `position`, `bytes`, `storage_name` in references; "
        "`joint_p_a` in pairs.",
        "- Adapters hold only comparisons that pass the filters; the VideoAlign CSV has one row per "
        "comparison with at least one passing criterion and leaves a criterion's cell empty where it does "
        "not pass. "
        "The prompt in the adapters is the one raters read (the differential prompt for differential tasks).",
        "- DPO pairs and TRL rows exist per criterion (and for the joint label when one is configured).\n",
        "## Privacy\n",
        "Raters appear only as salted hashes (`rater_id`); no name, e-mail or IP address is exported. "
        "Withdrawn study participants and excluded raters appear in no file. Identities are synthetic or "
        "shown under the consent recorded in `references.consent_note`.\n",
    ]
    path.write_text("\n".join(parts), encoding="utf-8")
