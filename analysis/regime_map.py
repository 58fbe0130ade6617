"""Heatmap and regime map of a sweep over the (a, b) plane.

    python -m analysis.regime_map --experiment NAME [--tracking-uri URI]
        [--out DIR] [--strict]

Each FINISHED Adam run with both a and b is one cell of the plane, and
analysis.regimes.classify labels its curve from the run's late window. For
each (task, lr) pair of the sweep this writes:

    heatmap.png      mean loss over the late window, log colour scale
    regime_map.png   the regime at each (a, b), one colour per regime
    regime_grid.csv  the values both figures plot, one row per (a, b)

and for the whole sweep cells.csv, one row per run with the columns
a,b,lr,task,seed,late_loss,regime,run_id. When the sweep has several
(task, lr) pairs, the per-pair files are named with `_<task>_lr<lr>`.

With several seeds at one (a, b) the heatmap shows the mean of late_loss over
the seeds, which is inf if any seed diverged. The regime map shows the most
common regime, and a tie goes to the regime listed first in SEVERITY.
"""

import argparse
import logging
import sys
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from analysis.cli import add_run_arguments, draw_and_print
from analysis.files import file_part, write_csv
from analysis.plane import draw_heatmap, draw_regime_map
from analysis.regimes import (
    CONVERGED,
    DIVERGENCE,
    OSCILLATION,
    SPIKES,
    UNDERFLOW,
    UNSETTLED,
    classify,
)
from analysis.runs import RunsError, default_tracking_uri, load_runs

logger = logging.getLogger(__name__)

CELL_COLUMNS = ("a", "b", "lr", "task", "seed", "late_loss", "regime", "run_id")
GRID_COLUMNS = (
    "task",
    "lr",
    "a",
    "b",
    "seeds",
    "mean_late_loss",
    "regime",
    "regime_counts",
)
SEVERITY = (DIVERGENCE, SPIKES, UNSETTLED, UNDERFLOW, OSCILLATION, CONVERGED)
DEFAULT_OUT = Path("figures")


@dataclass(frozen=True)
class Cell:
    """One config on the (a, b) plane. late_loss is inf for a diverged config."""

    a: float
    b: float
    lr: float
    task: str
    seed: int
    late_loss: float
    regime: str
    run_id: str
    late_window: int

    def row(self):
        return [getattr(self, column) for column in CELL_COLUMNS]


@dataclass
class Grid:
    """The cells of one (task, lr) pair on an a x b grid, with seeds aggregated.

    `mean_loss`, `regimes` and `seeds` have shape (len(a_values),
    len(b_values)), and points without a run have NaN, '' and 0 there.
    `counts` maps an index pair (i, j) to a Counter of the seeds' regimes.
    """

    task: str
    lr: float
    a_values: np.ndarray
    b_values: np.ndarray
    mean_loss: np.ndarray
    regimes: np.ndarray
    seeds: np.ndarray
    counts: dict
    late_windows: tuple

    def rows(self):
        """Yield one row of GRID_COLUMNS per (a, b) point that has runs."""
        for i, j in zip(*np.nonzero(self.seeds), strict=True):
            counts = ";".join(f"{r}:{n}" for r, n in self.counts[i, j].most_common())
            yield [
                self.task,
                self.lr,
                float(self.a_values[i]),
                float(self.b_values[j]),
                int(self.seeds[i, j]),
                float(self.mean_loss[i, j]),
                self.regimes[i, j],
                counts,
            ]


def label_cells(records, thresholds=None):
    """Classify the curve of every Adam run with both a and b into a Cell.

    Other runs have no place on the plane and are skipped with an INFO log.
    Returns the cells sorted by (task, lr, a, b, seed).
    """
    cells, skipped = [], Counter()
    for record in records:
        if record.optimizer != "adam" or record.a is None or record.b is None:
            skipped[record.optimizer] += 1
            continue
        label = classify(
            record.curve["loss"],
            record.late_window,
            record.diverged_at,
            x_norm=record.curve.get("x_norm"),
            dtype=record.params.get("dtype"),
            **(thresholds or {}),
        )
        cells.append(
            Cell(
                a=record.a,
                b=record.b,
                lr=record.lr,
                task=record.task,
                seed=record.seed,
                late_loss=label.late_mean,
                regime=label.regime,
                run_id=record.run_id,
                late_window=record.late_window,
            )
        )
    if skipped:
        by_optimizer = ", ".join(f"{name}: {n}" for name, n in sorted(skipped.items()))
        logger.info(
            "skipping %d runs without a place on the (a, b) plane, which needs "
            "optimizer adam with both a and b (%s)",
            sum(skipped.values()),
            by_optimizer,
        )
    return sorted(cells, key=lambda c: (c.task, c.lr, c.a, c.b, c.seed))


def build_grids(cells):
    """Return one Grid per (task, lr) pair, sorted by task and lr."""
    groups = defaultdict(list)
    for cell in cells:
        groups[cell.task, cell.lr].append(cell)
    return [
        _build_grid(task, lr, group) for (task, lr), group in sorted(groups.items())
    ]


def _build_grid(task, lr, cells):
    a_values = np.unique([c.a for c in cells])
    b_values = np.unique([c.b for c in cells])
    shape = (a_values.size, b_values.size)
    losses = defaultdict(list)
    counts = defaultdict(Counter)
    for cell in cells:
        key = (np.searchsorted(a_values, cell.a), np.searchsorted(b_values, cell.b))
        losses[key].append(cell.late_loss)
        counts[key][cell.regime] += 1

    mean_loss = np.full(shape, np.nan)
    regimes = np.full(shape, "", dtype=object)
    seeds = np.zeros(shape, dtype=int)
    for key, values in losses.items():
        mean_loss[key] = np.mean(values)
        regimes[key] = _most_common(counts[key])
        seeds[key] = len(values)
    late_windows = tuple(sorted({c.late_window for c in cells}))
    return Grid(
        task,
        lr,
        a_values,
        b_values,
        mean_loss,
        regimes,
        seeds,
        dict(counts),
        late_windows,
    )


def _most_common(counts):
    top = max(counts.values())
    return next(r for r in SEVERITY if counts.get(r) == top)


def draw_regime_maps(
    experiment,
    tracking_uri=None,
    out_dir=None,
    *,
    strict=False,
    thresholds=None,
    submission="latest",
):
    """Label every config of an experiment and draw its maps over (a, b).

    Args:
        experiment: MLflow experiment name (the sweep spec's `name`).
        tracking_uri: MLflow tracking URI; default_tracking_uri() if None.
        out_dir: output folder, created if needed; figures/<experiment>
            if None.
        strict: raise instead of skipping runs that are unfinished or lack
            data (see analysis.runs.load_runs).
        submission: "latest", "all" or a submission id (see load_runs).
        thresholds: keyword arguments for analysis.regimes.classify.

    Returns:
        Paths of the files written: per (task, lr) the heatmap, the regime
        map and their table, then cells.csv.

    Raises:
        RunsError: as load_runs does, or if no run has a place on the plane.
    """
    out_dir = Path(out_dir) if out_dir else DEFAULT_OUT / file_part(experiment)
    records = load_runs(experiment, tracking_uri, strict=strict, submission=submission)
    cells = label_cells(records, thresholds)
    if not cells:
        raise RunsError(
            f"experiment '{experiment}' has no finished adam run with both a "
            "and b, so nothing has a place on the (a, b) plane"
        )

    out_dir.mkdir(parents=True, exist_ok=True)
    grids = build_grids(cells)
    paths = []
    for grid in grids:
        suffix = f"_{file_part(grid.task)}_lr{grid.lr:g}" if len(grids) > 1 else ""
        paths.extend(_draw_grid(grid, out_dir, suffix))
    cells_path = out_dir / "cells.csv"
    write_csv(cells_path, CELL_COLUMNS, (cell.row() for cell in cells))
    paths.append(cells_path)
    logger.info("wrote %d files for %d configs to %s", len(paths), len(cells), out_dir)
    return paths


def _draw_grid(grid, out_dir, suffix):
    window_text = _late_window_text(grid.late_windows)
    heading = f"{grid.task}: Adam at lr = {grid.lr:g}"
    seeds = _seeds_text(grid.seeds)
    seeds_note = f", mean over {seeds}" if seeds else ""
    mode_note = f", most common of {seeds}" if seeds else ""

    heatmap = out_dir / f"heatmap{suffix}.png"
    # Points labelled divergence are drawn hatched like NaN or inf ones: a
    # loss that blew up to 1e18 and stayed finite is no value to compare.
    shown = np.where(grid.regimes == DIVERGENCE, np.inf, grid.mean_loss)
    draw_heatmap(
        heatmap,
        grid.a_values,
        grid.b_values,
        shown,
        f"{heading}\ntraining loss over the {window_text}{seeds_note}",
        f"mean training loss over the {window_text}",
        vmax=_colour_ceiling(grid),
    )
    regime_map = out_dir / f"regime_map{suffix}.png"
    draw_regime_map(
        regime_map,
        grid.a_values,
        grid.b_values,
        grid.regimes,
        f"{heading}\nregime of the {window_text}{mode_note}",
    )
    table = out_dir / f"regime_grid{suffix}.csv"
    write_csv(table, GRID_COLUMNS, grid.rows())
    return [heatmap, regime_map, table]


def _colour_ceiling(grid):
    """Return the largest late loss of points not labelled divergence, or None."""
    kept = (grid.regimes != DIVERGENCE) & (grid.regimes != "")
    values = grid.mean_loss[kept]
    values = values[np.isfinite(values) & (values > 0)]
    return float(values.max()) if values.size else None


def _seeds_text(seeds):
    """'3 seeds', '1 to 3 seeds per point', or '' when every point has one."""
    counts = np.unique(seeds[seeds > 0])
    if counts.max() == 1:
        return ""
    if counts.size == 1:
        return f"{counts[0]} seeds"
    return f"{counts.min()} to {counts.max()} seeds per point"


def _late_window_text(late_windows):
    if len(late_windows) == 1:
        return f"last {late_windows[0]} steps"
    return "late window"


def main(argv=None):
    """Run the command line: draw the maps of one experiment."""
    parser = argparse.ArgumentParser(
        prog="python -m analysis.regime_map",
        description="Draw the heatmap and regime map of an Adam sweep over "
        "the (a, b) plane, with cells.csv.",
    )
    add_run_arguments(parser)
    args = parser.parse_args(argv)

    return draw_and_print(
        draw_regime_maps,
        args.experiment,
        args.tracking_uri or default_tracking_uri(),
        args.out,
        strict=args.strict,
        submission=args.submission,
    )


if __name__ == "__main__":
    sys.exit(main())
