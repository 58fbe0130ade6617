"""Loss curves of every config of a sweep, one figure per task.

    python -m analysis.curves --experiment NAME [--tracking-uri URI]
        [--out DIR] [--x step|time] [--window START:END] [--strict]

Each FINISHED run is one line on a log loss axis, labelled by its config. The
x axis is the step, or the time t = lr * step, which lines up runs at
different learning rates. With --window a second panel zooms on steps
START <= step < END of every curve. A diverged curve ends with an x marker at
its diverged step, drawn at its last finite loss.

Curves longer than MAX_POINTS are downsampled to the minimum and the maximum
of each of MAX_POINTS / 2 equal buckets of steps, so spikes survive. The
window is downsampled the same way on its own, and both panels draw from the
union of those points. Beside each curves_<task>.png, curves_<task>.csv lists
exactly those points (run_id,label,step,time,loss).
"""

import argparse
import logging
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np
from matplotlib import colormaps
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from analysis.cli import add_run_arguments, draw_and_print
from analysis.files import file_part, write_csv
from analysis.runs import default_tracking_uri, load_runs
from analysis.state_space import draw_state_space, has_state

logger = logging.getLogger(__name__)

CURVE_COLUMNS = ("run_id", "label", "step", "time", "loss")
X_AXES = {"step": "step", "time": "time t = lr · step"}
MAX_POINTS = 2000
MAX_LEGEND = 20
DEFAULT_OUT = Path("figures")
DPI = 150
WINDOW_FORM = "START:END with integer steps 0 <= START < END, e.g. 9000:10000"


def parse_window(text):
    """Parse 'START:END' into a (start, end) pair of steps.

    Raises:
        ValueError: if text is not of that form with 0 <= START < END.
    """
    parts = str(text).split(":")
    try:
        start, end = (int(part) for part in parts)
    except ValueError:
        start = end = None
    if start is None or not 0 <= start < end:
        raise ValueError(f"invalid window '{text}': expected {WINDOW_FORM}")
    return start, end


def downsample(loss, max_points=MAX_POINTS):
    """Return sorted indices of the bucket minima and maxima of loss.

    The first and last indices are always kept. A NaN in a bucket is kept as
    both its minimum and its maximum.
    """
    n = loss.size
    if n <= max_points:
        return np.arange(n)
    buckets = max(1, max_points // 2)
    width = -(-n // buckets)
    padded_low = np.full(buckets * width, np.inf)
    padded_high = np.full(buckets * width, -np.inf)
    padded_low[:n] = loss
    padded_high[:n] = loss
    offsets = np.arange(buckets) * width
    lows = offsets + np.argmin(padded_low.reshape(buckets, width), axis=1)
    highs = offsets + np.argmax(padded_high.reshape(buckets, width), axis=1)
    indices = np.concatenate(([0, n - 1], lows, highs))
    return np.unique(indices[indices < n])


def plotted_indices(step, loss, window=None, max_points=MAX_POINTS):
    """Indices drawn for one curve: the whole curve and the window, downsampled."""
    indices = downsample(loss, max_points)
    if window is not None:
        inside = np.flatnonzero((step >= window[0]) & (step < window[1]))
        indices = np.union1d(indices, inside[downsample(loss[inside], max_points)])
    return indices


def draw_curves(
    experiment,
    tracking_uri=None,
    out_dir=None,
    x="step",
    window=None,
    *,
    strict=False,
    submission="latest",
):
    """Draw the loss curves of an experiment, one figure and table per task.

    Args:
        experiment: MLflow experiment name (the sweep spec's `name`).
        tracking_uri: MLflow tracking URI; default_tracking_uri() if None.
        out_dir: output folder, created if needed; figures/<experiment> if None.
        x: 'step', or 'time' for t = lr * step.
        window: (start, end) steps or 'START:END' for a zoomed second panel.
        strict: raise instead of skipping runs that are unfinished or lack
            data (see analysis.runs.load_runs).
        submission: "latest", "all" or a submission id (see load_runs).

    Returns:
        Paths of curves_<task>.png and curves_<task>.csv for every task, and
        of state_<task>.png and .csv (the trajectory in (||x||, ||m||,
        ||sqrt v||) over the window) for tasks whose runs recorded state.

    Raises:
        ValueError: for an unknown x or an invalid window.
        RunsError: as load_runs does.
    """
    if x not in X_AXES:
        raise ValueError(f"x={x!r} is invalid: expected one of {', '.join(X_AXES)}")
    if isinstance(window, str):
        window = parse_window(window)
    elif window is not None:
        window = parse_window(f"{window[0]}:{window[1]}")
    out_dir = Path(out_dir) if out_dir else DEFAULT_OUT / file_part(experiment)

    records = load_runs(experiment, tracking_uri, strict=strict, submission=submission)
    by_task = defaultdict(list)
    for record in records:
        by_task[record.task].append(record)

    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for task, group in sorted(by_task.items()):
        group.sort(key=_config_order)
        picture = out_dir / f"curves_{file_part(task)}.png"
        table = out_dir / f"curves_{file_part(task)}.csv"
        rows = _draw_task(picture, task, group, x, window)
        write_csv(table, CURVE_COLUMNS, rows)
        paths.extend([picture, table])
        with_state = [r for r in group if has_state(r)]
        if with_state:
            paths += draw_state_space(
                out_dir / f"state_{file_part(task)}.png",
                out_dir / f"state_{file_part(task)}.csv",
                task,
                with_state,
                window,
                dpi=DPI,
            )
    logger.info(
        "wrote %d files for %d configs to %s", len(paths), len(records), out_dir
    )
    return paths


def _config_order(record):
    return (record.optimizer, record.lr, record.a or 0.0, record.b or 0.0, record.seed)


def _draw_task(path, task, records, x, window):
    """Save the figure of one task and return the rows of its table."""
    fig = Figure(figsize=(10.0, 4.2 if window is None else 7.6), layout="constrained")
    axes = fig.subplots(1 if window is None else 2, 1, squeeze=False)[:, 0]
    rows = []
    any_diverged = False
    for record, color in zip(records, _colors(len(records)), strict=True):
        curve_rows, diverged = _plot_curve(axes, record, color, x, window)
        rows.extend(curve_rows)
        any_diverged |= diverged

    _decorate(fig, axes, task, records, x, window, any_diverged)
    fig.savefig(path, dpi=DPI)
    return rows


def _plot_curve(axes, record, color, x, window):
    """Plot one config on every panel; return its table rows and if it diverged."""
    label = record.label()
    loss = np.asarray(record.curve["loss"], dtype=np.float64)
    step = np.asarray(record.curve.get("step", np.arange(loss.size)))
    indices = plotted_indices(step, loss, window)
    steps, ys = step[indices], loss[indices]
    xs = steps * (record.lr if x == "time" else 1)
    rows = [
        [record.run_id, label, int(s), float(record.lr * s), float(v)]
        for s, v in zip(steps, ys, strict=True)
    ]

    end = _diverged_point(ys)
    panels = [(axes[0], np.ones(xs.size, dtype=bool))]
    if window is not None:
        panels.append((axes[1], (steps >= window[0]) & (steps < window[1])))
    for ax, keep in panels:
        finite_ys = np.where(np.isfinite(ys), ys, np.nan)
        ax.plot(xs[keep], finite_ys[keep], color=color, linewidth=0.9, label=label)
        if end is not None and keep[end[0]]:
            ax.plot(
                xs[end[0]],
                end[1],
                marker="x",
                markersize=8,
                color=color,
                markeredgewidth=2,
            )
    return rows, end is not None


def _diverged_point(ys):
    """(index of the first non-finite loss, last finite loss before it) or None."""
    bad = np.flatnonzero(~np.isfinite(ys))
    if bad.size == 0:
        return None
    before = ys[: bad[0]]
    return bad[0], before[-1] if before.size else np.nan


def _colors(n):
    if n <= 10:
        return [f"C{i}" for i in range(n)]
    return list(colormaps["viridis"](np.linspace(0.0, 0.95, n)))


def _decorate(fig, axes, task, records, x, window, any_diverged):
    title = f"{task}: training loss of {len(records)} configs"
    if len(records) > MAX_LEGEND:
        title += f" (labels in curves_{file_part(task)}.csv)"
    axes[0].set_title(title)
    if window is not None:
        axes[1].set_title(f"zoom on steps {window[0]} <= step < {window[1]}")
    for ax in axes:
        ax.set_yscale("log")
        ax.set_xlabel(X_AXES[x])
        ax.set_ylabel("training loss")
        ax.grid(True, which="major", alpha=0.3)

    handles, labels = axes[0].get_legend_handles_labels()
    if len(records) > MAX_LEGEND:
        handles, labels = [], []
    if any_diverged:
        handles.append(
            Line2D([], [], marker="x", color="black", linestyle="", markeredgewidth=2)
        )
        labels.append("diverged (NaN or inf loss)")
    if handles:
        fig.legend(
            handles, labels, loc="outside right upper", fontsize="small", frameon=False
        )


def _window_argument(text):
    try:
        return parse_window(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def main(argv=None):
    """Run the command line: draw the loss curves of one experiment."""
    parser = argparse.ArgumentParser(
        prog="python -m analysis.curves",
        description="Draw the training loss curves of every config of a sweep, "
        "one figure per task, each with a CSV of the plotted points.",
    )
    add_run_arguments(parser)
    parser.add_argument(
        "--x",
        choices=list(X_AXES),
        default="step",
        help="x axis: step, or time t = lr * step to compare "
        "learning rates (default: step)",
    )
    parser.add_argument(
        "--window",
        type=_window_argument,
        default=None,
        metavar="START:END",
        help="add a panel zoomed on steps START <= step < END",
    )
    args = parser.parse_args(argv)

    return draw_and_print(
        draw_curves,
        args.experiment,
        args.tracking_uri or default_tracking_uri(),
        args.out,
        x=args.x,
        window=args.window,
        strict=args.strict,
        submission=args.submission,
    )


if __name__ == "__main__":
    sys.exit(main())
