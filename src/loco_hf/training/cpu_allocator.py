# Copyright 2026 The loco-hf authors. Licensed under the MIT licence.
"""Keeping freed memory inside a CPU training process (Linux, glibc).

A train step of the UnAV-100 presets allocates and frees tensors of tens to hundreds of MB (the dependency block's
100 x 128 channels per step, the gradients of its 39 M-parameter convolutions). glibc's malloc serves every block
above its mmap threshold (at most 32 MB) with a fresh mapping and unmaps it when it is freed, so each step faults
every page of those blocks in again and the kernel zeroes them: on a 2-core machine that system time was a third of
a full-preset train step (benchmarks/RESULTS.md). Serving large blocks from the heap and never trimming it lets a
block freed in one step be reused by the next. The cost: the process keeps its peak memory until it exits.
"""

import ctypes
import platform

from transformers.utils import logging

logger = logging.get_logger(f"transformers.{__name__}")

__all__ = ["keep_freed_memory"]

# mallopt parameters of glibc's malloc.h.
M_TRIM_THRESHOLD = -1
M_MMAP_MAX = -4
# The largest trim threshold mallopt takes (an int): the heap is returned to the kernel only above 2 GiB free.
LARGEST_TRIM_THRESHOLD = 2**31 - 1


def keep_freed_memory() -> bool:
    """Tells glibc's malloc to serve large blocks from its heap (no mmap) and not to trim the heap, for the rest of
    the process.

    Returns:
        `bool`: True when applied; False where the C library is not glibc (macOS, Windows, musl), which is left as
        it is.
    """
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return False
    try:
        mallopt = ctypes.CDLL("libc.so.6").mallopt
    except (OSError, AttributeError):
        return False
    applied = mallopt(M_MMAP_MAX, 0) == 1 and mallopt(M_TRIM_THRESHOLD, LARGEST_TRIM_THRESHOLD) == 1
    if applied:
        logger.debug("glibc malloc keeps freed memory in the process (M_MMAP_MAX 0, M_TRIM_THRESHOLD 2 GiB).")
    return applied
