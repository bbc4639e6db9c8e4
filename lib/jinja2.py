"""The Jinja2 environment of the templates that ``settings.TEMPLATES`` gives to Jinja2."""

from __future__ import annotations

from typing import Any

from jinja2 import Environment

from lib.routing import route_url


def environment(**options: Any) -> Environment:
    env = Environment(**options)
    env.globals["url"] = route_url  # {% url name arg … %} of the Django templates
    return env
