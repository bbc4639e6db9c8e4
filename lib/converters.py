"""The ``id`` path converter: a row id in a URL, refused (a 404) when no bigint column could hold it.

Django's ``int`` converter takes any run of digits, and a value beyond the bigint range then fails in
the database as a 500 instead of simply naming nothing. Every urls.py imports this module, which
registers the converter once, and writes its ids as ``<id:...>``.
"""

from __future__ import annotations

from django.urls import register_converter

BIGINT_MAX = 2**63 - 1


class IdConverter:
    regex = "[0-9]{1,19}"

    def to_python(self, value: str) -> int:
        number = int(value)
        if number > BIGINT_MAX:
            raise ValueError("beyond the bigint range")  # the URL then matches nothing: a 404
        return number

    def to_url(self, value: int | str) -> str:
        return str(value)


register_converter(IdConverter, "id")
