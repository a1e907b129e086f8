"""A grid's results: gathered from its cells' records into ``<grid>.csv`` and ``<grid>.md``.

The CSV holds one row per finished run (setting, seed, scores, how long, where, which commit); the
Markdown table one row per setting, mean +- std over its seeds, the seed's Keras figure beside it,
then notes: where and with which commit the rows ran, and every cell of the grid that is still
pending, running or failed, by name (never counted, never dropped without a word).
"""

import csv
import statistics
from pathlib import Path

from lstm_mnist.experiments.cells import cell_folder, read_record
from lstm_mnist.experiments.grid import Grid

COLUMNS = (
    "setting", "seed", "test_acc", "best_val_acc", "epochs", "parameters", "threads", "seconds",
    "overrides", "scored", "machine", "date", "commit",
)  # fmt: skip
RESCORED_NOTE = (
    "\nRows whose `scored` column (in the CSV) says re-scored: test and val accuracy measured "
    "again with `--rescore true` on the best checkpoint the fit picked (README, Experiments)."
)
UNRECORDED = "not recorded"  # the commit of rows made before the runner recorded one


def gather_cells(
    grid: Grid, cells: list[tuple], out_dir: str | Path
) -> tuple[list[dict], list[str]]:
    """The finished cells' rows, and a line for each cell that is not finished.

    Args:
        grid: The grid.
        cells: (setting, seed) pairs, in table order.
        out_dir: Where the cells' folders are (``<out_dir>/runs/<grid>/``).
    """
    rows, unfinished = [], []
    for setting, seed in cells:
        record = read_record(cell_folder(out_dir, grid.name, setting, seed))
        name = f"{setting.name}, seed {seed}"
        if record is None:
            unfinished.append(f"{name}: pending (not started)")
        elif record.get("status") == "done":
            rows.append({key: record.get(key) for key in COLUMNS})
        elif record.get("status") == "failed":
            unfinished.append(f"{name}: failed ({record.get('error')}; {_where(record)})")
        else:
            unfinished.append(f"{name}: {record.get('status')} since {record.get('started')}")
    return rows, unfinished


def _where(record: dict) -> str:
    job = f"job {record['job']} on " if record.get("job") else ""
    return f"{job}{record.get('host')}, started {record.get('started')}"


def merged(grid: Grid, kept: list[dict], new: list[dict], cells: list[tuple]) -> list[dict]:
    """The rows of ``kept`` of other cells than ``cells``, and ``new``, in table order.

    A cell of ``cells`` that has not finished has no row (its old one goes: the notes name it).
    """
    gathered = {(setting.name, str(seed)) for setting, seed in cells}
    rows = [row for row in kept if (row["setting"], str(row["seed"])) not in gathered] + new
    order = {setting.name: index for index, setting in enumerate(grid.settings)}
    return sorted(rows, key=lambda row: (order.get(row["setting"], len(order)), int(row["seed"])))


def markdown_table(grid: Grid, rows: list[dict], unfinished: list[str] = ()) -> str:
    """A grid's runs as one Markdown row per setting: mean +- std over its seeds; then notes."""
    lines = [
        f"# {grid.name}\n",
        "| setting | test accuracy, mean +- std | runs | seeds' accuracies "
        "| parameters | epochs | seconds per run | seed (Keras) | overrides |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    keras = {setting.name: setting.keras for setting in grid.settings}
    for name in dict.fromkeys(row["setting"] for row in rows):
        runs = [row for row in rows if row["setting"] == name]
        accs = [100 * float(row["test_acc"]) for row in runs]
        spread = f" +- {statistics.stdev(accs):.2f}" if len(accs) > 1 else ""  # none from 1 run
        seed = keras.get(name)
        lines.append(
            f"| {name} | {statistics.mean(accs):.2f}{spread}% | {len(runs)} "
            f"| {', '.join(f'{a:.2f}' for a in accs)} | {int(runs[0]['parameters']):,} "
            f"| {runs[0]['epochs']} | {statistics.mean(int(r['seconds']) for r in runs):.0f} "
            f"| {f'{100 * seed:.2f}%' if seed else '-'} | `{runs[0]['overrides']}` |"
        )
    if any(row.get("scored", "at fit") != "at fit" for row in rows):
        lines.append(RESCORED_NOTE)
    lines += _provenance(rows)
    if unfinished:
        lines.append("\nNot in the table (not finished when it was gathered):")
        lines += [f"- {line}" for line in unfinished]
    return "\n".join(lines) + "\n"


def _provenance(rows: list[dict]) -> list[str]:
    """Where and from which commit the rows ran: one line per machine, date and commit."""
    ran: dict[str, list[str]] = {}
    for row in rows:
        if row.get("machine"):
            code = row.get("commit") or UNRECORDED
            ran.setdefault(f"{row['machine']} ({row['date']}, commit {code})", []).append(
                row["setting"]
            )
    if not ran:
        return []
    if len(ran) == 1 and all(row.get("machine") for row in rows):
        return [f"\nRan on: {next(iter(ran))}."]
    names = {where: ", ".join(f"`{n}`" for n in dict.fromkeys(s)) for where, s in ran.items()}
    return [f"\nRan on: {where}: {settings}." for where, settings in names.items()]


def read_csv(path: Path) -> list[dict]:
    """A grid's CSV rows (older CSVs may lack newer columns)."""
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist: run the grid first (without render_only)")
    with path.open(newline="") as file:
        rows = list(csv.DictReader(file))
    for row in rows:  # seconds are whole; older CSVs wrote them as 662.0
        row["seconds"] = round(float(row["seconds"]))
    return rows


def write_csv(rows: list[dict], path: Path) -> None:
    """Write the rows, with every column any row has (older rows may lack newer ones)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as file:
        fields = list(dict.fromkeys(key for row in rows for key in row))
        writer = csv.DictWriter(file, fieldnames=fields, restval="")
        writer.writeheader()
        writer.writerows(rows)
