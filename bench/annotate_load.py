"""Load benchmark of annotation tracks: vote round trips under gunicorn, and the next pick at 10k / 1M votes.

    .venv/bin/python bench/annotate_load.py [--annotators 100] [--rate 300] [--seconds 20] [--workers 3]
        [--adaptive] [--held-share 0.1]

Prints one JSON line: round_trips_per_s, p50_ms, p99_ms, acknowledged, stored, over_needed, vote_plan,
next_pick_ms_10k, next_pick_ms_1m (progress goes to stderr). Everything happens in a database of its own
(``bench_annotate`` on the same PostgreSQL server the app uses), dropped at the end.

1. A synthetic catalog (rows only, every video pointing at one shared file name) and a track with about
   ten thousand comparisons, ``min_watch_fraction=0`` so no watch reports are needed.
2. gunicorn serves ``config.wsgi`` on loopback with the app's worker class; N annotators (sessions
   written through the session engine) each fetch their comparison and then vote, each vote's answer
   carrying the next comparison, for a bounded time. Together they offer ``--rate`` votes a second (each
   pauses between votes); with ``--rate 0`` they never pause, which measures capacity, but then every
   round trip waits behind the others: latency is annotators / throughput (Little's law), 333 ms for 100
   annotators at 300/s. Counted: votes answered 200 (``acknowledged``) against judgments in the database
   (``stored``), and comparisons pushed past their votes (``over_needed``): a fixed track's number, or
   with ``--adaptive`` (a track of ``VotePlan(mode=ADAPTIVE)``'s defaults) the maximum.
3. In-process: the median time of ``assignment_next_for`` for fresh annotators with 10 thousand and then
   1 million judgments in the database, loaded with COPY over 200k comparisons.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import json
import os
import random
import re
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import uvloop

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# Two benches on one server (two checkouts, two people) need a database each.
BENCH_DB = os.environ.get("BENCH_DATABASE_NAME", "bench_annotate")
SHARED_FILE = "bench/shared-tiny.mp4"  # never fetched: the bench measures votes, not media
STAMP = "2026-01-01 00:00:00+00"
VOTE_PATH = re.compile(rb"/tracks/(\d+)/assignments/(\d+)/vote")


def say(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


# --- the bench database -------------------------------------------------------------------------


def _server_url() -> tuple[str, bool]:
    """The PostgreSQL server the app would use, and whether this process started it."""
    if os.environ.get("DATABASE_URL"):
        return os.environ["DATABASE_URL"], False
    from config import embedded

    url = embedded.postgres_url(embedded.var_dir_from_environment())
    return url, "postgresql" in embedded.started_here


def _with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


def _recreate_database(server_url: str, *, name: str = BENCH_DB, drop_only: bool = False) -> None:
    import psycopg

    with psycopg.connect(_with_database(server_url, "postgres"), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if not drop_only:
            conn.execute(f'CREATE DATABASE "{name}"')


def _django_setup(bench_url: str) -> None:
    os.environ["DATABASE_URL"] = bench_url
    os.environ.update(_app_environment())
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


@contextlib.contextmanager
def bench_database(name: str = BENCH_DB) -> Iterator[None]:
    """Django set up on a fresh, migrated database of its own (``name``) on the server the app uses;
    at the end the database is dropped, and the servers this process started are stopped."""
    server_url, started_server = _server_url()
    try:
        _recreate_database(server_url, name=name)
        _django_setup(_with_database(server_url, name))
        yield
    finally:
        with contextlib.suppress(Exception):
            from django.db import connections

            connections.close_all()
        _recreate_database(server_url, name=name, drop_only=True)
        from config import embedded

        if started_server:
            embedded.postgres_stop(embedded.var_dir_from_environment())
        if "redis" in embedded.started_here:  # the cache's server
            embedded.redis_stop(embedded.var_dir_from_environment())


def _app_environment() -> dict[str, str]:
    # Production-like: no DEBUG (which would keep every query in memory), no broker (the vote path
    # queues nothing), persistent connections as configured, sessions in the Redis cache.
    return {
        "DEBUG": "0",
        "SECRET_KEY": os.environ.get("SECRET_KEY") or "bench-" + secrets.token_hex(16),
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "CELERY_BROKER_URL": os.environ.get("CELERY_BROKER_URL", "memory://"),
        "CACHE_URL": os.environ.get("CACHE_URL") or _embedded_cache_url(),
        "LOG_LEVEL": "ERROR",
    }


def _embedded_cache_url() -> str:
    from config import embedded

    var_dir = embedded.var_dir_from_environment()
    embedded.redis_url(var_dir)  # started if needed, stopped at the end if this process started it
    return f"{embedded.redis_client_url(var_dir)}?db=1"


# --- synthetic catalog --------------------------------------------------------------------------


def _copy_rows(table: str, columns: str, rows: Iterable[tuple[Any, ...]], **constants: Any) -> int:
    """COPY rows (the space-separated ``columns``, then the ``constants`` for every row) in text format.

    Values must not contain tabs, newlines or backslashes; None is NULL.
    """
    from django.db import connection

    names = [*columns.split(), *constants]
    tail = "".join(f"\t{value}" for value in constants.values())
    count = 0
    with connection.cursor() as cursor:
        raw = cursor.cursor  # psycopg's own cursor: Django's wrapper has no copy()
        with raw.copy(f"COPY {table} ({', '.join(names)}) FROM STDIN") as copy:
            buffer = io.StringIO()
            for row in rows:
                buffer.write("\t".join("\\N" if v is None else str(v) for v in row) + tail + "\n")
                count += 1
                if count % 50_000 == 0:
                    copy.write(buffer.getvalue())
                    buffer = io.StringIO()
            copy.write(buffer.getvalue())
    return count


def _reset_sequences(*tables: str) -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        for table in tables:
            cursor.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"coalesce((SELECT max(id) FROM {table}), 0) + 1, false)"
            )


def _next_id(table: str) -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(f"SELECT coalesce(max(id), 0) + 1 FROM {table}")
        return int(cursor.fetchone()[0])


@dataclass
class Catalog:
    identity_ids: list[int]
    prompt_ids: list[int]
    method_ids: list[int]
    # (identity, prompt) -> video ids, one per method
    videos: dict[tuple[int, int], list[int]] = field(default_factory=dict)


def catalog_build(*, tag: str, identities: int, prompts: int, methods: int, references: int) -> Catalog:
    """Identities, prompts, methods and one video per (identity, prompt, method), straight into tables."""
    from generation.models import Identity, Method, Prompt

    identity_rows = Identity.objects.bulk_create(
        [Identity(slug=f"{tag}-person-{n}", name=f"Person {n}") for n in range(identities)]
    )
    prompt_rows = Prompt.objects.bulk_create(
        [
            Prompt(
                slug=f"{tag}-prompt-{n}",
                full_text=f"A person with short red hair on a beach at sunset, take {n}.",
                differential_text=f"On a beach at sunset, take {n}.",
                omitted_aspects=["hairstyle"],
            )
            for n in range(prompts)
        ]
    )
    method_rows = Method.objects.bulk_create(
        [
            Method(name=f"{tag}-method-{n}", role=Method.Role.OURS if n == 0 else Method.Role.BASELINE)
            for n in range(methods)
        ]
    )
    catalog = Catalog(
        identity_ids=[row.pk for row in identity_rows],
        prompt_ids=[row.pk for row in prompt_rows],
        method_ids=[row.pk for row in method_rows],
    )
    first = _next_id("generation_reference")
    _copy_rows(
        "generation_reference",
        "id identity_id is_primary position sha256",
        (
            (first + i * references + r, identity, r == 0, r, secrets.token_hex(32))
            for i, identity in enumerate(catalog.identity_ids)
            for r in range(references)
        ),
        kind="portrait", viewpoint="unknown", in_three_view="false", file=SHARED_FILE, poster="",
        bytes=1000, width=64, height=64, note="", created_at=STAMP,
    )  # fmt: skip
    next_video = _next_id("generation_video")
    rows = []
    for identity in catalog.identity_ids:
        for prompt in catalog.prompt_ids:
            ids = list(range(next_video, next_video + methods))
            catalog.videos[(identity, prompt)] = ids
            rows += [
                (video_id, method, identity, prompt, secrets.token_hex(32))
                for video_id, method in zip(ids, catalog.method_ids, strict=True)
            ]
            next_video += methods
    _copy_rows(
        "generation_video",
        "id method_id identity_id prompt_id sha256",
        rows,
        seed=0, file=SHARED_FILE, poster="", bytes=1000, width=64, height=64, num_frames=16, fps=8.0,
        duration=2.0, codec="h264", settings="{}", origin="generated", created_at=STAMP,
        original_sha256="", original_metadata="{}", is_gold_stimulus="false",
    )  # fmt: skip
    _reset_sequences("generation_reference", "generation_video")
    return catalog


def users_build(*, prefix: str, count: int) -> list[int]:
    from django.contrib.auth.models import User

    users = User.objects.bulk_create(
        [User(username=f"{prefix}-{n}", password="!unusable", is_active=True) for n in range(count)]
    )
    return [user.pk for user in users]


# --- part 1: votes under gunicorn ---------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --worker-class: gunicorn's own, or the one the app is deployed with.
WORKER_CLASSES = {"inline": "config.gunicorn_worker.InlineWorker", "gthread": "gthread", "sync": "sync"}


def gunicorn_start(
    *, port: int, workers: int, threads: int, worker_class: str, environment: dict[str, str]
) -> subprocess.Popen:
    command = [
        sys.executable,
        "-m",
        "gunicorn",
        "config.wsgi",
        "--bind",
        f"127.0.0.1:{port}",
        "--worker-class",
        worker_class,
        "--workers",
        str(workers),
        "--threads",
        str(threads),
        "--keep-alive",
        "30",
        "--backlog",
        "2048",
        "--log-level",
        "warning",
        "--preload",
    ]
    process = subprocess.Popen(command, cwd=ROOT, env={**os.environ, **environment}, start_new_session=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {process.returncode} while starting")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return process
        time.sleep(0.1)
    raise RuntimeError("gunicorn did not start listening within 60 s")


def gunicorn_stop(process: subprocess.Popen | None) -> None:
    if process is None or process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)  # its own session: the master and its workers
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=5)


def sessions_create(user_ids: list[int]) -> list[str]:
    """Signed-in sessions written straight into the session store, as a login would leave them."""
    from importlib import import_module

    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.auth.models import User

    # The configured engine, so that the sessions are where the app looks first (the cache).
    SessionStore = import_module(settings.SESSION_ENGINE).SessionStore
    keys = []
    for user in User.objects.filter(pk__in=user_ids).order_by("pk"):
        session = SessionStore()
        session[SESSION_KEY] = str(user.pk)
        # The backend that signs people in (the last: those before it only refuse, as axes does).
        session[BACKEND_SESSION_KEY] = settings.AUTHENTICATION_BACKENDS[-1]
        session[HASH_SESSION_KEY] = user.get_session_auth_hash()
        session.create()
        keys.append(session.session_key)
    return keys


class HttpConnection:
    """A minimal keep-alive HTTP/1.1 client on asyncio streams: the client must cost little CPU, since
    it shares the two cores with gunicorn and PostgreSQL. A response's head is read in one go and
    scanned as bytes (a read per header line cost a third of the client's time)."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.host = f"Host: 127.0.0.1:{port}\r\n".encode()
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def request(self, method: str, path: str, headers: bytes, body: bytes = b"") -> tuple[int, bytes]:
        """``headers``: ready-made header lines, each ending with CRLF."""
        for attempt in range(2):
            if self.writer is None:
                self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
            try:
                return await self._exchange(method, path, headers, body)
            except (ConnectionError, asyncio.IncompleteReadError):
                await self.close()
                if attempt or method != "GET":
                    raise  # a vote is never resent blindly: that would blur acknowledged against stored
        raise AssertionError("unreachable")

    async def _exchange(self, method: str, path: str, headers: bytes, body: bytes) -> tuple[int, bytes]:
        assert self.reader is not None and self.writer is not None
        self.writer.write(
            b"%s %s HTTP/1.1\r\n%s%sContent-Length: %d\r\n\r\n%s"
            % (method.encode(), path.encode(), self.host, headers, len(body), body)
        )
        head = (await self.reader.readuntil(b"\r\n\r\n")).lower()
        status = int(head[9:12])
        if (at := head.find(b"\r\ncontent-length:")) >= 0:
            payload = await self.reader.readexactly(int(head[at + 17 : head.index(b"\r\n", at + 2)]))
        elif b"\r\ntransfer-encoding: chunked" in head:
            parts = []
            while True:
                size = int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16)
                parts.append(await self.reader.readexactly(size + 2))
                if size == 0:
                    break
            payload = b"".join(part[:-2] for part in parts)
        else:
            payload = b""
        if b"\r\nconnection: close" in head:
            await self.close()
        return status, payload

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            with contextlib.suppress(Exception):
                await self.writer.wait_closed()
        self.reader = self.writer = None


@dataclass
class LoadStats:
    acknowledged: int = 0
    latencies_ms: list[float] = field(default_factory=list)
    measured: int = 0
    refused: Counter = field(default_factory=Counter)
    errors: Counter = field(default_factory=Counter)
    exhausted: int = 0
    cpu_before: dict[str, dict[int, int]] = field(default_factory=dict)
    cpu_after: dict[str, dict[int, int]] = field(default_factory=dict)
    client_cpu: float = 0.0


async def _annotator(
    *,
    port: int,
    track_id: int,
    session_key: str,
    start_at: float,
    interval: float,
    measure_from: float,
    stop_at: float,
    stats: LoadStats,
    rng: random.Random,
) -> None:
    """One annotator: fetch the work page, then vote on each comparison the answers bring.

    With an ``interval``, the annotator's votes are due on a fixed schedule, one every ``interval``
    seconds, each moved by up to half an interval either way (the time left after an answer is the
    annotator's pause). A vote whose answer came after the next one was due is followed right away, as
    an annotator behind their schedule would: the offered rate is exactly the asked one, and a server
    that cannot keep up shows as longer round trips and, beyond its capacity, fewer of them.
    """
    csrf = secrets.token_hex(16)  # 32 characters: a valid CSRF secret, echoed in the header
    headers = (
        f"Cookie: sessionid={session_key}; csrftoken={csrf}\r\nX-CSRFToken: {csrf}\r\nHX-Request: true\r\n"
    )
    get_headers = headers.encode()
    post_headers = (headers + "Content-Type: application/x-www-form-urlencoded\r\n").encode()
    connection = HttpConnection(port)
    work_path = f"/tracks/{track_id}/"
    await asyncio.sleep(max(start_at - time.perf_counter(), 0))  # staggered arrival
    first_turn = time.perf_counter() + rng.uniform(0, interval)  # turns spread over the interval
    votes_sent = 0
    try:
        status, body = await connection.request("GET", work_path, get_headers)
        while time.perf_counter() < stop_at:
            match = VOTE_PATH.search(body) if status == 200 else None
            if match is None:
                if status == 200:
                    stats.exhausted += 1  # nothing left for this annotator
                    return
                stats.errors[f"GET {status}"] += 1
                await asyncio.sleep(0.05)
                status, body = await connection.request("GET", work_path, get_headers)
                continue
            if interval:
                # Pauses vary as people's do, without drifting from the schedule: fixed ones would line
                # up the annotators whose answers a slow moment delayed together, and they would keep
                # arriving together from then on.
                turn = first_turn + interval * (votes_sent + rng.uniform(-0.5, 0.5))
                if turn >= stop_at:
                    return
                await asyncio.sleep(max(turn - time.perf_counter(), 0))
            votes_sent += 1
            form = b"choice=%s&response_ms=%d" % (rng.choice((b"left", b"right")), rng.randint(3000, 20000))
            began = time.perf_counter()
            status, body = await connection.request("POST", match.group(0).decode(), post_headers, form)
            ended = time.perf_counter()
            if status == 200:
                stats.acknowledged += 1
                if measure_from <= began < stop_at:  # sent in the window (answers are awaited)
                    stats.measured += 1
                    stats.latencies_ms.append((ended - began) * 1000)
            else:
                stats.refused[status] += 1
                status, body = await connection.request("GET", work_path, get_headers)
    except (ConnectionError, asyncio.IncompleteReadError, OSError) as error:
        stats.errors[type(error).__name__] += 1
    finally:
        await connection.close()


async def load_run(
    *,
    port: int,
    track_id: int,
    session_keys: list[str],
    seconds: float,
    warmup: float,
    seed: int,
    server_pid: int,
    rate: float,
) -> LoadStats:
    stats = LoadStats()
    # Each annotator votes every `interval` seconds, so that together they offer `rate` votes a second.
    interval = len(session_keys) / rate if rate > 0 else 0.0
    now = time.perf_counter()
    ramp = min(warmup, 1.0)
    measure_from = now + warmup
    stop_at = measure_from + seconds
    tasks = [
        asyncio.create_task(
            _annotator(
                port=port,
                track_id=track_id,
                session_key=key,
                start_at=now + ramp * index / max(len(session_keys), 1),
                interval=interval,
                measure_from=measure_from,
                stop_at=stop_at,
                stats=stats,
                rng=random.Random(seed * 100_003 + index),
            )
        )
        for index, key in enumerate(session_keys)
    ]
    # CPU is counted over the measured window only: the warm-up pays each worker's first requests.
    await asyncio.sleep(max(measure_from - time.perf_counter(), 0))
    stats.cpu_before, client_before = _cpu_ticks(server_pid), time.process_time()
    await asyncio.sleep(max(stop_at - time.perf_counter(), 0))
    stats.cpu_after, stats.client_cpu = _cpu_ticks(server_pid), time.process_time() - client_before
    # Requests in flight at the deadline are awaited: an unread answer would count as stored, not acked.
    _done, pending = await asyncio.wait(tasks, timeout=60)
    for task in pending:
        task.cancel()
        stats.errors["cancelled at the end"] += 1
    return stats


def load_part(args: argparse.Namespace, bench_url: str) -> dict[str, Any]:
    from django.db import connections

    from annotate.adaptive import VoteMode, VotePlan
    from annotate.models import GoldAnswer, Judgment, Track
    from annotate.services import track_annotators_set, track_create
    from generation.models import Identity, Method, Prompt

    say("load: building the catalog and the track")
    started = time.perf_counter()
    cases = max(args.comparisons // 15, 1)  # six methods: 15 pairs per case
    side = max(int(cases**0.5), 1)
    catalog_build(tag="load", identities=side, prompts=-(-cases // side), methods=6, references=4)
    track = track_create(
        name="bench load",
        kind="identity_fidelity",
        identities=Identity.objects.filter(slug__startswith="load-"),
        prompts=Prompt.objects.filter(slug__startswith="load-"),
        methods=Method.objects.filter(name__startswith="load-"),
        votes_needed=3,
        min_watch_fraction=0.0,
        lease_seconds=600,
        gold_rate=args.gold_rate,
        repeat_rate=args.repeat_rate,
        plan=VotePlan(mode=VoteMode.ADAPTIVE) if args.adaptive else None,
    )
    # Known answers for some of the track's comparisons, so that gold draws find some to hand out.
    GoldAnswer.objects.bulk_create(
        GoldAnswer(comparison_id=pk, criterion=track.criterion, answer="A", source=GoldAnswer.Source.ADMIN)
        for pk in track.items.order_by("?").values_list("comparison_id", flat=True)[: args.gold]
    )
    user_ids = users_build(prefix="bench-annotator", count=args.annotators)
    from django.contrib.auth.models import User

    track_annotators_set(track=track, users=User.objects.filter(pk__in=user_ids))
    keys = sessions_create(user_ids)
    with connections["default"].cursor() as cursor:
        cursor.execute("ANALYZE")
    elapsed = time.perf_counter() - started
    say(f"load: {track.items.count()} comparisons, {len(keys)} annotators in {elapsed:.1f} s")
    connections.close_all()

    port = _free_port()
    process = None
    try:
        process = gunicorn_start(
            port=port,
            workers=args.workers,
            threads=args.threads,
            worker_class=WORKER_CLASSES[args.worker_class],
            environment={"DATABASE_URL": bench_url, **_app_environment()},
        )
        offered = f"{args.rate:g} votes/s offered" if args.rate > 0 else "no pause between votes"
        threads_said = ""
        if args.worker_class == "gthread":
            threads_said = f" × {args.threads} thread{'s' if args.threads != 1 else ''}"
        say(
            f"load: gunicorn on 127.0.0.1:{port} ({args.worker_class}, {args.workers} workers"
            f"{threads_said}); "
            f"{args.warmup:g} s warm-up, {args.seconds:g} s measured; {offered}"
        )
        # uvloop: the client shares the two cores with the server, and costs a sixth less CPU on it.
        stats = uvloop.run(
            load_run(
                port=port,
                track_id=track.pk,
                session_keys=keys,
                seconds=args.seconds,
                warmup=args.warmup,
                seed=args.seed,
                server_pid=process.pid,
                rate=args.rate,
            )
        )
    finally:
        gunicorn_stop(process)
    _say_cpu(stats.cpu_before, stats.cpu_after, stats.client_cpu, votes=stats.measured)
    stored = Judgment.objects.filter(track=track).count()
    over = over_needed_count(track)
    track = Track.objects.get(pk=track.pk)
    latencies = sorted(stats.latencies_ms)
    result = {
        "round_trips_per_s": round(stats.measured / args.seconds, 1),
        "p50_ms": _percentile(latencies, 50),
        "p99_ms": _percentile(latencies, 99),
        "acknowledged": stats.acknowledged,
        "stored": stored,
        "over_needed": over,
        "vote_plan": track.vote_plan.name,
    }
    say(
        f"load: {result}; refused {dict(stats.refused)}, errors {dict(stats.errors)}, "
        f"exhausted annotators {stats.exhausted}"
    )
    if args.profile:
        profile_votes(track_id=track.pk, votes=args.profile, dump=args.profile_dump)
    return result


def over_needed_count(track: Any) -> int:
    """Comparisons of ``track`` past the votes they may get: a fixed track's number, an adaptive track's
    maximum. (An adaptive comparison's ``needed`` is its votes once it is closed, and a lease open when it
    closed may still be answered and stored, by design: past ``needed`` is allowed there, past the
    maximum never.)"""
    from django.db.models import F

    from annotate.models import TrackItem

    limit = "track__max_votes" if track.is_adaptive else "track__votes_needed"
    return TrackItem.objects.filter(track=track, votes__gt=F(limit)).count()


def profile_votes(*, track_id: int, votes: int, dump: str = "") -> None:
    """Where a vote round trip spends its time, in-process: the WSGI application called as gunicorn
    calls it, with the requests the load part's annotators send (no test client, whose own bookkeeping
    would be counted as the request's).

    Prints the Python CPU per vote, the queries per vote and their wall time, and the CPU of each step
    of the vote view; ``dump``: also write the profile there, for pstats. Runs after the load part has
    been counted: its votes are its own.
    """
    import cProfile
    import pstats

    from django.contrib.auth.models import User
    from django.db import connection

    from annotate.models import Track
    from annotate.services import track_annotators_set
    from config.wsgi import application

    track = Track.objects.get(pk=track_id)
    users = [User.objects.create(username=f"bench-profiler-{n}", password="!") for n in range(2)]
    track_annotators_set(track=track, users=[*track.annotators.all(), *users])
    sessions = sessions_create([user.pk for user in users])
    queries: list[float] = []

    def timed(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        began = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            queries.append(time.perf_counter() - began)

    def call(session_key: str, method: str, path: str, body: bytes = b"") -> bytes:
        csrf = "0" * 32
        environ = {
            "REQUEST_METHOD": method,
            "PATH_INFO": path,
            "SCRIPT_NAME": "",
            "QUERY_STRING": "",
            "SERVER_NAME": "127.0.0.1",
            "SERVER_PORT": "80",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "HTTP_HOST": "127.0.0.1",
            "HTTP_COOKIE": f"sessionid={session_key}; csrftoken={csrf}",
            "HTTP_X_CSRFTOKEN": csrf,
            "HTTP_HX_REQUEST": "true",
            "CONTENT_TYPE": "application/x-www-form-urlencoded",
            "CONTENT_LENGTH": str(len(body)),
            "wsgi.input": io.BytesIO(body),
            "wsgi.url_scheme": "http",
            "wsgi.errors": sys.stderr,
            "wsgi.multithread": False,
            "wsgi.multiprocess": True,
            "wsgi.run_once": False,
        }
        statuses: list[str] = []
        chunks = application(environ, lambda status, _headers, *_: statuses.append(status))
        try:
            payload = b"".join(chunks)
        finally:
            getattr(chunks, "close", lambda: None)()
        assert statuses[0].startswith("200"), f"{method} {path}: {statuses[0]}"
        return payload

    def run(session_key: str, profiler: cProfile.Profile | None) -> float:
        body = call(session_key, "GET", f"/tracks/{track_id}/")
        cpu = 0.0
        for _ in range(votes):
            match = VOTE_PATH.search(body)
            assert match is not None, "the profiler ran out of comparisons"
            began = time.process_time()
            if profiler:
                profiler.enable()
            body = call(session_key, "POST", match.group(0).decode(), b"choice=left&response_ms=5000")
            if profiler:
                profiler.disable()
            cpu += time.process_time() - began
        return cpu * 1000 / votes

    with connection.execute_wrapper(timed):
        plain_cpu = run(sessions[0], None)
    say(
        f"profile: {plain_cpu:.2f} ms Python CPU per vote round trip (in-process); "
        f"{len(queries) / votes:.1f} queries per vote, {sum(queries) * 1000 / votes:.2f} ms waiting on them"
    )
    profiler = cProfile.Profile(time.process_time)
    run(sessions[1], profiler)
    if dump:
        profiler.dump_stats(dump)
    steps = {
        "__call__": "the request, in all (Django's WSGI handler)",
        "get_user": "  sign-in check (session, user)",
        "assignment_vote": "  the vote view",
        "judgment_submit_and_next": "    vote, next pick and its panel",
        "_comparison_panel": "      the panel (URLs)",
        "render_to_string": "    template rendering",
    }
    cumulative = {name: 0.0 for name in steps}
    for (file, _line, name), (_cc, _nc, _tt, ct, _callers) in pstats.Stats(profiler).stats.items():  # type: ignore[attr-defined]
        if name == "__call__" and not file.endswith("handlers/wsgi.py"):
            continue
        if name in cumulative:
            cumulative[name] = max(cumulative[name], ct)
    total = cumulative["__call__"] or 1.0
    for name, label in steps.items():
        say(f"profile: {label:<46} {cumulative[name] / total:6.1%} of the request's CPU")


def _cpu_ticks(master_pid: int) -> dict[str, dict[int, int]]:
    """CPU clock ticks used so far by gunicorn (master and workers) and by the bench database's backends.

    Wall-clock numbers on a shared two-core machine move with whatever else runs; CPU time per vote
    does not, and says what the two cores could do if they ran nothing else.
    """
    ticks: dict[str, dict[int, int]] = {"gunicorn": {}, "postgres": {}}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ")
        except OSError:
            continue  # gone meanwhile, or not ours to read
        fields = stat.rsplit(")", 1)[1].split()
        pid, parent, used = int(entry.name), int(fields[1]), int(fields[11]) + int(fields[12])
        if pid == master_pid or parent == master_pid:
            ticks["gunicorn"][pid] = used
        elif command.startswith(b"postgres: ") and f" {BENCH_DB} ".encode() in command:
            ticks["postgres"][pid] = used
    return ticks


def _say_cpu(
    before: dict[str, dict[int, int]], after: dict[str, dict[int, int]], client: float, *, votes: int
) -> None:
    hertz = os.sysconf("SC_CLK_TCK")
    per_vote = {}
    for group, now in after.items():
        used = sum(ticks - before[group].get(pid, 0) for pid, ticks in now.items()) / hertz
        per_vote[group] = used * 1000 / max(votes, 1)
    per_vote["client"] = client * 1000 / max(votes, 1)
    total = sum(per_vote.values())
    say(
        "load: CPU per vote in the measured window: "
        + ", ".join(f"{group} {ms:.2f} ms" for group, ms in per_vote.items())
        + f"; {total:.2f} ms in all: two idle cores would carry about {2000 / max(total, 1e-9):.0f} votes/s"
    )


def _percentile(values: list[float], percent: float) -> float | None:
    """Nearest-rank percentile of sorted values, in ms to 0.1; None (JSON null) without any."""
    if not values:
        return None
    index = min(round(percent / 100 * (len(values) - 1)), len(values) - 1)
    return round(values[index], 1)


# --- part 2: the next pick at 10 thousand and 1 million judgments -------------------------------


@dataclass
class PickWorld:
    track_id: int
    item_ids: list[int]  # by position; item i holds comparison i
    comparison_ids: list[int]
    rater_ids: list[int]
    loaded: int = 0  # judgments loaded so far, in the fill order below


def pick_world_build(*, comparisons: int, raters: int) -> PickWorld:
    """A track of ``comparisons`` items (ten methods: 45 pairs per case), and raters with their users."""
    from annotate.models import Rater, Track

    cases = -(-comparisons // 45)
    side = max(int(cases**0.5), 1)
    catalog = catalog_build(tag="pick", identities=side, prompts=-(-cases // side), methods=10, references=1)
    comparison_first = _next_id("annotate_comparison")
    pairs = [
        (a, b, identity, prompt)
        for (identity, prompt), videos in catalog.videos.items()
        for index, a in enumerate(videos)
        for b in videos[index + 1 :]
    ][:comparisons]
    _copy_rows(
        "annotate_comparison",
        "id video_a_id video_b_id identity_id prompt_id",
        ((comparison_first + n, *pair) for n, pair in enumerate(pairs)),
        created_at=STAMP,
    )
    # Ten votes needed: at a million judgments (five per comparison) the track is half done, as in use.
    track = Track.objects.create(
        name="bench pick", kind="identity_fidelity", votes_needed=10, min_watch_fraction=0
    )
    item_first = _next_id("annotate_trackitem")
    _copy_rows(
        "annotate_trackitem",
        "id comparison_id",
        ((item_first + n, comparison_first + n) for n in range(len(pairs))),
        track_id=track.pk, claimed=0, votes=0, needed=track.votes_needed,
    )  # fmt: skip
    user_ids = users_build(prefix="pick-rater", count=raters)
    rater_rows = Rater.objects.bulk_create([Rater(kind=Rater.Kind.ANNOTATOR, user_id=pk) for pk in user_ids])
    from annotate.models import TrackSeat

    TrackSeat.objects.bulk_create(
        [TrackSeat(track=track, user_id=row.user_id, rater_id=row.pk) for row in rater_rows]
    )
    _reset_sequences("annotate_comparison", "annotate_trackitem")
    return PickWorld(
        track_id=track.pk,
        item_ids=list(range(item_first, item_first + len(pairs))),
        comparison_ids=list(range(comparison_first, comparison_first + len(pairs))),
        rater_ids=[row.pk for row in rater_rows],
    )


def judgments_load(world: PickWorld, *, total: int) -> None:
    """Grow the track to ``total`` judgments (answered assignments with their judgments), with COPY.

    Fewest-claimed-first spreads votes evenly, so judgment k lands on item k mod n in round k div n,
    from rater (item + round) mod raters: never the same rater twice on one comparison.
    """
    from django.db import connection

    first, count = world.loaded, total - world.loaded
    if count <= 0:
        return
    items, raters = len(world.item_ids), len(world.rater_ids)
    assignment_first, judgment_first = _next_id("annotate_assignment"), _next_id("annotate_judgment")

    def placed() -> Iterator[tuple[int, int, int, int]]:
        """(row number, judgment number, item position, rater) for each new judgment."""
        for n, k in enumerate(range(first, total)):
            position, round_ = k % items, k // items
            yield n, k, position, world.rater_ids[(position + round_) % raters]

    _copy_rows(
        "annotate_assignment",
        "id item_id rater_id shown_left",
        ((assignment_first + n, world.item_ids[p], r, "AB"[k % 2]) for n, k, p, r in placed()),
        status="answered", issued_at=STAMP, expires_at=STAMP, answered_at=STAMP, watched_a=1.0, watched_b=1.0,
    )  # fmt: skip
    _copy_rows(
        "annotate_judgment",
        # Choices: two A for one B, so the rows look like votes rather than a constant.
        "id comparison_id rater_id assignment_id shown_left choice",
        (
            (judgment_first + n, world.comparison_ids[p], r, assignment_first + n, "AB"[k % 2], "ABA"[k % 3])
            for n, k, p, r in placed()
        ),
        track_id=world.track_id, criterion="identity_fidelity", response_ms=5000, watched_a=1.0,
        watched_b=1.0, selection_policy="fewest_votes_first", created_at=STAMP,
    )  # fmt: skip
    with connection.cursor() as cursor:
        # Statistics first: without them the planner joins the fresh rows with nested loops over
        # 200k items, which took minutes. Autovacuum would have caught up on a real track anyway.
        cursor.execute("VACUUM ANALYZE annotate_trackitem, annotate_assignment, annotate_judgment")
        # The counters the pick works from, recomputed from the rows just loaded.
        cursor.execute(
            """
            UPDATE annotate_trackitem AS i SET votes = c.n, claimed = c.n
            FROM (SELECT item_id, count(*) AS n FROM annotate_assignment GROUP BY item_id) AS c
            WHERE i.id = c.item_id AND i.track_id = %s
            """,
            [world.track_id],
        )
        cursor.execute("VACUUM ANALYZE annotate_trackitem")
    _reset_sequences("annotate_assignment", "annotate_judgment")
    world.loaded = total


def pick_time_ms(world: PickWorld, *, picks: int, tag: str) -> float:
    """Median wall time of ``assignment_next_for`` for annotators who have not voted yet.

    Also says the CPU per pick (this process and its PostgreSQL backend), which unlike wall time does
    not move with whatever else the machine runs.
    """
    from django.contrib.auth.models import User
    from django.db import connection

    from annotate.models import Track, TrackSeat
    from annotate.services import raters_for_users
    from annotate.vote_path import assignment_next_for

    track = Track.objects.get(pk=world.track_id)
    users = User.objects.bulk_create(
        [User(username=f"fresh-{tag}-{n}", password="!") for n in range(picks + 5)]
    )
    # Seated as track_annotators_set seats people: with their rater, so a pick does not look it up.
    raters = raters_for_users(user_ids=[user.pk for user in users])
    TrackSeat.objects.bulk_create(
        [TrackSeat(track=track, user=user, rater_id=raters[user.pk]) for user in users]
    )
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        backend = Path(f"/proc/{cursor.fetchone()[0]}/stat")
    times, cpu_ms = [], 0.0
    for index, user in enumerate(users):
        began, cpu_began, backend_began = time.perf_counter(), time.process_time(), _ticks(backend)
        assignment = assignment_next_for(track=track, user=user)
        elapsed = (time.perf_counter() - began) * 1000
        assert assignment is not None, "the pick track ran out of work"
        if index >= 5:  # the first few warm the connection and the plan cache
            times.append(elapsed)
            backend_ms = (_ticks(backend) - backend_began) * 1000 / os.sysconf("SC_CLK_TCK")
            cpu_ms += (time.process_time() - cpu_began) * 1000 + backend_ms
    say(f"pick: {tag}: CPU per pick {cpu_ms / max(len(times), 1):.2f} ms (Python and its PostgreSQL backend)")
    return statistics.median(times)


def _ticks(stat: Path) -> int:
    try:
        fields = stat.read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0  # a server on another machine: no CPU to read
    return int(fields[11]) + int(fields[12])


def pick_part(args: argparse.Namespace) -> dict[str, Any]:
    from django.db import connection

    from annotate.models import Judgment

    with connection.cursor() as cursor:
        # The load part's votes would blur "ten thousand judgments in the database".
        cursor.execute("TRUNCATE annotate_judgment, annotate_assignment RESTART IDENTITY CASCADE")
        cursor.execute("UPDATE annotate_trackitem SET votes = 0, claimed = 0")
        cursor.execute("UPDATE annotate_trackseat SET undoable_id = NULL")
    started = time.perf_counter()
    world = pick_world_build(comparisons=args.pick_comparisons, raters=args.pick_raters)
    if args.held_share > 0:
        # Comparisons held out of the pool by problem reports: spread over the track, outside the
        # pick's partial index, so the pick never walks them.
        step = max(round(1 / args.held_share), 1)
        with connection.cursor() as cursor:
            cursor.execute(
                "UPDATE annotate_trackitem SET held = true WHERE track_id = %s AND id %% %s = 0",
                [world.track_id, step],
            )
    say(
        f"pick: {len(world.item_ids)} comparisons, {len(world.rater_ids)} raters in "
        f"{time.perf_counter() - started:.1f} s"
    )
    result = {}
    for key, total in (("next_pick_ms_10k", 10_000), ("next_pick_ms_1m", args.pick_judgments)):
        started = time.perf_counter()
        judgments_load(world, total=total)
        stored = Judgment.objects.count()
        say(f"pick: {stored} judgments loaded in {time.perf_counter() - started:.1f} s")
        result[key] = round(pick_time_ms(world, picks=args.picks, tag=key), 2)
        say(f"pick: {key} = {result[key]} ms (median of {args.picks})")
    return result


# --- main -----------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--annotators", type=int, default=100)
    parser.add_argument(
        "--rate",
        type=float,
        default=300.0,
        help="votes per second the annotators offer together (each pauses between votes); 0: no pauses, "
        "which measures capacity, with latency then annotators / rate by Little's law",
    )
    parser.add_argument("--seconds", type=float, default=20.0, help="measured time of the load part")
    parser.add_argument("--warmup", type=float, default=3.0, help="seconds of load before measuring")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn worker processes")
    parser.add_argument("--threads", type=int, default=1, help="threads per gunicorn worker")
    parser.add_argument(
        "--worker-class",
        default="inline",
        choices=list(WORKER_CLASSES),
        help="inline (the app's, config/gunicorn_worker.py) and gthread keep connections alive and differ in "
        "where a request runs; sync closes each connection after its answer",
    )
    parser.add_argument("--comparisons", type=int, default=10_000, help="comparisons of the load track")
    parser.add_argument("--pick-comparisons", type=int, default=200_000)
    parser.add_argument("--pick-judgments", type=int, default=1_000_000)
    parser.add_argument("--pick-raters", type=int, default=1_000)
    parser.add_argument("--picks", type=int, default=50)
    parser.add_argument(
        "--held-share",
        type=float,
        default=0.0,
        help="share of the pick track's comparisons held by problem reports",
    )
    parser.add_argument(
        "--gold-rate", type=float, default=0.05, help="the load track's share of gold handouts (0 to 0.5)"
    )
    parser.add_argument(
        "--repeat-rate", type=float, default=0.05, help="the load track's share of repeats (0 to 0.5)"
    )
    parser.add_argument(
        "--gold", type=int, default=200, help="comparisons of the load track with a known answer"
    )
    parser.add_argument(
        "--adaptive",
        action="store_true",
        help="an adaptive load track (VotePlan(mode=ADAPTIVE)'s defaults): over_needed then counts "
        "comparisons past their maximum",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--profile", type=int, default=0, metavar="N", help="after the load part, profile N votes in-process"
    )
    parser.add_argument(
        "--profile-dump", default="", metavar="FILE", help="with --profile: save the profile there (pstats)"
    )
    parser.add_argument("--skip-load", action="store_true", help="only the next-pick part")
    parser.add_argument("--skip-pick", action="store_true", help="only the load part")
    args = parser.parse_args(argv)

    result: dict[str, Any] = dict.fromkeys(
        [
            "round_trips_per_s",
            "p50_ms",
            "p99_ms",
            "acknowledged",
            "stored",
            "over_needed",
            "vote_plan",
            "next_pick_ms_10k",
            "next_pick_ms_1m",
        ]
    )
    with bench_database():
        if not args.skip_load:
            result.update(load_part(args, os.environ["DATABASE_URL"]))
        if not args.skip_pick:
            result.update(pick_part(args))
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
