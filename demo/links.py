"""The links ``make demo`` prints. Apps add theirs here as they gain pages."""

from __future__ import annotations

from django.db import DatabaseError

from demo.study import demo_story_study_join_path, demo_study_join_path


def _study_links(base_url: str) -> list[tuple[str, str]]:
    links = [("User studies (study admin)", f"{base_url}/studies/")]
    for label, join_path in (
        ("Demo study (participant)", demo_study_join_path),
        ("Demo story study (participant)", demo_story_study_join_path),
    ):
        try:
            path = join_path()
        except DatabaseError:  # not migrated yet: the banner still prints the other links
            path = None
        if path:
            links.append((label, f"{base_url}{path}"))
    return links


def demo_links(base_url: str) -> list[tuple[str, str]]:
    return [
        ("Sign in", f"{base_url}/accounts/login/"),
        ("My tracks (annotator)", f"{base_url}/tracks/"),
        ("Tracks (study admin)", f"{base_url}/manage/tracks/"),
        ("Narrative track (annotator)", f"{base_url}/tracks/"),
        ("Rankings (study admin, ML team)", f"{base_url}/manage/rankings/"),
        ("Metrics (study admin, ML team)", f"{base_url}/manage/metrics/"),
        ("Metrics against people (study admin, ML team)", f"{base_url}/manage/metrics/agreement/"),
        ("Generation jobs (ML team)", f"{base_url}/generation/"),
        ("Exports (ML team)", f"{base_url}/manage/exports/"),
        ("Catalog admin (study admin)", f"{base_url}/admin/"),
        *_study_links(base_url),
        ("Health", f"{base_url}/healthz"),
    ]
