"""The app's gunicorn worker (config/gunicorn_worker.py), run by gunicorn in a process of its own."""

from __future__ import annotations

import contextlib
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# Says which thread served the request, and echoes the body it was sent.
APP = """
import threading

def application(environ, start_response):
    body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
    thread = "main" if threading.current_thread() is threading.main_thread() else "other"
    answer = b"%s %s" % (thread.encode(), body)
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(answer)))])
    return [answer]
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[int, subprocess.Popen]]:
    (tmp_path / "probe_app.py").write_text(APP)
    port = _free_port()
    process = subprocess.Popen(
        [
            *(sys.executable, "-m", "gunicorn", "probe_app:application"),
            *("--chdir", str(tmp_path), "--bind", f"127.0.0.1:{port}", "--workers", "1"),
            *("--worker-class", "config.gunicorn_worker.InlineWorker", "--keep-alive", "10"),
        ],
        cwd=ROOT,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 30
    while True:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
            break
        assert process.poll() is None, process.stderr.read().decode() if process.stderr else ""
        assert time.monotonic() < deadline, "gunicorn did not start listening"
        time.sleep(0.05)
    try:
        yield port, process
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=10)
        if process.stderr:
            process.stderr.close()


def _request(sock: socket.socket, body: bytes) -> bytes:
    sock.sendall(b"POST / HTTP/1.1\r\nHost: probe\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
    answer = b""
    while b"\r\n\r\n" not in answer:
        answer += sock.recv(4096)
    head, _, rest = answer.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    length = int(next(line for line in lines if line.lower().startswith(b"content-length:"))[15:])
    while len(rest) < length:
        rest += sock.recv(4096)
    assert head.startswith(b"HTTP/1.1 200"), head
    return rest


def test_requests_on_a_kept_alive_connection_are_served_in_the_main_thread(server) -> None:
    port, _ = server
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        assert _request(sock, b"first") == b"main first"
        assert _request(sock, b"second") == b"main second"  # the same connection, kept alive


def test_a_connection_that_sends_nothing_does_not_hold_up_the_others(server) -> None:
    port, _ = server
    with socket.create_connection(("127.0.0.1", port), timeout=5) as silent:
        time.sleep(0.2)  # accepted by now: waiting for its first bytes
        began = time.monotonic()
        with socket.create_connection(("127.0.0.1", port), timeout=5) as other:
            assert _request(other, b"hello") == b"main hello"
        # gthread's handler would wait up to 5 s for the silent connection's first bytes.
        assert time.monotonic() - began < 2.5
        assert _request(silent, b"late") == b"main late"  # and the silent one is still served


def test_the_worker_stops_cleanly_on_sigterm(server) -> None:
    port, process = server
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        assert _request(sock, b"before") == b"main before"
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=15) == 0
