"""What a fit runs with when no profiler is configured: nothing profiled, nothing paid.

Lightning's default, ``PassThroughProfiler``, also profiles nothing, but its ``profile()`` is a
generator-based context manager, built and entered ~70 times a training step (each hook,
callback call and loop stage). On the 2-core machine of the README that costs ~0.3 ms of a
10-14 ms step (docs/performance.md, measured with a script since removed); a plain null
context costs nearly nothing.
"""

from contextlib import AbstractContextManager, nullcontext

from lightning.pytorch.profilers import PassThroughProfiler


class NoProfiler(PassThroughProfiler):
    """Lightning's ``PassThroughProfiler`` with a ``profile()`` that costs a null context."""

    def profile(self, action_name: str) -> AbstractContextManager[str]:
        return nullcontext(action_name)
