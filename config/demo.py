"""``make demo``: migrate, seed the synthetic world, run the web server and a Celery worker (renders and the
videos' metrics, which seeding queued).

The web server is gunicorn with the production settings (DEBUG off), as the README deploys the app, but
with gunicorn's stock gthread worker: there is no buffering proxy in front of the demo, and a client
that sends its request slowly holds one thread of the pool, not the whole worker.

Ctrl-C stops the worker, the web server and then the embedded PostgreSQL and Redis, so nothing is
left running. The children run in sessions of their own: the terminal's Ctrl-C reaches only this
supervisor, which then stops them in order.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
PYTHON = sys.executable


# Threads × workers bounds the database connections the web server keeps (one a thread, CONN_MAX_AGE):
# 40 here, well under the embedded PostgreSQL's max_connections of 100. Each worker has threads to spare
# for the health check and the other browsers while slow clients hold some.
WEB_WORKERS = 2
WEB_THREADS = 20

# The demo runs over plain HTTP on loopback: production settings but for the HTTPS-only cookies.
DEMO_ENVIRONMENT = {"DEBUG": "0", "SESSION_COOKIE_SECURE": "0", "CSRF_COOKIE_SECURE": "0"}


def web_server_command(bind: str) -> list[str]:
    """The demo's web server, listening on ``bind`` (``host:port``)."""
    return [
        *(PYTHON, "-m", "gunicorn", "config.wsgi"),
        *("--bind", bind, "--worker-class", "gthread"),
        *("--workers", str(WEB_WORKERS), "--threads", str(WEB_THREADS)),
        *("--keep-alive", "10", "--access-logfile", "-"),
        # gunicorn's control socket has one path per user: a second server (tests, a bench) would take it.
        "--no-control-socket",
    ]


def _run(*args: str) -> None:
    subprocess.run([PYTHON, "manage.py", *args], cwd=BASE_DIR, check=True)


def _start(name: str, command: list[str]) -> subprocess.Popen[bytes]:
    print(f"starting {name}: {' '.join(command)}", flush=True)
    return subprocess.Popen(command, cwd=BASE_DIR, start_new_session=True)


def _stop(children: list[tuple[str, subprocess.Popen[bytes]]]) -> None:
    for _, child in children:
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + 15
    for name, child in children:
        try:
            child.wait(timeout=max(deadline - time.monotonic(), 0.1))
        except subprocess.TimeoutExpired:
            print(f"{name} did not stop in time; killing it", flush=True)
            child.kill()
            child.wait()


def _banner(port: str) -> str:
    import django

    django.setup()
    from demo.links import demo_links

    lines = ["", "The platform is running.", ""]
    lines += [f"  {label:<28} {url}" for label, url in demo_links(f"http://127.0.0.1:{port}")]
    lines += [
        "",
        "  Demo logins (demo only):  admin / admin (study admin),  annotator / annotator,"
        "  mlteam / mlteam (ML team)",
        "  Stop with Ctrl-C: the worker, the web server and the embedded servers stop with it.",
        "",
    ]
    return "\n".join(lines)


def main() -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    for name, value in DEMO_ENVIRONMENT.items():
        os.environ.setdefault(name, value)
    port = os.environ.get("PORT", "8000")
    children: list[tuple[str, subprocess.Popen[bytes]]] = []
    interrupted = False

    def on_signal(signum: int, frame: object) -> None:
        nonlocal interrupted
        interrupted = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    status = 0
    try:
        # Inside the try: a failed migration or seed still stops the embedded servers it started.
        _run("migrate", "--noinput")
        _run("seed_demo")
        _run("collectstatic", "--noinput", "--verbosity", "0")  # served by WhiteNoise, DEBUG being off
        children.append(
            (
                "celery worker",
                _start(
                    "celery worker",
                    [
                        PYTHON,
                        "-m",
                        "celery",
                        "-A",
                        "config",
                        "worker",
                        # Renders and the videos' metrics (CPU) alike: one process on a laptop.
                        "--queues",
                        "celery,gpu,metrics",
                        "--concurrency",
                        "1",
                        "--hostname",
                        "demo@%h",
                        "--loglevel",
                        "INFO",
                    ],
                ),
            )
        )
        children.append(
            (
                "web server",
                _start("web server", web_server_command(f"127.0.0.1:{port}")),
            )
        )
        print(_banner(port), flush=True)
        while not interrupted:
            for name, child in children:
                if child.poll() is not None:
                    print(f"{name} exited with status {child.returncode}; stopping the demo", flush=True)
                    interrupted = True
            time.sleep(0.3)
    except subprocess.CalledProcessError as error:
        print(f"\n{' '.join(error.cmd[1:])} failed (status {error.returncode}); see the messages above.")
        status = 1
    finally:
        print("\nstopping…", flush=True)
        _stop(children)
        from config import embedded

        if not os.environ.get("DATABASE_URL") or not os.environ.get("CELERY_BROKER_URL"):
            # Only the embedded servers are ours to stop; external ones are left alone.
            var_dir = embedded.var_dir_from_environment()
            if not os.environ.get("CELERY_BROKER_URL"):
                embedded.redis_stop(var_dir)
            if not os.environ.get("DATABASE_URL"):
                embedded.postgres_stop(var_dir)
        print("stopped.", flush=True)
    return status


if __name__ == "__main__":
    sys.exit(main())
