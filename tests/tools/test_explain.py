"""``lstm-mnist explain``: the running guess of chosen test digits, as a figure."""

import re

import pytest

from lstm_mnist.cli.main import cli_main


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


def test_explain_takes_one_index_and_writes_where_and_what_it_says(
    fitted_run, tiny_data_dir, tmp_path, capsys
):
    explain(fitted_run, tiny_data_dir, "--index", "5", "--out", str(tmp_path / "new" / "r.svg"))
    assert (tmp_path / "new" / "r.svg").read_text().lstrip().startswith("<?xml")
    explain(fitted_run, tiny_data_dir, "--index", "5", "--out", str(tmp_path / "plain"))
    assert (tmp_path / "plain.png").read_bytes()[:4] == b"\x89PNG"  # no suffix: a PNG, said so
    printed = capsys.readouterr().out
    assert "test[5] (label 5)" in printed
    assert f"wrote {tmp_path / 'plain.png'}" in printed


@pytest.mark.parametrize(
    ("options", "says"),
    [
        (["--out", "r.txt"], "--out='r.txt': matplotlib writes no .txt files; use .png"),
        (["--out", "."], "--out='.' is a folder: give a file, e.g. reading.png"),
        (["--out", "afile/r.png"], "cannot write afile/r.png: "),
        (["--index", "[]"], "--index=[] names no digit"),
    ],
)
def test_a_bad_out_or_index_is_one_line_and_writes_nothing(
    options, says, fitted_run, tiny_data_dir, tmp_path, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "afile").write_text("not a folder")
    with pytest.raises(SystemExit, match=f"^error: {re.escape(says)}"):
        explain(fitted_run, tiny_data_dir, *options)
    assert [path.name for path in tmp_path.iterdir()] == ["afile"]
