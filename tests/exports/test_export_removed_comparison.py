"""A comparison a study admin removed from its track's pool (problem reports) exports like the others."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from django.contrib.auth.models import User

from annotate.models import TrackItem
from annotate.problem_reports import problem_reports_resolve
from annotate.vote_path import assignment_next_for, judgment_submit, problem_report_create
from exports.build import export_build
from exports.options import ExportOptions
from tests.factories import make_track

pytestmark = pytest.mark.django_db


def test_an_export_with_a_removed_comparison_builds_and_says_where_it_was_left(
    tmp_path: Path, study_admin: User
) -> None:
    voter, first, second = (User.objects.create_user(f"x-{n}") for n in range(3))
    track = make_track(annotators=[voter, first, second], methods=2, min_watch_fraction=0)
    voted = assignment_next_for(track=track, user=voter)
    judgment_submit(assignment_id=voted.pk, user=voter, side_choice="left")
    for user in (first, second):
        assignment = assignment_next_for(track=track, user=user)
        problem_report_create(
            track_id=track.pk, assignment_id=assignment.pk, user=user, reason="wrong_person"
        )
    problem_reports_resolve(track=track, item_id=voted.item_id, resolution="removed", by=study_admin)
    assert TrackItem.objects.get(pk=voted.item_id).status == "removed"

    out = export_build(options=ExportOptions(), out_dir=tmp_path / "out").path

    pairs = pd.concat(pd.read_parquet(path) for path in sorted((out / "data/pairs").glob("*.parquet")))
    row = pairs.set_index("comparison_id").loc[voted.item.comparison_id]
    assert row.identity_fidelity_n_a + row.identity_fidelity_n_b == 1
    assert row.identity_fidelity_decision == "removed"
