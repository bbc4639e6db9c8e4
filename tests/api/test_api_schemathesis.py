"""Schemathesis against the API, in-process: no server error and no answer the schema does not document.

A few examples per operation (with the boundary values and wrong types of the coverage phase) keep this
under a minute or two; bench/api_schemathesis.py runs the same probe at length.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
from django.contrib.auth.models import User
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from drf_spectacular.generators import SchemaGenerator
from rest_framework.authtoken.models import Token

from tests.factories import make_track

BENCH = Path(__file__).resolve().parents[2] / "bench" / "api_schemathesis.py"


def _bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_api_schemathesis", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def _connection_kept() -> Iterator[None]:
    # The WSGI handler closes the connection at each request's edges, which would end the test's
    # transaction; Django's test client holds these signals back the same way.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.mark.usefixtures("_connection_kept")
def test_schemathesis_finds_no_server_error_and_no_drift(ml_user: User) -> None:
    make_track(methods=3, frames=4)
    token = Token.objects.create(user=ml_user).key
    # Not through the test client: it would connect again the signals that _connection_kept holds back.
    schema = SchemaGenerator().get_schema(request=None, public=True)

    result = _bench().probe(app=get_wsgi_application(), token=token, max_examples=5, seconds=240)

    assert result.findings == {}, result.report()
    assert result.skipped == []
    assert result.operations == sum(len(item) for item in schema["paths"].values())
    assert result.cases > 500
