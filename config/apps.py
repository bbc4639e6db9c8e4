from __future__ import annotations

from django.apps import AppConfig
from django.db.backends.signals import connection_created


class ConfigConfig(AppConfig):
    name = "config"
    verbose_name = "Configuration"

    def ready(self) -> None:
        # Every connection, the embedded server's or a DATABASE_URL's, binds integers so that a value its
        # column cannot hold is refused rather than stored wrapped around.
        from config.database import integers_bound_checked

        connection_created.connect(integers_bound_checked, dispatch_uid="config-integers-bound-checked")
