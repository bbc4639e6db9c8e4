"""Servers the tests run in processes of their own (gunicorn, nginx, workers), and clients for them."""

from __future__ import annotations

import contextlib
import http.client
import os
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from celery import current_app
from django.conf import settings
from django.db import connection

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def process_database_url() -> str:
    """The test database, for a process that must write where the test reads (not the development one).

    Read after django_db_setup: an embedded server's address is filled in on its first connection.
    """
    db = connection.settings_dict
    host, port = str(db["HOST"] or ""), str(db["PORT"] or "")
    credentials = f"{quote(db['USER'] or '')}:{quote(db['PASSWORD'] or '')}"
    if host.startswith("/"):  # a unix socket folder
        return f"postgresql://{credentials}@/{db['NAME']}?host={quote(host)}"
    return f"postgresql://{credentials}@{host}{':' + port if port else ''}/{db['NAME']}"


def unverified_tls() -> ssl.SSLContext:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def get(
    port: int,
    path: str,
    *,
    timeout: float = 5,
    headers: dict[str, str] | None = None,
    tls: bool = False,
) -> tuple[int, dict[str, str], bytes]:
    """One request on a connection of its own: the status, the headers (lower-cased names), the body."""
    if tls:
        conn: http.client.HTTPConnection = http.client.HTTPSConnection(
            "127.0.0.1", port, timeout=timeout, context=unverified_tls()
        )
    else:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path, headers=headers or {})
        response = conn.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        conn.close()


@contextlib.contextmanager
def serving(
    command: list[str], environment: dict[str, str], *, ready: Callable[[], object], log: Path
) -> Iterator[subprocess.Popen[bytes]]:
    """Runs ``command`` until ``ready()`` stops raising OSError, and stops it afterwards."""
    with log.open("wb") as output:
        process = subprocess.Popen(command, cwd=ROOT, env=environment, stdout=output, stderr=output)
    deadline = time.monotonic() + 60
    try:
        while True:
            with contextlib.suppress(OSError):
                ready()
                break
            assert process.poll() is None, f"{command[0]} exited:\n{log.read_text()[-3000:]}"
            assert time.monotonic() < deadline, f"{command[0]} did not start:\n{log.read_text()[-3000:]}"
            time.sleep(0.2)
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextlib.contextmanager
def slow_clients(port: int, count: int, *, tls: bool = False, length: int = 60) -> Iterator[None]:
    """``count`` clients each sending a sign-in form one byte a second, for as long as the block runs."""
    stop = threading.Event()

    def trickle() -> None:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
            sock = unverified_tls().wrap_socket(raw) if tls else raw
            sock.sendall(
                b"POST /accounts/login/ HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                b"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: %d\r\n\r\n" % length
            )
            for _ in range(length):
                if stop.wait(1):
                    return
                with contextlib.suppress(OSError):
                    sock.sendall(b"a")

    clients = [threading.Thread(target=trickle, daemon=True) for _ in range(count)]
    for client in clients:
        client.start()
    try:
        time.sleep(2)  # every slow client is in the middle of its body by now
        yield
    finally:
        stop.set()
        for client in clients:
            client.join(timeout=5)


def assert_answers_quickly(port: int, path: str, *, times: int = 5, tls: bool = False) -> None:
    for _ in range(times):
        began = time.monotonic()
        status, _, _ = get(port, path, timeout=3, tls=tls)
        assert status == 200
        assert time.monotonic() - began < 1.5
        time.sleep(0.5)


# --- Celery workers and the broker --------------------------------------------------------------------

# A killed worker's task comes back after this many seconds (looked for every second).
WORKER_VISIBILITY_TIMEOUT = 5


def worker_environment(**extra: str) -> dict[str, str]:
    """The environment of a worker process that works on the test database and media (read after
    django_db_setup), with ``extra`` (its queues' settings, say) on top."""
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DATABASE_URL": process_database_url(),
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
        "MEDIA_ROOT": str(settings.MEDIA_ROOT),
        # The metrics tasks of videos a worker makes stay in this run's own queue.
        "METRICS_QUEUE": settings.METRICS_QUEUE,
        "CELERY_VISIBILITY_TIMEOUT": str(WORKER_VISIBILITY_TIMEOUT),
        "CELERY_UNACKED_RESTORE_SECONDS": "1",
        "HF_HUB_OFFLINE": "1",
        "CONN_MAX_AGE": "0",
        **extra,
    }


class Workers:
    """Celery worker processes with the production command line, serving ``queues``; every one is killed
    at the end, whatever happens."""

    def __init__(self, env: dict[str, str], logs: Path, *, queues: str) -> None:
        self.env, self.logs, self.queues = env, logs, queues
        self.started: list[subprocess.Popen[bytes]] = []

    def start(self) -> subprocess.Popen[bytes]:
        number = len(self.started) + 1
        log = open(self.log_path(number), "wb")  # noqa: SIM115 - closed with the process
        command = [
            sys.executable, "-m", "celery", "-A", "config", "worker",
            "--queues", self.queues, "--concurrency", "1", "--pool", "prefork",
            "--hostname", f"test-worker-{number}-{os.getpid()}@%h",
            "--without-gossip", "--without-mingle", "--without-heartbeat", "--loglevel", "INFO",
        ]  # fmt: skip
        # A session of its own, so that the worker and its pool child can be killed as one group.
        process = subprocess.Popen(
            command, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        log.close()
        self.started.append(process)
        return process

    def running(self) -> subprocess.Popen[bytes]:
        """The last worker started, if it still runs; else a new one."""
        if self.started and self.started[-1].poll() is None:
            return self.started[-1]
        return self.start()

    def log_path(self, number: int) -> Path:
        return self.logs / f"worker-{number}.log"

    def kill(self, process: subprocess.Popen[bytes]) -> None:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)

    def kill_all(self) -> None:
        for process in self.started:
            self.kill(process)

    def log_tails(self) -> str:
        return "\n".join(
            f"--- {path.name} ---\n{path.read_text(errors='replace')[-3000:]}"
            for path in sorted(self.logs.glob("worker-*.log"))
        )

    def wait_for(self, condition: Callable[[], bool], what: str, seconds: float = 120) -> None:
        """Until ``condition()`` holds; after ``seconds`` the test fails with the workers' logs."""
        deadline = time.monotonic() + seconds
        while not condition():
            if time.monotonic() > deadline:
                pytest.fail(f"waited {seconds} s for {what}\n{self.log_tails()}")
            time.sleep(0.1)


def queued_tasks(queue: str) -> list[tuple[str, list[Any]]]:
    """Take every message waiting on a Celery queue of the broker: its task's name and arguments each."""
    taken = []
    with current_app.connection_for_read() as conn:
        waiting = conn.SimpleQueue(queue, serializer="json")
        try:
            while True:
                try:
                    message = waiting.get(block=False)
                except waiting.Empty:
                    return taken
                args, _kwargs, _embed = message.decode()
                taken.append((message.headers["task"], args))
                message.ack()
        finally:
            waiting.close()
