"""``manage.py import_catalog PATH``: import identities, references, prompts, methods and videos."""

from __future__ import annotations

from argparse import ArgumentParser
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from generation.errors import CatalogImportError
from generation.services import catalog_import


class Command(BaseCommand):
    help = (
        "Import a catalog made elsewhere from a folder with a manifest.json (or from the manifest file). "
        "Everything is checked first; then all of it is written in one transaction, or nothing. "
        "See docs/import-format.md."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("path", metavar="PATH", type=Path, help="import folder or its manifest.json")
        parser.add_argument("--dry-run", action="store_true", help="check everything, write nothing")

    def handle(self, *args: Any, path: Path, dry_run: bool, **options: Any) -> None:
        try:
            summary = catalog_import(manifest_path=path, dry_run=dry_run)
        except CatalogImportError as error:
            count = len(error.problems)
            heading = f"Import refused, nothing was written ({count} problem{'s' if count != 1 else ''}):"
            raise CommandError("\n".join([heading, *(str(problem) for problem in error.problems)])) from error
        self.stdout.write(str(summary))
