"""The production settings of the README's checklist pass Django's deployment checks."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest
from django.conf import settings

# Variables the test process may carry that would change what the checked settings are.
# The test run's own settings; DJANGO_ALLOW_ASYNC_UNSAFE is set for the browser tests (tests/browser) and
# is itself a deployment error.
CLEARED = ("DEBUG", "DATABASE_URL", "CELERY_BROKER_URL", "CACHE_URL", "VAR_DIR", "DJANGO_ALLOW_ASYNC_UNSAFE")


def _readme_production_environment() -> dict[str, str]:
    """The `NAME=value` lines of the sh block under the README's "Production checklist"."""
    readme = (settings.BASE_DIR / "README.md").read_text()
    section = readme.split("### Production checklist", 1)[1]
    block = section.split("```sh\n", 1)[1].split("```", 1)[0]
    return dict(re.findall(r"^([A-Z_]+)=(.*)$", block, flags=re.MULTILINE))


def test_the_readme_lists_every_setting_of_the_checklist():
    environment = _readme_production_environment()
    for name in ("DEBUG", "SECRET_KEY", "ALLOWED_HOSTS", "SESSION_COOKIE_SECURE", "CSRF_COOKIE_SECURE"):
        assert name in environment
    for name in ("SECURE_HSTS_SECONDS", "SECURE_SSL_REDIRECT", "SECURE_PROXY_SSL_HEADER"):
        assert name in environment


def test_the_production_checklist_passes_the_deployment_checks_without_a_warning(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in CLEARED}
    env.update(_readme_production_environment())
    env.update(
        SECRET_KEY="k4#Vq9!mZr2@Lp7$Wt1%Hs6^Nd3&Bf8*Gc5(Jx0)Ye-Ua_Oi+Tw=Rk<Ql>Pz",
        # `check` connects to neither: addresses where nothing listens keep it honest.
        DATABASE_URL="postgresql://nobody:nothing@127.0.0.1:9/annotate",
        CELERY_BROKER_URL="redis://127.0.0.1:9/0",
        VAR_DIR=str(tmp_path / "var"),
        DJANGO_SETTINGS_MODULE="config.settings",
    )
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        env=env,
        cwd=settings.BASE_DIR,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


@pytest.mark.django_db
def test_no_page_may_be_shown_in_a_frame(client):
    response = client.get("/accounts/login/")
    assert response.status_code == 200
    assert response["X-Frame-Options"] == "DENY"


@pytest.mark.django_db
def test_the_redirect_to_https_spares_the_health_check(client, settings):
    settings.SECURE_SSL_REDIRECT = True
    assert client.get("/accounts/login/").status_code == 301
    assert client.get("/healthz").status_code == 200
