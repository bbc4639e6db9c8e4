"""Upgrading a database that already holds studies: every migration applies over real rows."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

BEFORE_CHECKS = [("studies", "0003_watch_rule")]


@pytest.mark.django_db(transaction=True)
def test_a_database_with_an_open_study_migrates_through_the_quality_checks_to_the_latest():
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE_CHECKS)
    old = executor.loader.project_state(BEFORE_CHECKS).apps
    ours = old.get_model("generation", "Method").objects.create(name="ours", role="ours")
    old.get_model("studies", "Study").objects.create(
        name="an open study", ours=ours, status="open", matchups_per_participant=8, public_slug="open1"
    )

    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())

    latest = executor.loader.project_state(executor.loader.graph.leaf_nodes()).apps
    study = latest.get_model("studies", "Study").objects.get(name="an open study")
    # An open study keeps the design its answers were given under: no gold or repeated matchups.
    assert (study.gold_matchups_per_participant, study.repeat_matchups_per_participant) == (0, 0)
