"""API fuzzing: schemathesis sends every operation of the API requests drawn from its own OpenAPI schema.

    .venv/bin/python bench/api_schemathesis.py [--max-examples 100] [--seconds 300]

Prints one JSON line: operations (tested), cases (requests sent), failures (distinct findings by check),
seconds. Progress and each finding, with a curl line to replay it, go to stderr.

Everything happens in a database of its own (``bench_api_schemathesis`` on the PostgreSQL server the app
uses), migrated, given a small track (so that lists have rows to serialize) and an ML-team user, and
dropped at the end. Requests go to the WSGI application in-process with that user's token. ``probe`` is
the run itself; tests/api/test_api_schemathesis.py calls it with a few examples per operation.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

BENCH_DB = "bench_api_schemathesis"


def say(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


# --- the run ------------------------------------------------------------------------------------


@dataclass
class ProbeResult:
    operations: int = 0
    cases: int = 0
    # One entry per distinct (check, operation, first line of the message): a curl line that replays it.
    findings: dict[tuple[str, str, str], str] = field(default_factory=dict)
    # Operations left out when the time ran out.
    skipped: list[str] = field(default_factory=list)

    def failures_by_check(self) -> dict[str, int]:
        return dict(Counter(check for check, _, _ in self.findings))

    def report(self) -> str:
        return "\n".join(
            f"{check}: {label}: {message}\n    {curl}"
            for (check, label, message), curl in self.findings.items()
        )


def _checks(method: str) -> list[Callable]:
    from schemathesis.checks import not_a_server_error
    from schemathesis.specs.openapi.checks import (
        content_type_conformance,
        negative_data_rejection,
        positive_data_acceptance,
        response_schema_conformance,
        status_code_conformance,
    )

    checks = [
        not_a_server_error,
        status_code_conformance,
        content_type_conformance,
        response_schema_conformance,
        negative_data_rejection,
    ]
    # Only for reads: a write's body can match the schema and still be refused for what no schema says
    # (an id that names no row, a wrong password, a split that does not add up to 1), a clear 400.
    if method == "GET":
        checks.append(positive_data_acceptance)
    return checks


REVOKE_OPERATION = "DELETE /api/token/"


def probe(*, app: Any, token: str, max_examples: int, seconds: float) -> ProbeResult:
    """Every operation of the schema the app serves, in the examples, coverage (boundary values, wrong
    types, missing and unknown parameters) and fuzzing phases, valid and invalid data alike."""
    import hypothesis
    import schemathesis
    from schemathesis.core.failures import FailureGroup
    from schemathesis.generation import GenerationMode
    from schemathesis.pytest.lazy import get_all_tests

    headers = {"Authorization": f"Token {token}"}
    schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", app, headers=headers)
    schema.config.generation.update(
        modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE], max_examples=max_examples
    )
    settings = hypothesis.settings(
        max_examples=max_examples,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(hypothesis.HealthCheck),
    )
    result = ProbeResult()
    stop_at = time.monotonic() + seconds

    def test(case: schemathesis.Case) -> None:
        if time.monotonic() > stop_at:
            return
        result.cases += 1
        response = case.call(headers=headers)
        try:
            case.validate_response(response, checks=_checks(case.method.upper()), headers=headers)
        except FailureGroup as group:
            for failure in group.exceptions:
                message = (failure.message or "").strip().splitlines()
                check = failure.checks[0] if failure.checks else failure.title
                key = (check, case.operation.label, f"{failure.title}: {message[0] if message else ''}")
                result.findings.setdefault(key, case.as_curl_command(headers=headers))

    operations = [
        item.ok()
        for item in get_all_tests(schema=schema, test_func=test, settings=settings, given_kwargs=None)
    ]
    # Revoking the probe's own token signs it out: that operation goes last, or the others would only
    # ever be answered 401.
    operations.sort(key=lambda pair: pair[0].label == REVOKE_OPERATION)
    for operation, run in operations:
        if time.monotonic() > stop_at:
            result.skipped.append(operation.label)
            continue
        result.operations += 1
        run()
    return result


# --- the bench database -------------------------------------------------------------------------


def _server_url() -> str:
    if os.environ.get("DATABASE_URL"):
        return os.environ["DATABASE_URL"]
    from config import embedded

    return embedded.postgres_url(embedded.var_dir_from_environment())


def _recreate_database(server_url: str, *, drop_only: bool = False) -> None:
    import psycopg

    parts = urlsplit(server_url)
    with psycopg.connect(urlunsplit(parts._replace(path="/postgres")), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{BENCH_DB}" WITH (FORCE)')
        if not drop_only:
            conn.execute(f'CREATE DATABASE "{BENCH_DB}"')


def _world_build() -> str:
    """Migrations, a small track, and an ML-team user's token."""
    from django.contrib.auth.models import Group, User
    from django.core.management import call_command
    from rest_framework.authtoken.models import Token

    from tests.factories import make_track

    call_command("migrate", verbosity=0)
    make_track(methods=3, frames=4)
    user = User.objects.create_user("bench-ml", password=secrets.token_hex(16))
    user.groups.add(Group.objects.get_or_create(name="ML team")[0])
    return Token.objects.create(user=user).key


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--max-examples", type=int, default=100, help="fuzzed cases per operation and mode")
    parser.add_argument("--seconds", type=float, default=300, help="stop starting new cases after this")
    args = parser.parse_args(argv)

    server_url = _server_url()
    _recreate_database(server_url)
    try:
        os.environ["DATABASE_URL"] = urlunsplit(urlsplit(server_url)._replace(path=f"/{BENCH_DB}"))
        # No DEBUG (Django would keep every query), nothing queued for real (exports are started, not run).
        os.environ.update({"DEBUG": "0", "CELERY_BROKER_URL": "memory://", "LOG_LEVEL": "CRITICAL"})
        os.environ.setdefault("SECRET_KEY", "bench-" + secrets.token_hex(16))
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
        import django

        django.setup()
        from django.conf import settings
        from django.core.wsgi import get_wsgi_application

        settings.EXPORT_ROOT = Path(os.environ.get("TMPDIR", "/tmp")) / f"{BENCH_DB}-{secrets.token_hex(4)}"
        token = _world_build()
        say(f"probing, up to {args.max_examples} examples per operation, {args.seconds:.0f} s")
        started = time.monotonic()
        result = probe(
            app=get_wsgi_application(), token=token, max_examples=args.max_examples, seconds=args.seconds
        )
        elapsed = time.monotonic() - started
        if result.findings:
            say("findings:\n" + result.report())
        if result.skipped:
            say(f"out of time before: {', '.join(result.skipped)}")
        from django.db import connections

        connections.close_all()
    finally:
        _recreate_database(server_url, drop_only=True)
    print(
        json.dumps(
            {
                "operations": result.operations,
                "skipped": len(result.skipped),
                "cases": result.cases,
                "failures": result.failures_by_check(),
                "seconds": round(elapsed, 1),
            }
        )
    )
    return 1 if result.findings else 0


if __name__ == "__main__":
    sys.exit(main())
