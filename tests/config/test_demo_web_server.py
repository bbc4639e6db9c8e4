"""The web server `make demo` runs (config/demo.py), started as the demo starts it: no proxy in front."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.core.management import call_command

from config import demo, embedded
from tests.processes import ROOT, assert_answers_quickly, free_port, get, serving, slow_clients


@pytest.fixture(scope="module")
def demo_port(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    embedded.start_configured()  # this run's servers, stopped when it ends; the web server uses them
    call_command("collectstatic", interactive=False, verbosity=0)  # as make demo does
    port = free_port()
    environment = {**os.environ, **demo.DEMO_ENVIRONMENT, "DJANGO_SETTINGS_MODULE": "config.settings"}
    log = tmp_path_factory.mktemp("demo") / "gunicorn.log"
    with serving(
        demo.web_server_command(f"127.0.0.1:{port}"),
        environment,
        ready=lambda: get(port, "/healthz"),
        log=log,
    ):
        yield port


def test_the_health_check_answers_quickly_while_16_slow_clients_send_their_bodies(demo_port):
    with slow_clients(demo_port, 16):
        assert_answers_quickly(demo_port, "/healthz")


def test_a_missing_page_is_the_apps_404_page_not_djangos_debug_page(demo_port):
    status, _, body = get(demo_port, "/no-such-page-xyz/")
    assert status == 404
    assert b"Page not found" in body
    assert b"URLconf" not in body  # Django's debug 404 lists the URL patterns it tried
    assert b"no-such-page-xyz" not in body


def test_static_css_is_served_with_debug_off(demo_port):
    status, headers, body = get(demo_port, "/static/css/annotate.css")
    assert status == 200
    assert headers["content-type"].startswith("text/css")
    assert body == Path(ROOT, "static", "css", "annotate.css").read_bytes()
