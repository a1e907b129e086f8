import sys

import pytest

from lstm_mnist.malloc import keep_freed_memory


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")
def test_thresholds_are_set_on_linux(monkeypatch):
    monkeypatch.delenv("MALLOC_MMAP_THRESHOLD_", raising=False)
    monkeypatch.delenv("MALLOC_TRIM_THRESHOLD_", raising=False)
    monkeypatch.delenv("LSTM_MNIST_MALLOC_TUNING", raising=False)
    assert keep_freed_memory() is True


@pytest.mark.parametrize(
    ("variable", "value"), [("MALLOC_TRIM_THRESHOLD_", "0"), ("LSTM_MNIST_MALLOC_TUNING", "0")]
)
def test_a_users_own_malloc_settings_or_opt_out_win(variable, value, monkeypatch):
    monkeypatch.setenv(variable, value)
    assert keep_freed_memory() is False
