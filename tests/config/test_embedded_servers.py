"""Which PostgreSQL and Redis the settings use, checked in fresh processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings

from config import embedded

PROBE = """
import json, django
django.setup()
from django.conf import settings
from django.db import connection
with connection.cursor() as cursor:
    cursor.execute("SHOW data_directory")
    data_directory = cursor.fetchone()[0]
    cursor.execute("SHOW autovacuum_naptime")
    naptime = cursor.fetchone()[0]
seen = {"data_directory": data_directory, "broker": settings.CELERY_BROKER_URL, "naptime": naptime}
print(json.dumps(seen))
"""


# What tools do that only read the settings (mypy's Django plugin, an editor): no server may start.
BARE_SETUP = """
import json, django
django.setup()
from django.conf import settings
from django.db import connection
print(json.dumps({"broker": settings.CELERY_BROKER_URL, "engine": connection.settings_dict["ENGINE"]}))
"""


def _probe(env_overrides: dict[str, str], code: str = PROBE) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "CELERY_BROKER_URL", "VAR_DIR")}
    env.update(env_overrides, DJANGO_SETTINGS_MODULE="config.settings")
    result = subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        cwd=settings.BASE_DIR,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def private_var_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A var/ folder of its own, so these tests start and stop servers nobody else uses."""
    var_dir = tmp_path_factory.mktemp("var")
    yield var_dir
    embedded.stop_all(var_dir)


def test_loading_the_settings_and_the_apps_starts_no_server(tmp_path):
    var_dir = tmp_path / "var"
    seen = _probe({"VAR_DIR": str(var_dir)}, code=BARE_SETUP)
    assert seen["engine"] == "config.embedded_postgresql"
    assert seen["broker"] == f"redis+socket://{embedded.redis_socket_path(var_dir)}"
    assert not embedded.postgres_is_running(var_dir)
    assert not embedded.redis_is_running(var_dir)
    assert not (var_dir / "pgdata").exists()


def test_without_database_url_an_embedded_postgresql_in_var_is_started_and_used(private_var_dir):
    seen = _probe({"VAR_DIR": str(private_var_dir)})
    assert Path(seen["data_directory"]).resolve() == (private_var_dir / "pgdata").resolve()
    assert embedded.postgres_is_running(private_var_dir)
    assert seen["naptime"] == embedded.POSTGRES_SETTINGS["autovacuum_naptime"]  # its own settings
    # The broker is the embedded Redis of the same folder.
    assert seen["broker"] == f"redis+socket://{embedded.redis_socket_path(private_var_dir)}"
    assert embedded.redis_is_running(private_var_dir)


def test_a_given_database_url_and_broker_url_are_honoured_and_nothing_is_started(private_var_dir, tmp_path):
    # The server of the previous test stands in for an external PostgreSQL.
    database_url = embedded.postgres_url(private_var_dir)
    empty_var_dir = tmp_path / "unused-var"
    seen = _probe(
        {
            "VAR_DIR": str(empty_var_dir),
            "DATABASE_URL": database_url,
            "CELERY_BROKER_URL": "redis://127.0.0.1:6399/3",
        }
    )
    assert Path(seen["data_directory"]).resolve() == (private_var_dir / "pgdata").resolve()
    assert seen["broker"] == "redis://127.0.0.1:6399/3"
    assert not (empty_var_dir / "pgdata").exists()
    assert not (empty_var_dir / "redis").exists()


def test_stop_all_stops_both_servers(private_var_dir):
    embedded.postgres_url(private_var_dir)
    embedded.redis_url(private_var_dir)
    assert sorted(embedded.stop_all(private_var_dir)) == ["postgresql", "redis"]
    assert not embedded.postgres_is_running(private_var_dir)
    assert not embedded.redis_is_running(private_var_dir)
