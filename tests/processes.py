"""Servers the tests run in processes of their own (gunicorn, nginx, workers), and clients for them."""

from __future__ import annotations

import contextlib
import http.client
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import quote

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
