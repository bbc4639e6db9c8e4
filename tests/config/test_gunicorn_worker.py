"""The app's gunicorn worker (config/gunicorn_worker.py), served by gunicorn in a process of its own."""

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
from gunicorn.config import Config

from config.gunicorn_worker import InlineWorker

ROOT = Path(__file__).resolve().parents[2]

# Says which thread served the request, and echoes the body it was sent; a body "sleep N" is answered N
# seconds later.
APP = """
import threading
import time

def application(environ, start_response):
    body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
    if body.startswith(b"sleep "):
        time.sleep(float(body[6:]))
    thread = "main" if threading.current_thread() is threading.main_thread() else "other"
    answer = b"%s %s" % (thread.encode(), body)
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(answer)))])
    return [answer]
"""


WORKER_TIMEOUT = 2  # seconds: how long gunicorn's arbiter waits for a silent worker before killing it


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
            *("--timeout", str(WORKER_TIMEOUT)),
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


class Client:
    """One keep-alive connection; answers are read exactly, since those to pipelined requests follow."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.buffered = bytearray()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.sock.close()

    def send(self, *bodies: bytes) -> None:
        self.sock.sendall(
            b"".join(
                b"POST / HTTP/1.1\r\nHost: probe\r\nContent-Length: %d\r\n\r\n%s" % (len(b), b)
                for b in bodies
            )
        )

    def answer(self) -> bytes:
        """The body of the next answer, which must be a 200."""
        while b"\r\n\r\n" not in self.buffered:
            self._receive()
        end_of_head = self.buffered.index(b"\r\n\r\n")
        head = bytes(self.buffered[:end_of_head])
        assert head.startswith(b"HTTP/1.1 200"), head
        lines = head.split(b"\r\n")
        length = int(next(line for line in lines if line.lower().startswith(b"content-length:"))[15:])
        end = end_of_head + 4 + length
        while len(self.buffered) < end:
            self._receive()
        body = bytes(self.buffered[end_of_head + 4 : end])
        del self.buffered[:end]
        return body

    def request(self, body: bytes) -> bytes:
        self.send(body)
        return self.answer()

    def _receive(self) -> None:
        data = self.sock.recv(65536)
        assert data, "the server closed the connection"
        self.buffered += data


def test_requests_on_a_kept_alive_connection_are_served_in_the_main_thread(server) -> None:
    port, _ = server
    with Client(port) as client:
        assert client.request(b"first") == b"main first"
        assert client.request(b"second") == b"main second"  # the same connection, kept alive


def test_a_connection_that_sends_nothing_does_not_hold_up_the_others(server) -> None:
    port, _ = server
    with Client(port) as silent:
        time.sleep(0.2)  # accepted by now: waiting for its first bytes
        began = time.monotonic()
        with Client(port) as other:
            assert other.request(b"hello") == b"main hello"
        # gthread's handler would wait up to 5 s for the silent connection's first bytes.
        assert time.monotonic() - began < 2.5
        assert silent.request(b"late") == b"main late"  # and the silent one is still served


def test_pipelined_requests_are_all_answered_in_order(server) -> None:
    port, _ = server
    count = 3000  # served one after another, not one within the other: nested, they would overflow the stack
    with Client(port) as client:
        client.send(*(b"%04d" % n for n in range(count)))
        answers = [client.answer() for _ in range(count)]
    assert answers == [b"main %04d" % n for n in range(count)]


def test_a_request_longer_than_the_worker_timeout_is_answered(server) -> None:
    port, _ = server
    with Client(port) as client:
        sleep = b"sleep %d" % (2 * WORKER_TIMEOUT)  # a worker that went silent would be killed meanwhile
        assert client.request(sleep) == b"main " + sleep


def test_the_worker_stops_cleanly_on_sigterm(server) -> None:
    port, process = server
    with Client(port) as client:
        assert client.request(b"before") == b"main before"
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=15) == 0


def test_the_worker_refuses_http2_which_would_hold_it_for_a_whole_connection() -> None:
    config = Config()
    InlineWorker.check_config(config, log=None)  # the default, HTTP/1.x: fine
    config.set("http_protocols", "h2,h1")
    with pytest.raises(RuntimeError, match=r"HTTP/1\.x only"):
        InlineWorker.check_config(config, log=None)
