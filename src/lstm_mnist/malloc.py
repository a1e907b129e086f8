"""Keep freed memory for reuse instead of handing it back to the OS after every step (glibc).

Each training step allocates and frees the same few large buffers (the LSTM's gate activations
and their gradients: ~1-3 MB at batch 128). glibc serves blocks over its adaptive mmap threshold
with fresh mmap pages and trims the heap top after a free, so every step pays for page faults
and zeroing. On the 2-core machine of the README that made Trainer.fit ~25% slower and the
hand-written loop ~15% slower; fixing both thresholds removes it (see README "Performance").
"""

import ctypes
import os
import sys

_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # mallopt parameters, from <malloc.h>
_MMAP_THRESHOLD = 32 * 2**20  # the largest glibc accepts on 64-bit; larger blocks still mmap
_TRIM_THRESHOLD = 2**30


OPT_OUT = "LSTM_MNIST_MALLOC_TUNING"  # set to 0 to leave glibc's defaults


def keep_freed_memory() -> bool:
    """Set glibc's mmap and trim thresholds, unless the user set them (MALLOC_*_ environment
    variables) or opted out (LSTM_MNIST_MALLOC_TUNING=0); True if applied. A no-op off Linux
    or with another C library."""
    if not sys.platform.startswith("linux") or os.environ.get(OPT_OUT) == "0":
        return False
    if "MALLOC_MMAP_THRESHOLD_" in os.environ or "MALLOC_TRIM_THRESHOLD_" in os.environ:
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):  # musl and others have no mallopt
        return False
    return bool(
        mallopt(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD) and mallopt(_M_TRIM_THRESHOLD, _TRIM_THRESHOLD)
    )
