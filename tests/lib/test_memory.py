"""Freed memory goes back to the system when asked, not only when the process ends."""

from __future__ import annotations

import numpy as np
import pytest

from lib import memory


def resident_mb() -> float:
    with open("/proc/self/statm") as stats:
        return int(stats.read().split()[1]) * 4096 / 2**20


@pytest.mark.skipif(memory._TRIM is None, reason="glibc's malloc_trim is not there")
def test_blocks_freed_below_a_live_one_are_handed_back() -> None:
    # Blocks of 64 KB stay in the arena (under the mmap threshold); the last one stays alive, so the
    # arena's top cannot shrink on its own and only a trim can give the freed pages back.
    blocks = [np.ones(8192) for _ in range(4000)]  # 250 MB
    kept = blocks.pop()
    del blocks
    before = resident_mb()
    memory.release_freed_memory()
    assert before - resident_mb() > 100
    assert kept.sum() == 8192
