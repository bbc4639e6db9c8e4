"""The web server `make demo` runs (config/demo.py), started as the demo starts it: no proxy in front."""

from __future__ import annotations

import contextlib
import http.client
import os
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.core.management import call_command

from config import demo, embedded

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def get(port: int, path: str, *, timeout: float = 5) -> tuple[int, dict[str, str], str]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        body = response.read().decode(errors="replace")
        return response.status, {k.lower(): v for k, v in response.getheaders()}, body
    finally:
        connection.close()


@contextlib.contextmanager
def serving(command: list[str], port: int, environment: dict[str, str]) -> Iterator[subprocess.Popen]:
    """Runs ``command`` until it answers on ``port``, and stops it afterwards."""
    process = subprocess.Popen(
        command, cwd=ROOT, env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    deadline = time.monotonic() + 60
    try:
        while True:
            with contextlib.suppress(OSError):
                get(port, "/healthz", timeout=5)
                break
            assert process.poll() is None, process.stderr.read().decode() if process.stderr else ""
            assert time.monotonic() < deadline, "the web server did not start answering"
            time.sleep(0.2)
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stderr:
            process.stderr.close()


@pytest.fixture(scope="module")
def demo_port() -> Iterator[int]:
    embedded.start_configured()  # this run's servers, stopped when it ends; the web server uses them
    call_command("collectstatic", interactive=False, verbosity=0)  # as make demo does
    port = free_port()
    environment = {**os.environ, **demo.DEMO_ENVIRONMENT, "DJANGO_SETTINGS_MODULE": "config.settings"}
    with serving(demo.web_server_command(f"127.0.0.1:{port}"), port, environment):
        yield port


def trickle(port: int, stop: threading.Event, length: int = 60) -> None:
    """A client that sends a sign-in form one byte a second."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(
            b"POST /accounts/login/ HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: %d\r\n\r\n" % length
        )
        for _ in range(length):
            if stop.wait(1):
                return
            with contextlib.suppress(OSError):
                sock.sendall(b"a")


def test_the_health_check_answers_quickly_while_16_slow_clients_send_their_bodies(demo_port):
    stop = threading.Event()
    clients = [threading.Thread(target=trickle, args=(demo_port, stop), daemon=True) for _ in range(16)]
    for client in clients:
        client.start()
    try:
        time.sleep(2)  # every slow client is in the middle of its body by now
        for _ in range(5):
            began = time.monotonic()
            status, _, _ = get(demo_port, "/healthz", timeout=3)
            assert status == 200
            assert time.monotonic() - began < 1.5
            time.sleep(0.5)
    finally:
        stop.set()
        for client in clients:
            client.join(timeout=5)


def test_a_missing_page_is_the_apps_404_page_not_djangos_debug_page(demo_port):
    status, _, body = get(demo_port, "/no-such-page-xyz/")
    assert status == 404
    assert "Page not found" in body
    assert "URLconf" not in body  # Django's debug 404 lists the URL patterns it tried
    assert "no-such-page-xyz" not in body


def test_static_css_is_served_with_debug_off(demo_port):
    status, headers, body = get(demo_port, "/static/css/annotate.css")
    assert status == 200
    assert headers["content-type"].startswith("text/css")
    assert expected_css() == body


def expected_css() -> str:
    return (ROOT / "static" / "css" / "annotate.css").read_text()
