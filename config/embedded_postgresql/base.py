"""The embedded PostgreSQL backend: Django's own, with the server started when a connection is needed."""

from __future__ import annotations

from typing import Any

import dj_database_url
from django.conf import settings
from django.db.backends.postgresql import base

from config import embedded


class DatabaseWrapper(base.DatabaseWrapper):
    def get_connection_params(self) -> dict[str, Any]:
        # The first connection of a process starts the embedded servers the settings name (both, so that
        # a command that uses the database finds the broker too); later ones only read where it listens.
        embedded.start_configured()
        server = dj_database_url.parse(embedded.postgres_url(settings.VAR_DIR))
        self.settings_dict.update(
            # A unix socket's folder comes as the URL's ``?host=``, which the parser puts in OPTIONS.
            HOST=server["HOST"] or server.get("OPTIONS", {}).get("host", ""),
            PORT=server["PORT"],
            USER=server["USER"],
            PASSWORD=server["PASSWORD"],
        )
        return super().get_connection_params()
