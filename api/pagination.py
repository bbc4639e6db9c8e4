from __future__ import annotations

from typing import Any

from rest_framework.exceptions import NotFound, ValidationError
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

    def get_page_size(self, request: Request) -> int:
        # DRF falls back to the default size for a value it cannot read and cuts a large one down to the
        # maximum, so a caller never learns that the size they asked for was not the one they got.
        value = request.query_params.get(self.page_size_query_param)
        if value is None:
            return self.page_size
        # Digits only (int() would also take " 5", "+5" and "5_0"), and few enough for int() to read.
        if not (
            value.isascii() and value.isdigit() and len(value) <= 9 and 1 <= int(value) <= self.max_page_size
        ):
            raise ValidationError(
                {self.page_size_query_param: [f"A whole number from 1 to {self.max_page_size}."]}
            )
        return int(value)

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.page_size_query_param:
                parameter["schema"] = {"type": "integer", "minimum": 1, "maximum": self.max_page_size}
        return parameters

    def decode_cursor(self, request: Request) -> Cursor | None:
        # DRF checks the offset and direction but passes the position through to the query, where a
        # forged one that is not an id fails as a 500.
        cursor = super().decode_cursor(request)
        # Typed as an int in the stubs, it is the string read from the cursor.
        position = None if cursor is None or cursor.position is None else str(cursor.position)
        if position is not None and not (
            # int() refuses more than 4,300 digits with a ValueError: check the length first.
            position.isascii() and position.isdigit() and len(position) <= 19 and int(position) <= BIGINT_MAX
        ):
            raise NotFound(self.invalid_cursor_message)
        return cursor
