"""``reverse()`` for the URLs of the hot path, at a fraction of its cost.

Each vote's answer carries half a dozen URLs (the next vote's, the watch report's, the media), and
``reverse()`` costs about 45 µs each: it looks up the language, the URLconf and the script prefix and
then matches the route's pattern again. ``route_url`` reverses a route once per script prefix and
URLconf, with marks in place of its arguments, and then only fills the marks in.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from urllib.parse import quote

from django.urls import get_script_prefix, get_urlconf, reverse
from django.utils.http import RFC3986_SUBDELIMS

# What django.urls.resolvers leaves unquoted in a reversed argument.
_SAFE = RFC3986_SUBDELIMS + "/~:@"
# Argument marks: digits, so that every converter (int, str, slug, path) accepts them.
_MARK = 7_351_906_248


@lru_cache(maxsize=256)
def _route(name: str, arity: int, prefix: str, urlconf: str | None) -> tuple[str, ...]:
    """The reversed route cut at its arguments: the literal parts around them, in order."""
    marks = [str(_MARK + n) for n in range(arity)]
    path = reverse(name, args=marks, urlconf=urlconf)
    parts = []
    for mark in marks:
        before, found, path = path.partition(mark)
        assert found, f"route {name!r} does not show argument {mark}"
        parts.append(before)
    return (*parts, path)


def routes() -> Callable[..., str]:
    """``route_url`` bound to this request's script prefix and URLconf, which are read once: for the
    many URLs of one answer (reading them costs as much as filling in a route)."""
    prefix, urlconf = get_script_prefix(), get_urlconf()

    def url(name: str, *args: int | str) -> str:
        parts = _route(name, len(args), prefix, urlconf)
        pieces = [parts[0]]
        for arg, part in zip(args, parts[1:], strict=True):
            pieces.append(quote(str(arg), safe=_SAFE))
            pieces.append(part)
        return "".join(pieces)

    return url


def route_url(name: str, *args: int | str) -> str:
    """``reverse(name, args=args)``, quoted the same way. The arguments are not checked against the
    route's converters: this is for values the code made itself (ids, stored media names)."""
    return routes()(name, *args)
