"""Launch, follow and cancel generation jobs through the API."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from generation.models import GenerationJob, Method
from tests.factories import IdentityFactory, MethodFactory, PromptFactory, make_track, make_video


def _procedural_method() -> Method:
    # The procedural backend needs no model, so launching checks nothing heavy.
    return MethodFactory(
        name="cartoon",
        backend=Method.Backend.PROCEDURAL,
        settings={"width": 32, "height": 32, "num_frames": 4},
    )


def test_the_ml_team_launches_follows_and_cancels_a_generation_job(
    ml_api: APIClient, django_capture_on_commit_callbacks
) -> None:
    method, identity, prompt = _procedural_method(), IdentityFactory(), PromptFactory()
    body = {"method": method.pk, "identities": [identity.pk], "prompts": [prompt.pk], "seeds": 2}
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = ml_api.post("/api/generation-jobs/", body, format="json")
    assert response.status_code == 202
    job = response.json()
    assert (job["total"], job["queued"], job["seeds"]) == (2, 2, [0, 1])
    assert callbacks  # the render tasks, once committed
    detail = ml_api.get(f"/api/generation-jobs/{job['id']}/").json()
    assert [item["seed"] for item in detail["items"]] == [0, 1]
    listed = ml_api.get(f"/api/generation-jobs/?method={method.pk}").json()
    assert [j["id"] for j in listed["results"]] == [job["id"]]
    cancelled = ml_api.post(f"/api/generation-jobs/{job['id']}/cancel/").json()
    assert cancelled["cancelled"] == 2
    assert GenerationJob.objects.get().cancel_requested


def test_a_job_that_cannot_be_made_gets_400(ml_api: APIClient) -> None:
    method = _procedural_method()
    body = {"method": method.pk, "identities": [], "prompts": [PromptFactory().pk], "seeds": 1}
    response = ml_api.post("/api/generation-jobs/", body, format="json")
    assert response.status_code == 400
    body["identities"], body["seeds"] = [IdentityFactory().pk], "many"
    response = ml_api.post("/api/generation-jobs/", body, format="json")
    assert response.status_code == 400 and "seeds" in response.json()


def _raw_body(overrides: str) -> str:
    """A launch with the settings given as JSON text, which may hold what json.dumps would not write."""
    method, identity, prompt = _procedural_method(), IdentityFactory(), PromptFactory()
    ids = f'"method": {method.pk}, "identities": [{identity.pk}], "prompts": [{prompt.pk}]'
    return f'{{{ids}, "seeds": 1, "settings": {overrides}}}'


@pytest.mark.parametrize(
    ("overrides", "named"),
    [
        ('{"fidelity": 1e400}', "fidelity"),
        ('{"fidelity": -1e400}', "fidelity"),
        ('{"style": "a\\u0000b"}', "style"),
        ('{"extra": {"inner": [1, 1e400]}}', "extra.inner[1]"),
    ],
)
def test_a_setting_postgresql_cannot_store_gets_400_naming_it(
    ml_api: APIClient, overrides: str, named: str
) -> None:
    response = ml_api.post("/api/generation-jobs/", _raw_body(overrides), content_type="application/json")
    assert response.status_code == 400
    assert named in response.json()["settings"][0]
    assert not GenerationJob.objects.exists()


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_a_setting_that_is_not_json_gets_400(ml_api: APIClient, constant: str) -> None:
    body = _raw_body(f'{{"fidelity": {constant}}}')
    response = ml_api.post("/api/generation-jobs/", body, content_type="application/json")
    assert response.status_code == 400
    assert not GenerationJob.objects.exists()


def test_the_job_list_is_paginated_like_the_other_lists(ml_api: APIClient) -> None:
    method = _procedural_method()
    made = [
        ml_api.post(
            "/api/generation-jobs/",
            {
                "method": method.pk,
                "identities": [IdentityFactory().pk],
                "prompts": [PromptFactory().pk],
                "seeds": 1,
            },
            format="json",
        ).json()["id"]
        for _ in range(3)
    ]
    first = ml_api.get("/api/generation-jobs/?page_size=2").json()
    assert [j["id"] for j in first["results"]] == made[:2]
    assert first["results"][0]["total"] == 1  # each job with its progress
    second = ml_api.get(first["next"]).json()
    assert [j["id"] for j in second["results"]] == made[2:] and second["next"] is None
    assert ml_api.get("/api/generation-jobs/?page_size=0").status_code == 400


def test_a_rematch_through_the_api_renders_the_old_methods_cases_into_a_track(
    ml_api: APIClient, django_capture_on_commit_callbacks
) -> None:
    old = MethodFactory(name="round-1")
    cases = [(IdentityFactory(), PromptFactory(), seed) for seed in (3, 8)]
    for identity, prompt, seed in cases:
        make_video(method=old, identity=identity, prompt=prompt, seed=seed, frames=4, size=32)
    track = make_track(methods=2)
    new = _procedural_method()
    body = {"method": new.pk, "match_method": old.pk, "extend_track": track.pk}

    with django_capture_on_commit_callbacks(execute=False):
        response = ml_api.post("/api/generation-jobs/", body, format="json")

    assert response.status_code == 202 and response.json()["seeds"] == [3, 8]
    job = GenerationJob.objects.get()
    assert (job.match_method, job.extend_track_id) == (old, track.pk)
    assert sorted(job.items.values_list("seed", flat=True)) == [3, 8]
    mixed = ml_api.post("/api/generation-jobs/", body | {"seeds": 2}, format="json")
    assert mixed.status_code == 400 and "give no identities, prompts or seeds" in str(mixed.json())


def test_a_running_job_reports_its_measured_seconds_per_step(ml_api: APIClient) -> None:
    from datetime import timedelta

    from django.utils import timezone

    method = _procedural_method()
    body = {
        "method": method.pk,
        "identities": [IdentityFactory().pk],
        "prompts": [PromptFactory().pk],
        "seeds": 1,
    }
    job = ml_api.post("/api/generation-jobs/", body, format="json").json()
    assert ml_api.get(f"/api/generation-jobs/{job['id']}/").json()["seconds_per_step"] is None
    now = timezone.now()
    # Steps 1 to 5 in 6 s, after a minute of loading.
    GenerationJob.objects.get().items.update(
        status="running",
        step=5,
        steps_total=50,
        started_at=now - timedelta(seconds=66),
        first_step_at=now - timedelta(seconds=6),
        progress_at=now,
    )
    followed = ml_api.get(f"/api/generation-jobs/{job['id']}/").json()
    assert followed["seconds_per_step"] == pytest.approx(1.5)
    assert followed["seconds_left"] == pytest.approx(45 * 1.5, abs=1)
