"""The process settings of tuning.py, each checked by its effect, not by its return value."""

import subprocess
import sys
import time

import pytest
from lightning.pytorch.profilers import PassThroughProfiler

from lstm_mnist.cli import tuning

# How many mmap'd blocks (glibc's mallinfo2 "hblks") a held 4 MB block adds.
MMAPPED_BLOCKS = """
import ctypes
libc = ctypes.CDLL(None)
libc.malloc.restype = ctypes.c_void_p
FIELDS = "arena ordblks smblks hblks hblkhd usmblks fsmblks uordblks fordblks keepcost"
class Info(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in FIELDS.split()]
libc.mallinfo2.restype = Info
def mmapped_blocks():
    before = libc.mallinfo2().hblks
    block = libc.malloc(4 * 2**20)
    added = libc.mallinfo2().hblks - before
    libc.free(ctypes.c_void_p(block))
    return added
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")
def test_large_step_buffers_come_from_the_heap_not_fresh_mmap_pages():
    # glibc's default, in a fresh process (the thresholds are process-wide): its own mapping
    default = subprocess.run(
        [sys.executable, "-c", MMAPPED_BLOCKS + "print(mmapped_blocks())"],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin"},
    )
    assert default.stdout.strip() == "1", default.stderr
    namespace: dict = {}
    exec(MMAPPED_BLOCKS, namespace)
    assert tuning.keep_freed_memory()
    assert namespace["mmapped_blocks"]() == 0  # reused heap memory: no page faults each step


def test_a_users_own_malloc_settings_or_opt_out_win(monkeypatch):
    for variable in ("MALLOC_TRIM_THRESHOLD_", tuning.MALLOC_OPT_OUT):
        monkeypatch.setenv(variable, "0")
        assert tuning.keep_freed_memory() is False
        monkeypatch.delenv(variable)


@pytest.mark.parametrize("loadable", [True, False])
def test_the_nvml_check_goes_only_where_no_driver_loads(loadable, monkeypatch):
    def cdll(name):
        if not loadable:
            raise OSError(f"{name}: cannot open shared object file")

    monkeypatch.setenv(tuning.NVML_CHECK, "1")  # as Lightning sets it on import
    monkeypatch.setattr(tuning.ctypes, "CDLL", cdll)
    tuning.skip_nvml_check_without_driver()
    assert (tuning.NVML_CHECK in tuning.os.environ) is loadable
    monkeypatch.setenv(tuning.NVML_CHECK, "0")  # a user's own choice is left alone
    assert tuning.skip_nvml_check_without_driver() is False
    assert tuning.os.environ[tuning.NVML_CHECK] == "0"


def seconds_per_call(profiler, calls: int = 20_000) -> float:
    best = float("inf")
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(calls):
            with profiler.profile("a hook"):
                pass
        best = min(best, time.perf_counter() - start)
    return best / calls


def test_no_profiler_costs_less_than_lightnings_pass_through():
    with tuning.NoProfiler().profile("a step") as name:  # what Lightning's loop does with it
        assert name == "a step"
    assert seconds_per_call(tuning.NoProfiler()) < 0.7 * seconds_per_call(PassThroughProfiler())
