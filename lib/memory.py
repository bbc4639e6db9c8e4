"""Freed memory handed back to the system between the steps of a long computation.

glibc keeps what a thread frees in that thread's arena for its later allocations, and numpy arrays under
its mmap threshold (which rises to 32 MB as large blocks are freed) live in those arenas. Another thread
cannot reuse that memory, and the process stays that much larger: after the export's rater quality fit (a
thread of its own) 300 MB of freed memory stayed resident at ten million judgments, until ``malloc_trim``.
Arrow's pool keeps freed blocks for reuse in the same way.
"""

from __future__ import annotations

import ctypes
from collections.abc import Callable

import pyarrow as pa


def _glibc_trim() -> Callable[[int], int] | None:
    # The process's own symbols, where glibc's are: no search for the library (ctypes.util.find_library
    # runs ldconfig), since this module is imported with the export at start-up.
    try:
        trim: Callable[[int], int] = ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):  # not glibc (musl, macOS): nothing to trim this way
        return None
    return trim


_TRIM = _glibc_trim()


def release_freed_memory() -> None:
    """Hand the pages of freed blocks back (every glibc arena, and Arrow's pool); a few milliseconds."""
    pa.default_memory_pool().release_unused()
    if _TRIM is not None:
        _TRIM(0)
