"""Process settings that make this small model train faster, applied once at start.

Each is kept because a measurement in docs/performance.md still justifies it:

- glibc's malloc thresholds: each training step allocates and frees the same few large buffers
  (the LSTM's gate activations and their gradients, ~1-3 MB at batch 128). glibc serves blocks
  over its adaptive mmap threshold with fresh mmap pages and trims the heap top after a free, so
  every step paid for page faults and zeroing (Trainer.fit ~25% slower, a hand loop ~15%).
- Lightning's NVML-based CUDA check (PYTORCH_NVML_BASED_CUDA_CHECK=1, set when it is imported):
  every ``optimizer.step()`` asks whether CUDA is available, and until CUDA is initialised torch
  tries to load libnvidia-ml again each time (44 us a call against 1.1 without the variable).
  Where the driver is missing there is no CUDA to protect, so the variable is dropped there.
- ``NoProfiler``: with no profiler configured Lightning still enters a generator-based context
  manager ~70 times a training step; a null context does nothing (benchmarks/speed.py, 2026-12-02:
  0.915x and 0.897x of the hand loop with it, 0.884x and 0.879x without).
"""

import ctypes
import os
import sys
from contextlib import AbstractContextManager, nullcontext

from lightning.pytorch.profilers import PassThroughProfiler
from typing_extensions import override

MALLOC_OPT_OUT = "LSTM_MNIST_MALLOC_TUNING"  # set to 0 to leave glibc's defaults
NVML_CHECK = "PYTORCH_NVML_BASED_CUDA_CHECK"
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # mallopt parameters, from <malloc.h>
_MMAP_THRESHOLD = 32 * 2**20  # the largest glibc accepts on 64-bit; larger blocks still mmap
_TRIM_THRESHOLD = 2**30


def tune_process() -> dict[str, bool]:
    """Apply the process settings above; which of them took effect."""
    return {"malloc": keep_freed_memory(), "nvml": skip_nvml_check_without_driver()}


def keep_freed_memory() -> bool:
    """Set glibc's mmap and trim thresholds; True if applied.

    Not if the user set them (MALLOC_*_ variables) or opted out (LSTM_MNIST_MALLOC_TUNING=0). A no-
    op off Linux or glibc.
    """
    if not sys.platform.startswith("linux") or os.environ.get(MALLOC_OPT_OUT) == "0":
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


def skip_nvml_check_without_driver() -> bool:
    """Unset Lightning's NVML-based CUDA check where no NVIDIA driver loads; True if unset.

    Without libnvidia-ml there is no CUDA to protect. Machines with the driver keep the check.
    """
    if os.environ.get(NVML_CHECK) != "1":
        return False
    try:
        ctypes.CDLL("libnvidia-ml.so.1")
    except OSError:
        del os.environ[NVML_CHECK]
        return True
    return False


class NoProfiler(PassThroughProfiler):
    """Lightning's ``PassThroughProfiler`` with a ``profile()`` that costs a null context.

    What the CLI gives a Trainer that has no profiler configured.
    """

    @override
    def profile(self, action_name: str) -> AbstractContextManager[str]:
        return nullcontext(action_name)
