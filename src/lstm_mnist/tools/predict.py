"""What ``predict`` tells a user: per image, the class and its name, its probability, the top 3."""

import csv
import json
from pathlib import Path

from jsonargparse.typing import NonNegativeInt, PositiveInt
from lightning.pytorch.callbacks import BasePredictionWriter
from typing_extensions import override

from lstm_mnist.core.errors import require


class PredictionWriter(BasePredictionWriter):
    """Prints one line per predicted image and optionally saves them as CSV or JSON."""

    def __init__(
        self, output: str | None = None, top_k: PositiveInt = 3, print_limit: NonNegativeInt = 100
    ) -> None:
        """Set what is printed and saved.

        Args:
            output: File to save the predictions in: ``.csv`` or ``.json`` (by its suffix).
            top_k: How many of the most probable classes to list per image.
            print_limit: Print at most this many lines (the test set has 10,000 images).
        """
        super().__init__(write_interval="batch")
        suffix = Path(output).suffix.lower() if output else ".csv"
        require(
            suffix in (".csv", ".json"),
            "prediction_writer",
            "output",
            output,
            "must end in .csv or .json",
        )
        self.output, self.top_k, self.print_limit = output, top_k, print_limit
        self.rows: list[dict] = []
        self.class_names: list[str] = []

    @override
    def on_predict_start(self, trainer, pl_module) -> None:
        self.rows = []
        self.class_names = trainer.datamodule.class_names  # an MNISTDataModule's

    @override
    def write_on_batch_end(
        self, trainer, pl_module, prediction, batch_indices, batch, batch_idx, dataloader_idx
    ) -> None:
        names = trainer.predict_dataloaders.dataset.names  # a NamedBatches
        probs = prediction["probs"].float().cpu()
        top = probs.topk(min(self.top_k, probs.shape[-1]), dim=-1)
        labels = batch[1].tolist()
        for row, index in enumerate(batch_indices):
            ranked = list(zip(top.indices[row].tolist(), top.values[row].tolist(), strict=True))
            self.rows.append(
                {
                    "file": names[index],
                    "class": ranked[0][0],
                    "name": self.class_names[ranked[0][0]],
                    "probability": round(ranked[0][1], 4),
                    "top": [[c, round(p, 4)] for c, p in ranked],
                    **({"label": labels[row]} if labels[row] >= 0 else {}),  # the test set's
                }
            )

    @override
    def teardown(self, trainer, pl_module, stage: str) -> None:
        # After the loop, when the progress bar has ended its line (a log file would otherwise
        # get the first prediction glued to the bar's last redraw).
        if stage != "predict":
            return
        for row in self.rows[: self.print_limit]:
            top = ", ".join(f"{self.class_names[c]} {p:.2f}" for c, p in row["top"])
            print(f"{row['file']}: {row['name']} (p={row['probability']:.2f}; top: {top})")
        if len(self.rows) > self.print_limit:
            hint = "" if self.output else "; save all with --prediction_writer.output FILE.csv"
            print(f"... {len(self.rows) - self.print_limit} more{hint}")
        if self.output:
            _save(self.rows, self._path(trainer))
            print(f"saved {len(self.rows)} predictions to {self._path(trainer)}")

    def _path(self, trainer) -> Path:
        path = Path(self.output)
        if trainer.world_size > 1:  # each rank predicted its own share
            path = path.with_stem(f"{path.stem}.rank{trainer.global_rank}")
        return path


def _save(rows: list[dict], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix.lower() == ".json":
        path.write_text(json.dumps(rows, indent=1))
        return
    with path.open("w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["file", "class", "name", "probability", "top", "label"])
        for row in rows:
            top = " ".join(f"{c}:{p}" for c, p in row["top"])  # classes: names may hold spaces
            fields = [row["file"], row["class"], row["name"], row["probability"], top]
            writer.writerow([*fields, row.get("label", "")])
