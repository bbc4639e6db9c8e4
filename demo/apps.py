from __future__ import annotations

from typing import TYPE_CHECKING

from django.apps import AppConfig

if TYPE_CHECKING:
    from generation.backends.base import Backend


def _procedural() -> Backend:
    from demo.backend import ProceduralBackend

    return ProceduralBackend()


class DemoConfig(AppConfig):
    name = "demo"
    verbose_name = "Synthetic demo world"

    def ready(self) -> None:
        # Every process that sets Django up (the web server, commands, Celery workers through Celery's
        # Django fixup) can then render "procedural" methods. The factory imports the cartoon renderer on
        # first use, so that starting up does not.
        from generation.backends import backend_register

        backend_register("procedural", _procedural)
