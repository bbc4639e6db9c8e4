"""Cells that a spreadsheet would run as a formula, made inert (the OWASP rule for CSV injection).

A name that people or imports control (a method called ``=HYPERLINK(...)``) must reach a spreadsheet as
text: such a cell gets a leading single quote. Numbers, a negative one included, stay numbers.
"""

from __future__ import annotations

import re

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# RE2 syntax as well, so that exports can apply the same test to an Arrow column.
NUMBER_PATTERN = r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$"
FORMULA_PATTERN = r"^[=+\-@\t\r]"
_NUMBER = re.compile(NUMBER_PATTERN)


def formula_safe(text: str) -> str:
    """``text`` with a single quote in front when a spreadsheet would read it as a formula."""
    if text.startswith(FORMULA_STARTS) and not _NUMBER.match(text):
        return "'" + text
    return text
