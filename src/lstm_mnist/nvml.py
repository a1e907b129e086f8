"""Skip a CUDA check that, on a machine without an NVIDIA driver, costs ~45 us every step.

Lightning sets PYTORCH_NVML_BASED_CUDA_CHECK=1 when imported, so that asking whether CUDA is
available goes through NVML and does not initialise CUDA before worker processes fork. Every
``optimizer.step()`` asks (torch's graph-capture health check), and until CUDA is initialised
torch does not cache the answer: each step tries to ``dlopen`` libnvidia-ml again. Where the
driver is missing that always fails, so the check protects nothing; torch's default check then
answers from a cached count (docs/performance.md: 44 against 1.1 us a call on the README's
2-core machine), in Trainer.fit and in any loop in a process that imported Lightning.
"""

import ctypes
import os

VARIABLE = "PYTORCH_NVML_BASED_CUDA_CHECK"


def skip_nvml_check_without_driver() -> bool:
    """Unset Lightning's NVML-based CUDA check where libnvidia-ml cannot be loaded (no NVIDIA
    driver, so no CUDA to protect); True if unset. Machines with the driver keep it."""
    if os.environ.get(VARIABLE) != "1":
        return False
    try:
        ctypes.CDLL("libnvidia-ml.so.1")
    except OSError:
        del os.environ[VARIABLE]
        return True
    return False
