"""Database connections of the demo's web server under 30 browsers kept alive for a long time.

    .venv/bin/python bench/demo_connections.py [--browsers 30] [--seconds 600] [--pause 0.5]

Prints one JSON line: peak_connections (``SELECT count(*) FROM pg_stat_activity``, sampled every second),
peak_app_connections (those of the bench database), max_connections, requests, errors (answers other
than 200 and failed requests), requests_per_s (progress goes to stderr). Everything happens in a database
of its own (``bench_demo`` on the PostgreSQL server the app uses, the embedded one by default), dropped at
the end.

1. The database is migrated and seeded as ``make demo`` seeds it (with fewer people and prompts; media
   in a temporary folder), and ``--browsers`` annotators
   (``bench-annotator-N``) are seated on the demo tracks.
2. The web server is started as ``make demo`` starts it (``config.demo.web_server_command``, the demo's
   environment: DEBUG off).
3. Each browser is a ``requests`` session (one kept-alive connection): it signs in through the form, then
   for the given time loads its track list, a track's work page (which issues it a comparison) and the
   health check, pausing ``--pause`` seconds between pages.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

BENCH_DB = os.environ.get("BENCH_DATABASE_NAME", "bench_demo")
PASSWORD = "bench-annotator-pw-7"
TRACK_LINK = re.compile(r'href="(/tracks/\d+/)"')


def say(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def _server_url() -> str:
    if os.environ.get("DATABASE_URL"):
        return os.environ["DATABASE_URL"]
    from config import embedded

    return embedded.postgres_url(embedded.var_dir_from_environment())


def _with_database(url: str, name: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


def _recreate_database(server_url: str, *, drop_only: bool = False) -> None:
    import psycopg

    with psycopg.connect(_with_database(server_url, "postgres"), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{BENCH_DB}" WITH (FORCE)')
        if not drop_only:
            conn.execute(f'CREATE DATABASE "{BENCH_DB}"')


def _prepare(browsers: int) -> list[str]:
    """Migrate and seed the bench database as make demo does; the annotators' user names."""
    import django

    django.setup()
    from django.contrib.auth.models import Group, User
    from django.core.management import call_command

    from demo.tracks import seed_demo_tracks

    call_command("migrate", verbosity=0)
    # A smaller world than the demo's: the bench measures connections, not the catalog.
    call_command("seed_demo", "--identities", "2", "--prompts", "3", verbosity=0)
    call_command("collectstatic", interactive=False, verbosity=0)
    group = Group.objects.get_or_create(name="Annotators")[0]
    names = [f"bench-annotator-{n}" for n in range(browsers)]
    for name in names:
        user = User.objects.create_user(name, password=PASSWORD)
        user.groups.add(group)
    seed_demo_tracks(annotator_usernames=names)
    from django.db import connections

    connections.close_all()
    return names


@dataclass
class Counts:
    requests: int = 0
    errors: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, ok: bool) -> None:
        with self.lock:
            self.requests += 1
            self.errors += not ok


def _browser(base: str, username: str, until: float, pause: float, counts: Counts) -> None:
    session = requests.Session()

    def load(method: str, path: str, **kwargs: object) -> requests.Response | None:
        try:
            response = session.request(method, base + path, timeout=30, **kwargs)  # type: ignore[arg-type]
        except requests.RequestException as error:
            say(f"{username}: {method} {path}: {error}")
            counts.add(False)
            return None
        counts.add(response.status_code == 200)
        return response

    load("GET", "/accounts/login/")
    signed_in = load(
        "POST",
        "/accounts/login/",
        data={
            "username": username,
            "password": PASSWORD,
            "csrfmiddlewaretoken": session.cookies.get("csrftoken"),
        },
        headers={"Referer": base + "/accounts/login/"},
    )
    if signed_in is None or "sessionid" not in session.cookies:
        say(f"{username}: could not sign in")
        return
    while time.monotonic() < until:
        listing = load("GET", "/tracks/")
        tracks = TRACK_LINK.findall(listing.text) if listing is not None else []
        if tracks:
            time.sleep(pause)
            load("GET", tracks[counts.requests % len(tracks)])
        time.sleep(pause)
        load("GET", "/healthz")
        time.sleep(pause)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--browsers", type=int, default=30)
    parser.add_argument("--seconds", type=float, default=600)
    parser.add_argument("--pause", type=float, default=0.5, help="seconds between a browser's pages")
    args = parser.parse_args()

    import psycopg

    from config import demo, embedded
    from tests.processes import free_port, get, serving

    server_url = _server_url()
    var_dir = embedded.var_dir_from_environment()
    if not os.environ.get("CELERY_BROKER_URL"):
        embedded.redis_url(var_dir)  # the health check's broker and the sessions' cache
    bench_url = _with_database(server_url, BENCH_DB)
    environment = {
        **os.environ,
        **demo.DEMO_ENVIRONMENT,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DATABASE_URL": bench_url,
        "LOG_LEVEL": "ERROR",
        "MEDIA_ROOT": tempfile.mkdtemp(prefix="bench-demo-media-"),  # the demo's own media stay untouched
    }
    os.environ.update(environment)
    _recreate_database(server_url)
    try:
        say("migrating and seeding the bench database")
        with contextlib.redirect_stdout(sys.stderr):  # stdout holds the JSON line alone
            names = _prepare(args.browsers)
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        command = demo.web_server_command(f"127.0.0.1:{port}")
        command = [arg for arg in command if arg not in ("--access-logfile", "-")]
        log = var_dir / "bench-demo-connections.log"
        say(f"web server: {' '.join(command)} (log: {log})")
        with (
            serving(command, environment, ready=lambda: get(port, "/healthz"), log=log),
            psycopg.connect(_with_database(server_url, "postgres"), autocommit=True) as monitor,
        ):
            max_connections = int(monitor.execute("SHOW max_connections").fetchone()[0])
            counts = Counts()
            began = time.monotonic()
            until = began + args.seconds
            threads = [
                threading.Thread(target=_browser, args=(base, name, until, args.pause, counts), daemon=True)
                for name in names
            ]
            for thread in threads:
                thread.start()
            peak = peak_app = 0
            while any(thread.is_alive() for thread in threads):
                total, app = monitor.execute(
                    "SELECT count(*), count(*) FILTER (WHERE datname = %s) FROM pg_stat_activity", (BENCH_DB,)
                ).fetchone()
                peak, peak_app = max(peak, total), max(peak_app, app)
                if int(time.monotonic() - began) % 30 == 0:
                    done, errors = counts.requests, counts.errors
                    say(f"{done} requests, {errors} errors, {total} connections (peak {peak})")
                time.sleep(1)
            elapsed = time.monotonic() - began
    finally:
        _recreate_database(server_url, drop_only=True)
        shutil.rmtree(environment["MEDIA_ROOT"], ignore_errors=True)
        # Only the embedded servers this process started are stopped.
        if "redis" in embedded.started_here:
            embedded.redis_stop(var_dir)
        if "postgresql" in embedded.started_here:
            embedded.postgres_stop(var_dir)
    print(
        json.dumps(
            {
                "browsers": args.browsers,
                "seconds": round(elapsed),
                "peak_connections": peak,
                "peak_app_connections": peak_app,
                "max_connections": max_connections,
                "requests": counts.requests,
                "errors": counts.errors,
                "requests_per_s": round(counts.requests / elapsed, 1),
            }
        )
    )
    return 0 if counts.errors == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
