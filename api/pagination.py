from __future__ import annotations

from rest_framework.exceptions import NotFound
from rest_framework.pagination import Cursor, CursorPagination
from rest_framework.request import Request

from lib.converters import BIGINT_MAX


class IdCursorPagination(CursorPagination):
    """Stable pages over growing tables: a cursor on the primary key, never an offset."""

    ordering = "id"
    page_size = 100
    page_size_query_param = "page_size"
    max_page_size = 1000
    invalid_cursor_message = "Invalid cursor: follow the next or previous link of a page this API gave."

    def decode_cursor(self, request: Request) -> Cursor | None:
        # DRF checks the offset and direction but passes the position through to the query, where a
        # forged one that is not an id fails as a 500.
        cursor = super().decode_cursor(request)
        # Typed as an int in the stubs, it is the string read from the cursor.
        position = None if cursor is None or cursor.position is None else str(cursor.position)
        if position is not None and not (
            position.isascii() and position.isdigit() and int(position) <= BIGINT_MAX
        ):
            raise NotFound(self.invalid_cursor_message)
        return cursor
