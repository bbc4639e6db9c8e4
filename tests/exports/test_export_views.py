"""Export pages: start, follow (htmx), download; the ML team and study admins only."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from django.contrib.auth.models import Group, User
from django.test import Client
from django.urls import reverse

from exports.models import ExportRun
from exports.options import ExportOptions
from exports.runs import export_run_execute


@pytest.fixture(autouse=True)
def _exports_in_tmp(settings, tmp_path: Path) -> None:
    settings.EXPORT_ROOT = tmp_path / "exports"


@pytest.fixture
def ml_client(client: Client, db: None) -> Client:
    user = User.objects.create_user("ml-person")
    user.groups.add(Group.objects.get_or_create(name="ML team")[0])
    client.force_login(user)
    return client


def test_the_ml_team_sees_the_export_page(ml_client: Client) -> None:
    response = ml_client.get(reverse("exports:list"))
    assert response.status_code == 200
    assert b"New export" in response.content


def test_an_annotator_gets_a_404_on_every_export_page(annotator_client: Client) -> None:
    run = ExportRun.objects.create(options={})
    for url in (reverse("exports:list"), reverse("exports:detail", args=[run.pk])):
        assert annotator_client.get(url).status_code == 404
    assert annotator_client.get(reverse("exports:download", args=[run.pk])).status_code == 404
    assert annotator_client.post(reverse("exports:start"), {}).status_code == 404


def test_an_anonymous_visitor_is_sent_to_sign_in(client: Client, db: None) -> None:
    response = client.get(reverse("exports:list"))
    assert response.status_code == 302
    assert reverse("login") in response["Location"]


def test_starting_an_export_queues_a_run_and_shows_it(
    admin_client: Client, django_capture_on_commit_callbacks
) -> None:
    form = {
        "name": "prefs",
        "min_votes": "2",
        "min_majority": "0.5",
        "ties": "drop",
        "split": "0.7,0.2,0.1",
        "split_seed": "3",
        "media": "none",
        "joint_rule": "all",
    }
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = admin_client.post(reverse("exports:start"), form)
    run = ExportRun.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("exports:detail", args=[run.pk])
    assert len(callbacks) == 1  # the Celery task, once the row is committed
    options = ExportOptions.from_json(run.options)
    assert (options.name, options.min_votes, options.keep_ties, options.split) == (
        "prefs",
        2,
        False,
        (0.7, 0.2, 0.1),
    )


def test_bad_options_show_the_form_again_naming_the_field(admin_client: Client) -> None:
    form = {
        "name": "x",
        "min_votes": "1",
        "min_majority": "0",
        "ties": "keep",
        "split": "0.5,0.6,0.1",
        "split_seed": "0",
        "media": "none",
        "joint_rule": "all",
    }
    response = admin_client.post(reverse("exports:start"), form)
    assert response.status_code == 400
    assert b"Split: the fractions must add up to 1" in response.content
    response = admin_client.post(
        reverse("exports:start"), form | {"split": "1,0,0", "exclude_raters": "nobody"}
    )
    assert b"Raters to leave out: no rater" in response.content
    assert not ExportRun.objects.exists()


def test_the_progress_panel_comes_back_alone_to_htmx_and_polls_while_running(admin_client: Client) -> None:
    run = ExportRun.objects.create(options={}, status=ExportRun.Status.RUNNING, progress=0.42)
    response = admin_client.get(reverse("exports:progress", args=[run.pk]), HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    body = response.content.decode()
    assert "<html" not in body
    assert 'hx-trigger="every 1s"' in body
    assert "42%" in body


def test_a_finished_run_stops_polling_and_offers_its_archive(admin_client: Client) -> None:
    run = ExportRun.objects.create(options=ExportOptions(name="prefs").to_json())
    export_run_execute(run_id=run.pk)
    body = admin_client.get(
        reverse("exports:progress", args=[run.pk]), HTTP_HX_REQUEST="true"
    ).content.decode()
    assert "hx-trigger" not in body
    assert reverse("exports:download", args=[run.pk]) in body
    download = admin_client.get(reverse("exports:download", args=[run.pk]))
    assert download.status_code == 200
    assert download["Content-Disposition"] == 'attachment; filename="prefs.tar.gz"'
    assert b"".join(download.streaming_content)[:2] == b"\x1f\x8b"  # gzip


def test_a_failed_run_shows_its_error(admin_client: Client) -> None:
    run = ExportRun.objects.create(options={"tracks": [424242]})
    export_run_execute(run_id=run.pk)
    response = admin_client.get(reverse("exports:detail", args=[run.pk]))
    assert b"no track 424242" in response.content
    assert admin_client.get(reverse("exports:download", args=[run.pk])).status_code == 404


def test_deleting_a_finished_export_removes_its_archive(
    admin_client: Client, settings, django_capture_on_commit_callbacks
) -> None:
    run = ExportRun.objects.create(options=ExportOptions(name="prefs").to_json())
    export_run_execute(run_id=run.pk)
    folder = Path(settings.EXPORT_ROOT) / str(run.pk)
    assert (folder / "prefs.tar.gz").is_file()
    detail = admin_client.get(reverse("exports:detail", args=[run.pk]))
    assert reverse("exports:delete", args=[run.pk]).encode() in detail.content
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = admin_client.post(reverse("exports:delete", args=[run.pk]), follow=True)
    assert folder.exists()  # the archive goes only once the deletion is committed
    for callback in callbacks:
        callback()
    assert response.redirect_chain == [(reverse("exports:list"), 302)]
    assert f"Export {run.pk} and its archive were deleted." in response.content.decode()
    assert not ExportRun.objects.filter(pk=run.pk).exists()
    assert not folder.exists()
    assert admin_client.post(reverse("exports:delete", args=[run.pk])).status_code == 404


def test_a_running_export_is_not_deleted(admin_client: Client, settings) -> None:
    run = ExportRun.objects.create(options={}, status=ExportRun.Status.RUNNING)
    folder = Path(settings.EXPORT_ROOT) / str(run.pk)
    folder.mkdir(parents=True)
    response = admin_client.post(reverse("exports:delete", args=[run.pk]))
    assert response.status_code == 409
    assert "being built right now" in response.content.decode()
    assert reverse("exports:delete", args=[run.pk]).encode() not in response.content  # no button meanwhile
    assert ExportRun.objects.filter(pk=run.pk).exists()
    assert folder.is_dir()


def test_a_deleted_queued_run_is_not_built_afterwards(admin_client: Client) -> None:
    run = ExportRun.objects.create(options={})
    assert admin_client.post(reverse("exports:delete", args=[run.pk])).status_code == 302
    assert export_run_execute(run_id=run.pk) is None  # its task finds nothing to claim


def test_an_annotator_cannot_delete_an_export(annotator_client: Client) -> None:
    run = ExportRun.objects.create(options={})
    assert annotator_client.post(reverse("exports:delete", args=[run.pk])).status_code == 404
    assert annotator_client.get(reverse("exports:delete", args=[run.pk])).status_code == 404
    assert ExportRun.objects.filter(pk=run.pk).exists()


def _celery_pools_dropped() -> None:
    """Forget the Celery app's connection and producer pools: the next send connects to the broker the
    app's configuration names now (as Celery itself does after a fork).

    The pools live in kombu's process-wide registries, keyed by broker: closing one there without
    clearing them would leave a later send of any test a closed pool ("Acquire on closed pool")."""
    from kombu import pools

    from config.celery import app as celery_app

    pools.reset()  # closes every pool and empties the registries
    celery_app._pool = None
    celery_app.amqp._producer_pool = None


@pytest.fixture
def broker_down(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A socket path nobody listens on: the broker is unreachable (fresh pools, so it is really asked).
    Afterwards the pools are dropped again, so that later tests reach the real broker."""
    from config.celery import app as celery_app

    _celery_pools_dropped()
    monkeypatch.setattr(celery_app.conf, "broker_url", f"redis+socket://{tmp_path}/nothing.sock")
    yield
    monkeypatch.undo()
    _celery_pools_dropped()


EXPORT_FORM = {
    "name": "prefs",
    "min_votes": "1",
    "min_majority": "0.5",
    "ties": "drop",
    "split": "0.8,0.1,0.1",
    "split_seed": "0",
    "media": "none",
    "joint_rule": "all",
}


# Transactional: the task is sent once the run is committed, as in production.
@pytest.mark.django_db(transaction=True)
def test_an_export_started_while_the_broker_is_down_fails_with_a_message(
    admin_client: Client, broker_down: None
) -> None:
    response = admin_client.post(reverse("exports:start"), EXPORT_FORM, follow=True)
    assert response.status_code == 200
    run = ExportRun.objects.get()
    assert run.status == ExportRun.Status.FAILED
    assert "could not queue the export" in run.error
    assert "retry it later" in run.error
    assert b"could not queue the export" in response.content


# Transactional: the task is sent once the run is committed, as in production.
@pytest.mark.django_db(transaction=True)
def test_the_api_reports_an_export_it_could_not_queue_as_failed(
    admin_client: Client, broker_down: None
) -> None:
    response = admin_client.post("/api/exports/", {"name": "prefs"}, content_type="application/json")
    assert response.status_code == 202, response.content
    assert response.json()["status"] == "failed"
    assert "could not queue the export" in response.json()["error"]
    run = ExportRun.objects.get()
    assert run.status == ExportRun.Status.FAILED
    assert admin_client.get(f"/api/exports/{run.pk}/").json()["status"] == "failed"


def test_the_export_page_explains_its_joint_rules_in_plain_words(ml_client: Client) -> None:
    page = ml_client.get(reverse("exports:list")).content.decode()
    assert "All agree: every ticked criterion passes and gives the same label" in page
    assert "No conflict: A when at least one passing criterion says A and none says B" in page
    assert "Average: the mean share of votes for A over the passing criteria" in page
    assert "criteria that do not pass are left out of the joint label" in page
