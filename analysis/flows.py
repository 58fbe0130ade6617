"""Discrete runs at several learning rates against their continuous-time flow.

    python -m analysis.flows --task TASK --optimizer adam|rmsprop|signgd
        [--a A --b B | --beta1 B1 --beta2 B2] --lrs LR [LR ...] --time T
        [--seed S] [--eps E] [--method M] [--option KEY=VALUE ...]
        [--out DIR] [--json FILE]

Each lr runs the discrete method for ceil(T / lr) steps, and step k is placed
at time t = k * lr. With --a/--b the betas follow 1 - a lr and 1 - b lr, and
the runs tend to the RMSprop or Adam flow. With --beta1/--beta2 the betas stay
fixed and the runs tend to xdot = -g / (|g| + eps). signGD tends to
xdot = -sign(g).

For each lr the command prints sup_t ||X_lr(t) - x(t)|| over [0, steps * lr],
where X_lr(t) = x_k on [k lr, (k + 1) lr) and x is the flow from the same x0,
and then the order p fitted to distance ~ C lr^p. It saves
DIR/flows_<task>_<optimizer>.png, the loss against t of every run and of the
flow, and beside it a CSV of exactly those points (curve,lr,time,loss).
The task is built in float64, and the runs and the flow compute in float64.
"""

import argparse
import ast
import json
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from matplotlib.figure import Figure

from analysis.files import file_part, write_csv
from optimizers.flows import (
    FlowPath,
    Limit,
    flat_loss,
    integrate_flow,
    run_discrete,
    steps_for,
)
from tasks import get_task

CSV_COLUMNS = ("curve", "lr", "time", "loss")
DEFAULT_OUT = Path("figures")
DPI = 150


@dataclass
class DiscreteRun:
    """One discrete run: times [n + 1], x [n + 1, d] and loss [n + 1]."""

    lr: float
    times: np.ndarray
    x: np.ndarray
    loss: np.ndarray


@dataclass
class Comparison:
    """Discrete runs at each lr, their flow, and the distances between them."""

    limit: Limit
    runs: list[DiscreteRun]
    flow: FlowPath
    flow_loss: np.ndarray
    distances: list[float]
    order: float | None


def sup_distance(discrete_x, flow_x):
    """Return sup over t of ||X(t) - x(t)|| for X piecewise constant.

    Args:
        discrete_x: [n + 1, d], x_k of the discrete run.
        flow_x: [n + 1, d], the flow at the times t_k = k lr.

    X(t) = x_k on [t_k, t_{k+1}). On so short an interval x(t) is affine to
    O(lr^2), and the norm of an affine function of t is convex, so the sup
    over the interval sits at one of its ends: ||x_k - x(t_k)|| or
    ||x_k - x(t_{k+1})||. The last point x_n is compared at t_n.
    """
    at_start = np.linalg.norm(discrete_x - flow_x, axis=1)
    at_end = np.linalg.norm(discrete_x[:-1] - flow_x[1:], axis=1)
    return float(max(at_start.max(), at_end.max(initial=0.0)))


def fit_order(lrs, distances):
    """Return the least-squares slope of log(distance) against log(lr).

    Returns None for fewer than two learning rates.
    """
    if len(lrs) < 2:
        return None
    slope, _ = np.polyfit(np.log(lrs), np.log(distances), 1)
    return float(slope)


def losses_along(loss, x):
    """Return f at every row of x ([T, d] numpy), as a numpy array [T]."""
    rows = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float64))
    return torch.vmap(loss)(rows).detach().numpy()


def compare_with_flow(loss, x0, limit, lrs, time, method="BDF", v0=None):
    """Run the discrete method at each lr and the flow of `limit` to `time`.

    Args:
        loss: f of a flat float64 tensor, e.g. from flows.flat_loss.
        x0: the starting point, shape [d], float64.
        limit: a flows.Limit, which names the optimizer and its flow.
        lrs: the learning rates, each run for ceil(time / lr) steps.
        time: the end time T.
        method: the ``solve_ivp`` method of the flow.
        v0: a starting second moment for RMSprop, used by the discrete runs
            and by the RMSprop flow alike (zeros by default).
    """
    if v0 is not None and limit.optimizer != "rmsprop":
        raise ValueError(f"v0 is only used by rmsprop, not {limit.optimizer!r}")
    if not time > 0:
        raise ValueError(f"time={time!r} is invalid: the end time must be > 0")
    x0 = torch.as_tensor(x0, dtype=torch.float64)
    grids = [np.arange(steps_for(lr, time) + 1) * lr for lr in lrs]
    flow_times = np.unique(np.concatenate(grids))
    flow = integrate_flow(
        limit.flow,
        loss,
        x0,
        flow_times,
        a=limit.a,
        b=limit.b,
        eps=limit.eps,
        v0=v0 if limit.flow == "rmsprop" else None,  # the sign flow has no v
        method=method,
    )

    runs, distances = [], []
    for lr, grid in zip(lrs, grids, strict=True):
        path = run_discrete(
            limit.optimizer, loss, x0, limit.hparams(lr), grid.size - 1, v0=v0
        )
        x = path.numpy()
        runs.append(DiscreteRun(lr, grid, x, losses_along(loss, x)))
        on_grid = flow.x[np.searchsorted(flow_times, grid)]
        distances.append(sup_distance(x, on_grid))

    flow_loss = losses_along(loss, flow.x)
    order = fit_order(lrs, distances)
    return Comparison(limit, runs, flow, flow_loss, distances, order)


def draw_comparison(comparison, png_path, title):
    """Save the loss against t of every run and of the flow, and its CSV.

    Returns the path of the CSV, which contains exactly the plotted points.
    """
    fig = Figure(figsize=(7.0, 4.5), layout="constrained")
    ax = fig.subplots()
    rows = []
    for i, run in enumerate(comparison.runs):
        ax.plot(
            run.times, run.loss, color=f"C{i}", linewidth=1.0, label=f"lr={run.lr:g}"
        )
        points = zip(run.times, run.loss, strict=True)
        rows.extend(["discrete", run.lr, t, f] for t, f in points)

    flow = comparison.flow
    ax.plot(
        flow.times,
        comparison.flow_loss,
        "k--",
        linewidth=1.2,
        label=f"{flow.kind} flow",
    )
    points = zip(flow.times, comparison.flow_loss, strict=True)
    rows.extend(["flow", "", t, f] for t, f in points)

    ax.set_yscale("log")
    # A flow that reaches f* drops to rounding noise (1e-50 and below), which
    # would squash the runs. Its drop stays visible as a line off the bottom.
    lowest = min(_smallest_positive(run.loss) for run in comparison.runs)
    if _smallest_positive(comparison.flow_loss) < lowest / 1e3:
        highest = max(np.nanmax(run.loss) for run in comparison.runs)
        ax.set_ylim(lowest / 1e3, 3 * max(highest, comparison.flow_loss[0]))
    ax.set_xlabel("time t = lr · step")
    ax.set_ylabel("training loss")
    ax.set_title(title)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize="small")
    fig.savefig(png_path, dpi=DPI)

    csv_path = Path(png_path).with_suffix(".csv")
    write_csv(
        csv_path, CSV_COLUMNS, [[c, lr, float(t), float(f)] for c, lr, t, f in rows]
    )
    return csv_path


def _smallest_positive(values):
    positive = values[values > 0]
    return positive.min() if positive.size else np.inf


def _float_list(values):
    """Parse LR arguments given as separate values, comma lists, or both."""
    out = []
    for value in values:
        out.extend(float(part) for part in value.split(",") if part)
    return out


def _option(text):
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"invalid option {text!r}: expected KEY=VALUE")
    try:
        return key, ast.literal_eval(value)
    except (ValueError, SyntaxError):
        return key, value


def _parser():
    parser = argparse.ArgumentParser(
        prog="python -m analysis.flows",
        description="Compare discrete Adam, RMSprop or signGD at several "
        "learning rates with their continuous-time flow on one task.",
    )
    parser.add_argument(
        "--task", required=True, help="registered task name, e.g. quadratic"
    )
    parser.add_argument(
        "--optimizer", required=True, choices=("adam", "rmsprop", "signgd")
    )

    parser.add_argument(
        "--a", type=float, help="second-moment coordinate: beta2 = 1 - a lr"
    )
    parser.add_argument(
        "--b", type=float, help="first-moment coordinate: beta1 = 1 - b lr"
    )
    parser.add_argument("--beta1", type=float, help="fixed beta1 (Adam)")
    parser.add_argument(
        "--beta2", type=float, help="fixed beta2 (Adam), or RMSprop's alpha"
    )

    parser.add_argument(
        "--lrs",
        required=True,
        nargs="+",
        help="learning rates, separated by spaces or commas",
    )
    parser.add_argument(
        "--time", type=float, required=True, help="end time T = lr · steps"
    )

    parser.add_argument("--seed", type=int, default=0, help="task seed (default 0)")
    parser.add_argument(
        "--eps",
        type=float,
        default=1e-8,
        help="optimizer eps (default 1e-8), or for signgd the width of the "
        "smoothed sign in its flow",
    )
    parser.add_argument(
        "--method",
        default="BDF",
        help="scipy.integrate.solve_ivp method of the flow (default BDF). "
        "BDF, Radau and LSODA form an n x n Jacobian, and RK45 does not",
    )
    parser.add_argument(
        "--option",
        type=_option,
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="task option, e.g. dim=10 (repeatable)",
    )

    parser.add_argument(
        "--out",
        type=Path,
        default=DEFAULT_OUT,
        help=f"folder of the figure and its CSV (default {DEFAULT_OUT})",
    )
    parser.add_argument(
        "--json", type=Path, help="also write lrs, distances and order here"
    )
    return parser


def main(argv=None):
    """Run the command line: compare the runs with their flow and plot them."""
    args = _parser().parse_args(argv)
    try:
        lrs = _float_list(args.lrs)
        limit = Limit(
            args.optimizer,
            a=args.a,
            b=args.b,
            beta1=args.beta1,
            beta2=args.beta2,
            eps=args.eps,
        )
        for lr in lrs:
            limit.hparams(lr)
        if not args.time > 0:
            raise ValueError(f"--time {args.time:g} is invalid: it must be > 0")
        task = get_task(args.task, **dict(args.option))
    except (ValueError, KeyError, TypeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2

    problem = task.build(args.seed, dtype=torch.float64)
    loss, x0 = flat_loss(task, problem)
    comparison = compare_with_flow(loss, x0, limit, lrs, args.time, args.method)

    print(
        f"{args.optimizer} on {args.task} (seed {args.seed}) against the "
        f"{limit.flow} flow, T = {args.time:g}"
    )
    print(f"{'lr':>10} {'steps':>8} {'sup distance':>14}")
    for run, distance in zip(comparison.runs, comparison.distances, strict=True):
        print(f"{run.lr:>10.4g} {run.times.size - 1:>8d} {distance:>14.4g}")
    if comparison.order is not None:
        print(f"order p = {comparison.order:.3f}")

    args.out.mkdir(parents=True, exist_ok=True)
    png = args.out / f"flows_{file_part(args.task)}_{file_part(args.optimizer)}.png"
    title = f"{args.optimizer} on {args.task}: runs and the {limit.flow} flow"
    csv_path = draw_comparison(comparison, png, title)
    print(f"wrote {png} and {csv_path}")
    if args.json is not None:
        record = {
            "lrs": lrs,
            "distances": comparison.distances,
            "order": comparison.order,
        }
        args.json.write_text(json.dumps(record, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
