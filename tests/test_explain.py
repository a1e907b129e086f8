"""``lstm-mnist explain``: the running guess of chosen test digits, as a PNG."""

import pytest

from lstm_mnist.cli import cli_main


def explain(fitted_run, data_dir, *options: str) -> None:
    cli_main(["explain", "--ckpt_path", fitted_run[1], "--data_dir", str(data_dir), *options])


def test_explain_writes_the_reading_figure(fitted_run, tiny_data_dir, tmp_path, capsys):
    out = tmp_path / "reading.png"
    explain(fitted_run, tiny_data_dir, "--index", "[0, 5]", "--out", str(out))
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    printed = capsys.readouterr().out
    assert "test[0] (label 0): answers" in printed
    assert "test[5] (label 5)" in printed


def test_explain_rejects_indices_outside_the_test_set(fitted_run, tiny_data_dir):
    with pytest.raises(SystemExit, match=r"--index=\[100000\] must be in \[0, 69\]"):
        explain(fitted_run, tiny_data_dir, "--index", "[100000]")
