"""``python -m lstm_mnist.experiments --grid reproduction``: config x seed grids -> results/.

Each cell is a full ``fit`` with ``--test_after_fit`` through the same CLI a user runs; the
test accuracy of the best-val checkpoint is collected. The grid writes ``results/<grid>.csv``
(one row per run) and ``results/<grid>.md`` (mean +- std per setting, the seed's numbers beside).
Run it from the project's root (the grids name files in ``configs/``).
"""

import csv
import statistics
import time
from pathlib import Path
from typing import Literal

from jsonargparse import auto_cli

from lstm_mnist.cli import cli_main

DEFAULT, PADDED = "configs/default.yaml", "configs/padded.yaml"
# The seed's Keras results, one run each
SEED_RESULTS = {"default": 0.9856, "padded": 0.9839}
# Pixel sequences are 784 steps long: on CPU their rows train on a fifth of each epoch, 5 epochs.
SHORT = ["--trainer.limit_train_batches", "0.2", "--trainer.max_epochs", "5"]

GRIDS: dict[str, list[tuple[str, list[str]]]] = {
    "reproduction": [("default", ["--config", DEFAULT]), ("padded", ["--config", PADDED])],
    "padding": [
        (f"pad_width {width}", ["--config", DEFAULT, "--data.pad_width", str(width)])
        for width in (0, 14, 28, 56)
    ],
    "scan": [
        ("rows", ["--config", DEFAULT]),
        ("columns", ["--config", DEFAULT, "--data.scan", "columns"]),
        ("pixels", ["--config", DEFAULT, "--data.scan", "pixels", *SHORT]),
        ("permuted", ["--config", DEFAULT, "--data.scan", "permuted", *SHORT]),
    ],
    "fashion": [("seed model", ["--config", DEFAULT, "--data.dataset", "fashion_mnist"])],
}
Grid = Literal["reproduction", "padding", "scan", "fashion"]


def run_grid(
    grid: Grid = "reproduction",
    seeds: list[int] | None = None,
    data_dir: str = "data",
    out_dir: str = "results",
) -> None:
    """Run every setting of a grid with every seed, then write the CSV and the Markdown table.

    Args:
        grid: ``reproduction`` (default vs padded), ``padding`` (0/14/28/56 zeros per row),
            ``scan`` (rows, columns, pixels, permuted) or ``fashion`` (Fashion-MNIST).
        seeds: Global seeds (``seed_everything``); default 0 1 2.
        data_dir: Folder holding ``MNIST/raw`` (and ``FashionMNIST/raw``).
        out_dir: Where ``<grid>.csv``, ``<grid>.md`` and the runs' ``lightning_logs`` go.
    """
    out = Path(out_dir)
    rows = []
    for name, args in GRIDS[grid]:
        for seed in seeds if seeds is not None else [0, 1, 2]:
            rows.append({"setting": name, "seed": seed, **_fit_and_test(args, seed, data_dir, out)})
            print(f"{grid}: {name}, seed {seed}: test acc {rows[-1]['test_acc']:.4f}", flush=True)
    _write_csv(rows, out / f"{grid}.csv")
    (out / f"{grid}.md").write_text(markdown_table(grid, rows))
    print(f"wrote {out / f'{grid}.csv'} and {out / f'{grid}.md'}")


def _fit_and_test(args: list[str], seed: int, data_dir: str, out: Path) -> dict:
    start = time.perf_counter()
    cli = cli_main(
        [
            "fit",
            *args,
            "--seed_everything",
            str(seed),
            "--data.data_dir",
            data_dir,
            "--data.download",
            "false",
            "--test_after_fit",
            "true",
            "--trainer.enable_progress_bar",
            "false",
            "--trainer.logger.init_args.save_dir",
            str(out / "lightning_logs"),
        ]
    )
    trainer = cli.trainer
    return {
        "test_acc": round(float(trainer.callback_metrics["test/acc"]), 4),
        "best_val_acc": round(float(trainer.checkpoint_callback.best_model_score), 4),
        "epochs": trainer.current_epoch,  # after fit: the number of epochs trained
        "parameters": sum(p.numel() for p in cli.model.parameters()),
        "seconds": round(time.perf_counter() - start),
        "overrides": " ".join(args),
    }


def markdown_table(grid: str, rows: list[dict]) -> str:
    lines = [
        f"# {grid}\n",
        "| setting | test accuracy, mean +- std | runs | seeds' accuracies "
        "| parameters | epochs | seconds per run | seed (Keras) | overrides |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for setting in dict.fromkeys(row["setting"] for row in rows):
        runs = [row for row in rows if row["setting"] == setting]
        accs = [100 * row["test_acc"] for row in runs]
        spread = statistics.stdev(accs) if len(accs) > 1 else 0.0
        seed = SEED_RESULTS.get(setting)
        lines.append(
            f"| {setting} | {statistics.mean(accs):.2f} +- {spread:.2f}% | {len(runs)} "
            f"| {', '.join(f'{a:.2f}' for a in accs)} | {runs[0]['parameters']:,} "
            f"| {runs[0]['epochs']} | {statistics.mean(r['seconds'] for r in runs):.0f} "
            f"| {f'{100 * seed:.2f}%' if seed else '-'} | `{runs[0]['overrides']}` |"
        )
    return "\n".join(lines) + "\n"


def _write_csv(rows: list[dict], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as file:
        writer = csv.DictWriter(file, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


if __name__ == "__main__":
    auto_cli(run_grid)
