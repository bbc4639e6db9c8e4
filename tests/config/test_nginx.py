"""deploy/nginx.conf in front of a real gunicorn of the app, with the app's worker and production settings."""

from __future__ import annotations

import os
import pwd
import re
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.test import Client

from tests.factories import make_video
from tests.processes import (
    ROOT,
    assert_answers_quickly,
    free_port,
    get,
    process_database_url,
    serving,
    slow_clients,
    unverified_tls,
)

NGINX = shutil.which("nginx") or next((p for p in ("/usr/sbin/nginx",) if os.access(p, os.X_OK)), None)
OPENSSL = shutil.which("openssl")
SHIPPED = ROOT / "deploy" / "nginx.conf"

pytestmark = [
    pytest.mark.skipif(
        NGINX is None, reason="nginx is not installed (make test installs it when run as root)"
    ),
    pytest.mark.skipif(
        OPENSSL is None, reason="openssl is not installed (make test installs it when run as root)"
    ),
]


@dataclass(frozen=True)
class Site:
    port: int  # HTTPS
    http_port: int


def _templated(upstream: int, https: int, http: int, folder: Path) -> str:
    """The shipped file with this test's ports and paths: each placeholder must still be in it."""
    text = SHIPPED.read_text()
    replacements = {
        "server 127.0.0.1:8000;": f"server 127.0.0.1:{upstream};",
        "listen 80;": f"listen 127.0.0.1:{http};",
        "listen [::]:80;": "",
        "listen 443 ssl;": f"listen 127.0.0.1:{https} ssl;",
        "listen [::]:443 ssl;": "",
        "/etc/letsencrypt/live/annotate.example.org/fullchain.pem": str(folder / "cert.pem"),
        "/etc/letsencrypt/live/annotate.example.org/privkey.pem": str(folder / "key.pem"),
        "/srv/annotate/media/": f"{settings.MEDIA_ROOT}/",
        "/srv/annotate/static/": f"{settings.STATIC_ROOT}/",
    }
    for placeholder, value in replacements.items():
        assert placeholder in text, f"deploy/nginx.conf no longer has {placeholder!r}"
        text = text.replace(placeholder, value)
    return text


def _main_config(folder: Path, site: Path) -> str:
    mime_types = Path("/etc/nginx/mime.types")
    types = f"include {mime_types};" if mime_types.exists() else "types { video/mp4 mp4; text/css css; }"
    return f"""
user {pwd.getpwuid(os.geteuid()).pw_name};
worker_processes 1;
error_log {folder}/error.log warn;
events {{ worker_connections 256; }}
http {{
    {types}
    default_type application/octet-stream;
    access_log {folder}/access.log;
    include {site};
}}
"""


@pytest.fixture(scope="module")
def site(django_db_setup: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    folder = tmp_path_factory.mktemp("nginx")
    call_command("collectstatic", interactive=False, verbosity=0)
    subprocess.run(
        [OPENSSL, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
         "-keyout", folder / "key.pem", "-out", folder / "cert.pem"],
        check=True, capture_output=True,
    )  # fmt: skip
    upstream, https, http = free_port(), free_port(), free_port()
    (folder / "site.conf").write_text(_templated(upstream, https, http, folder))
    (folder / "nginx.conf").write_text(_main_config(folder, folder / "site.conf"))
    environment = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DATABASE_URL": process_database_url(),
        "MEDIA_ROOT": str(settings.MEDIA_ROOT),
        "SECRET_KEY": settings.SECRET_KEY,  # the sessions this test makes must be valid there
        "DEBUG": "0",
        "SECURE_PROXY_SSL_HEADER": "HTTP_X_FORWARDED_PROTO",
        "MEDIA_ACCEL_REDIRECT_PREFIX": "/protected-media/",
    }
    gunicorn = [
        sys.executable, "-m", "gunicorn", "config.wsgi", "--bind", f"127.0.0.1:{upstream}",
        "--worker-class", "config.gunicorn_worker.InlineWorker", "--workers", "1", "--no-control-socket",
    ]  # fmt: skip
    nginx = [NGINX, "-p", str(folder), "-c", str(folder / "nginx.conf"), "-e", str(folder / "error.log"),
             "-g", f"daemon off; pid {folder}/nginx.pid;"]  # fmt: skip
    with (
        serving(gunicorn, environment, ready=lambda: get(upstream, "/healthz"), log=folder / "gunicorn.log"),
        serving(nginx, environment, ready=lambda: get(https, "/healthz", tls=True), log=folder / "nginx.log"),
    ):
        yield Site(port=https, http_port=http)


@pytest.fixture
def video(transactional_db: None):
    return make_video()


def _session_cookie(user) -> str:
    client = Client()
    client.force_login(user)
    return f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"


def test_a_page_is_served_through_nginx(site, transactional_db):
    status, headers, body = get(site.port, "/accounts/login/", tls=True)
    assert status == 200
    assert b"<form" in body
    assert "secure" in headers["set-cookie"].lower()  # the app knows the request came over HTTPS


def test_plain_http_is_sent_to_https(site):
    status, headers, _ = get(site.http_port, "/tracks/")
    assert status == 301
    assert headers["location"].startswith("https://")


def test_static_files_are_served_by_nginx(site):
    status, headers, body = get(site.port, "/static/css/annotate.css", tls=True)
    assert status == 200
    assert headers["content-type"].startswith("text/css")
    assert body == (ROOT / "static" / "css" / "annotate.css").read_bytes()


def test_media_are_sent_by_nginx_to_a_permitted_user_with_ranges(site, video, study_admin):
    cookie = _session_cookie(study_admin)
    stored = Path(settings.MEDIA_ROOT, video.file.name).read_bytes()
    status, headers, body = get(site.port, f"/media/{video.file.name}", tls=True, headers={"Cookie": cookie})
    assert status == 200
    assert headers["content-type"] == "video/mp4"
    assert "x-accel-redirect" not in headers
    assert body == stored
    status, _, body = get(
        site.port, f"/media/{video.file.name}", tls=True, headers={"Cookie": cookie, "Range": "bytes=0-9"}
    )
    assert status == 206
    assert body == stored[:10]


def test_media_are_refused_to_an_anonymous_user_and_never_reached_directly(site, video):
    status, _, body = get(site.port, f"/media/{video.file.name}", tls=True)
    assert status == 404
    assert body[:4] != Path(settings.MEDIA_ROOT, video.file.name).read_bytes()[:4]
    status, _, _ = get(site.port, f"/protected-media/{video.file.name}", tls=True)
    assert status == 404


def test_a_body_over_the_upload_limit_is_refused_by_nginx_with_413(site):
    size, unit = re.search(r"client_max_body_size (\d+)([kmg]?);", SHIPPED.read_text()).groups()
    limit = int(size) * {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3}[unit]
    assert settings.CATALOG_MAX_FILE_BYTES < limit < settings.CATALOG_MAX_FILE_BYTES + 64 * 1024**2
    with unverified_tls().wrap_socket(socket.create_connection(("127.0.0.1", site.port), timeout=10)) as sock:
        sock.sendall(
            b"POST /generation/upload/ HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Content-Type: application/octet-stream\r\nContent-Length: %d\r\n\r\n" % (limit + 1)
        )
        answer = sock.recv(4096)
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]


def test_slow_clients_do_not_stall_the_apps_worker_behind_nginx(site):
    with slow_clients(site.port, 16, tls=True):
        assert_answers_quickly(site.port, "/healthz", tls=True)
