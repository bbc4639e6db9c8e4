"""Integers bound as text, so that PostgreSQL itself refuses a value its column cannot hold."""

from __future__ import annotations

from typing import Any

from django.db.backends.base.base import BaseDatabaseWrapper
from psycopg.types import numeric


def integers_bound_checked(sender: Any, connection: BaseDatabaseWrapper, **kwargs: Any) -> None:
    """Bind the integers of integer fields in text, whose value PostgreSQL checks against the type.

    Django's PostgreSQL backend wraps the value of every integer field in psycopg's ``Int2``, ``Int4`` or
    ``Int8`` (the column's type, so that server-side binding sends a parameter of that type), and
    psycopg's binary dumpers of those types pack the value into 2, 4 or 8 bytes without looking at it:
    9,999,999,999 for an ``integer`` column arrives as 1,410,065,407, silently. Sent as text with the same
    type, the parameter is parsed by the server, which answers "value … is out of range for type integer"
    (a ``DataError``) instead. The parameter keeps its type, so statements stay prepared and their plans
    the same; the text dumpers are psycopg's own, in C, as the binary ones. Plain ``int`` parameters of
    raw SQL (the vote path's) are not these types: psycopg picks their type by value and never wraps them.
    """
    if connection.vendor != "postgresql":
        return
    adapters = connection.connection.adapters
    for cls, dumper in (
        (numeric.Int2, numeric.Int2Dumper),
        (numeric.Int4, numeric.Int4Dumper),
        (numeric.Int8, numeric.Int8Dumper),
    ):
        adapters.register_dumper(cls, dumper)  # the last one registered is the one %s uses
