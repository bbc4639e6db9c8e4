"""``make demo``: migrate, seed the synthetic world, run the web server and a Celery worker.

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
        "  Demo logins (demo only):  admin / admin (study admin),  annotator / annotator",
        "  Stop with Ctrl-C: the worker, the web server and the embedded servers stop with it.",
        "",
    ]
    return "\n".join(lines)


def main() -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
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
                        "--queues",
                        "celery,gpu",
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
                _start(
                    "web server",
                    [
                        PYTHON,
                        "manage.py",
                        "runserver",
                        "--noreload",
                        f"127.0.0.1:{port}",
                    ],
                ),
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
