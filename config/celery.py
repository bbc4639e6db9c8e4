from __future__ import annotations

import os

from celery import Celery
from celery.signals import worker_init

from config import embedded

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("annotate_platform")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_init.connect
def _embedded_servers_started(**kwargs: object) -> None:
    """A worker connects to its broker before it touches the database: start the embedded servers."""
    embedded.start_configured()
