import ctypes

import pytest
import torch

from lstm_mnist import nvml


def test_the_check_is_unset_only_where_the_driver_cannot_be_loaded(monkeypatch):
    monkeypatch.setenv(nvml.VARIABLE, "1")  # as Lightning sets it
    try:
        ctypes.CDLL("libnvidia-ml.so.1")
        has_driver = True
    except OSError:
        has_driver = False
    assert nvml.skip_nvml_check_without_driver() is not has_driver
    assert (nvml.VARIABLE in nvml.os.environ) is has_driver
    assert torch.cuda.is_available() is (has_driver and torch.cuda.device_count() > 0)


def test_a_users_own_setting_is_left_alone(monkeypatch):
    monkeypatch.setenv(nvml.VARIABLE, "0")
    assert nvml.skip_nvml_check_without_driver() is False
    assert nvml.os.environ[nvml.VARIABLE] == "0"


@pytest.mark.parametrize("loadable", [True, False])
def test_a_loadable_driver_keeps_lightnings_check(loadable, monkeypatch):
    def cdll(name):
        if not loadable:
            raise OSError(f"{name}: cannot open shared object file")

    monkeypatch.setenv(nvml.VARIABLE, "1")
    monkeypatch.setattr(nvml.ctypes, "CDLL", cdll)
    assert nvml.skip_nvml_check_without_driver() is not loadable
