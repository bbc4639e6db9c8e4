"""The API's OpenAPI schema: every operation documents the error answers DRF gives, with their bodies."""

from __future__ import annotations

from typing import Any

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import ResolvedComponent

# DRF's bodies: ``{"detail": "..."}`` for a refusal (401, 403, 404, 409, 415, a request it cannot parse), and
# field names (or ``non_field_errors``) mapped to their messages for invalid input; a list or nested
# field maps to a list or an object of messages.
ERROR = ResolvedComponent(
    name="Error",
    type=ResolvedComponent.SCHEMA,
    object="Error",
    schema={
        "type": "object",
        "properties": {"detail": {"type": "string"}},
        "required": ["detail"],
    },
)
VALIDATION_ERROR = ResolvedComponent(
    name="ValidationError",
    type=ResolvedComponent.SCHEMA,
    object="ValidationError",
    schema={
        "type": "object",
        "description": "Each invalid field (or non_field_errors, or detail) with what was wrong.",
        "additionalProperties": {
            "anyOf": [
                {"type": "string"},
                {"type": "array", "items": {}},
                {"type": "object"},
            ]
        },
    },
)


class ApiAutoSchema(AutoSchema):
    """Adds 400, 401, 403, 404 and 415 to each operation where the view can answer them."""

    def get_operation(self, *args: Any, **kwargs: Any) -> dict[str, Any] | None:
        operation = super().get_operation(*args, **kwargs)
        if operation is None:
            return None
        for parameter in operation.get("parameters", []):
            schema = parameter.get("schema", {})
            if schema.get("type") == "string" and not ({"enum", "format", "pattern"} & set(schema)):
                # DRF's CharField refuses NUL characters ("Null characters are not allowed."): say so,
                # or a client reading the schema would send one and get a 400 it was not promised.
                schema["pattern"] = "^[^\\x00]*$"
        parameters = {(p["in"], p["name"]) for p in operation.get("parameters", [])}
        responses = operation["responses"]

        def add(code: str, component: ResolvedComponent, description: str) -> None:
            self.registry.register_on_missing(component)
            responses.setdefault(
                code,
                {"description": description, "content": {"application/json": {"schema": component.ref}}},
            )

        if "requestBody" in operation or any(where == "query" for where, _ in parameters):
            # Query parameters are checked: a bad value, a repeated or an unknown name is refused.
            add("400", VALIDATION_ERROR, "Invalid input: each field or parameter at fault, with why.")
        if "requestBody" in operation:
            add("415", ERROR, "A body in a media type this operation does not read.")
        if self.view.get_authenticators():
            add("401", ERROR, "No credentials, or a token that is not (or no longer) valid.")
            add(
                "403",
                ERROR,
                "Signed in but not on the ML team or staff, or a session without its CSRF token.",
            )
        if any(where == "path" for where, _ in parameters) or ("query", "cursor") in parameters:
            add("404", ERROR, "No such object, or a cursor this API did not give.")
        return operation
