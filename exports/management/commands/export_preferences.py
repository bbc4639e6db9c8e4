"""``manage.py export_preferences --out DIR``: write a preference dataset snapshot (see export-spec.md)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from annotate.models import Track
from exports.build import ExportError, export_build
from exports.options import (
    DEFAULT_SCHEMA,
    DEFAULT_SPLIT,
    JOINT_RULES,
    MEDIA_MODES,
    SCHEMAS,
    ExportOptions,
    ExportOptionsError,
    parse_list,
    parse_split,
)
from exports.versions import ExtendsError, base_open
from studies.models import Study


class Command(BaseCommand):
    help = "Export judgments as a versioned preference dataset snapshot (Parquet, adapters, dataset card)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--out", required=True, type=Path, help="Snapshot folder; must not exist yet.")
        parser.add_argument("--name", default="preferences", help="Dataset name in the card and manifest.")
        parser.add_argument(
            "--extends", type=Path, metavar="OLD_DIR",
            help="An earlier snapshot with the same options: the manifest records it and what changed since.",
        )  # fmt: skip
        parser.add_argument("--tracks", help="Comma-separated track ids or names (default: every track).")
        parser.add_argument("--studies", help="Comma-separated study ids or names (default: every study).")
        parser.add_argument("--criteria", help="Comma-separated criteria (default: every judged criterion).")
        parser.add_argument("--min-votes", type=int, default=1, help="Votes a comparison needs to pass.")
        parser.add_argument("--min-majority", type=float, default=0.0, help="Majority share needed to pass.")
        ties = parser.add_mutually_exclusive_group()
        ties.add_argument("--keep-ties", dest="keep_ties", action="store_true", default=True)
        ties.add_argument("--drop-ties", dest="keep_ties", action="store_false")
        parser.add_argument(
            "--exclude-raters",
            help="Comma-separated rater ids, usernames or salted ids from an earlier export.",
        )
        parser.add_argument(
            "--split", default=",".join(map(str, DEFAULT_SPLIT)), help="train,validation,test fractions."
        )
        parser.add_argument("--split-seed", type=int, default=0)
        parser.add_argument("--media", choices=MEDIA_MODES, default="none")
        parser.add_argument("--joint-criteria", help="Comma-separated criteria combined into a joint label.")
        parser.add_argument("--joint-rule", choices=JOINT_RULES, default="all")
        parser.add_argument(
            "--schema", type=int, choices=SCHEMAS, default=DEFAULT_SCHEMA,
            help="Snapshot schema: 2 (default) or 1 for readers of the first format.",
        )  # fmt: skip

    def handle(self, *args: Any, **opts: Any) -> None:
        self.verbosity = opts["verbosity"]
        try:
            options = ExportOptions(
                tracks=tuple(_ids(opts["tracks"], Track, "tracks")),
                studies=tuple(_ids(opts["studies"], Study, "studies")),
                criteria=tuple(parse_list(opts["criteria"])),
                min_votes=opts["min_votes"],
                min_majority=opts["min_majority"],
                keep_ties=opts["keep_ties"],
                exclude_raters=tuple(parse_list(opts["exclude_raters"])),
                split=parse_split(opts["split"]),
                split_seed=opts["split_seed"],
                media=opts["media"],
                joint_criteria=tuple(parse_list(opts["joint_criteria"])),
                joint_rule=opts["joint_rule"],
                name=opts["name"],
                schema=opts["schema"],
            )
            extends = base_open(opts["extends"]) if opts["extends"] else None
            result = export_build(
                options=options, out_dir=opts["out"], progress=self._progress, extends=extends
            )
        except ExtendsError as error:
            raise CommandError(f"--extends: {error}") from error
        except (ExportOptionsError, ExportError) as error:
            raise CommandError(str(error)) from error
        counts = result.manifest["counts"]
        self.stdout.write(
            f"Wrote {counts['votes']} votes, {counts['pairs']} pairs and {counts['videos']} videos "
            f"to {result.path}"
        )
        diff = result.manifest["diff"]
        if diff:
            self.stdout.write(
                f"Since {result.manifest['extends']['name']}: {diff['judgments_added']} judgments added, "
                f"{diff['judgments_removed']} removed; {diff['pairs_added']} pairs added, "
                f"{diff['pairs_removed']} removed; labels changed: {diff['labels_changed']}"
            )

    def _progress(self, fraction: float, message: str) -> None:
        if self.verbosity >= 2:
            print(f"{fraction:5.0%} {message}", file=sys.stderr)


def _ids(text: str | None, model: type[Track] | type[Study], field: str) -> list[int]:
    """Ids from a comma-separated list of ids or names."""
    ids = []
    for token in parse_list(text):
        if token.isdigit():
            ids.append(int(token))
            continue
        row = model.objects.filter(name=token).order_by("pk").first()
        if row is None:
            raise ExportOptionsError(field, f"no {model._meta.verbose_name} named {token!r}")
        ids.append(row.pk)
    return ids
