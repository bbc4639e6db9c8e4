"""``manage.py make_gold (--criterion NAME | --track ID) [--limit N] [--seed S]``."""

from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from annotate.errors import GoldAnswerError
from annotate.gold import MADE_CRITERIA
from annotate.models import Track
from annotate.services import make_gold_pairs


class Command(BaseCommand):
    help = "Make gold comparisons (known answers) from the catalog, for a criterion or for a track's videos."

    def add_arguments(self, parser: ArgumentParser) -> None:
        target = parser.add_mutually_exclusive_group(required=True)
        target.add_argument("--criterion", help=f"one of: {', '.join(MADE_CRITERIA)}")
        target.add_argument("--track", type=int, help="id of a track: its criterion and its videos")
        parser.add_argument("--limit", type=int, default=10, help="at most this many pairs (default 10)")
        parser.add_argument("--seed", type=int, default=0, help="which videos are drawn (default 0)")

    def handle(self, *args: Any, **options: Any) -> None:
        track = None
        if options["track"] is not None:
            track = Track.objects.filter(pk=options["track"]).first()
            if track is None:
                raise CommandError(f"no such track: {options['track']}")
        try:
            answers = make_gold_pairs(
                criterion=options["criterion"], track=track, limit=options["limit"], seed=options["seed"]
            )
        except GoldAnswerError as error:
            raise CommandError(error.message) from error
        for gold in answers:
            self.stdout.write(f"comparison {gold.comparison_id}: {gold.criterion} {gold.answer}")
        self.stdout.write(f"{len(answers)} gold comparisons")
