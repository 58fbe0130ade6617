"""Drawing on the (a, b) plane: b on the x axis, a on the y axis, both log.

Each grid point (a, b) is drawn as a cell whose edges lie halfway between
neighbouring grid values in log space, so uneven grids keep their spacing.
Figures are built with matplotlib's object API (no pyplot), which renders
with Agg and leaves the caller's backend alone.
"""

import numpy as np
from matplotlib import patheffects
from matplotlib.colors import BoundaryNorm, ListedColormap, LogNorm
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch, Rectangle

from analysis.regimes import (
    CONVERGED,
    DIVERGENCE,
    OSCILLATION,
    SPIKES,
    UNDERFLOW,
    UNSETTLED,
)

# Okabe-Ito colours, distinguishable with the common colour-vision deficiencies.
REGIME_COLORS = {
    CONVERGED: "#0072B2",
    OSCILLATION: "#009E73",
    SPIKES: "#E69F00",
    DIVERGENCE: "#D55E00",
    UNSETTLED: "#BBBBBB",
    UNDERFLOW: "#CC79A7",
}
DIVERGED_COLOR = "0.85"
X_LABEL = "b = (1 − β1) / lr   [per unit of time t = lr · step]"
Y_LABEL = "a = (1 − β2) / lr   [per unit of time t = lr · step]"
MAX_GRID_TICKS = 8
DPI = 150


def log_edges(values):
    """Return len(values) + 1 cell edges around sorted positive grid values."""
    logs = np.log10(np.asarray(values, dtype=np.float64))
    if logs.size == 1:
        return 10.0 ** np.array([logs[0] - 0.5, logs[0] + 0.5])
    mids = (logs[1:] + logs[:-1]) / 2
    first = logs[0] - (mids[0] - logs[0])
    last = logs[-1] + (logs[-1] - mids[-1])
    return 10.0 ** np.concatenate(([first], mids, [last]))


def draw_heatmap(path, a_values, b_values, loss, title, colorbar_label, vmax=None):
    """Save a heatmap of loss[i, j] at (a_values[i], b_values[j]).

    Cells with loss inf are drawn hatched grey as diverged. Cells with NaN
    had no run and stay blank, as do cells with loss <= 0, which the
    logarithmic colour scale cannot show. With `vmax`, larger losses take
    the top colour (the colour bar's arrow), so that a few blown-up runs do
    not flatten the contrast among the others.
    """
    fig, ax, a_edges, b_edges = _plane_axes(a_values, b_values, title)
    finite = np.isfinite(loss) & (loss > 0)
    if finite.any():
        mesh = ax.pcolormesh(
            b_edges,
            a_edges,
            np.ma.masked_where(~finite, loss),
            norm=_log_norm(loss[finite], vmax),
            cmap="viridis",
        )
        over = vmax is not None and bool((loss[finite] > vmax).any())
        fig.colorbar(
            mesh, ax=ax, label=colorbar_label, extend="max" if over else "neither"
        )

    handles = [_diagonal(ax, a_edges, b_edges)]
    diverged = np.argwhere(np.isposinf(loss))
    for i, j in diverged:
        ax.add_patch(
            Rectangle(
                (b_edges[j], a_edges[i]),
                b_edges[j + 1] - b_edges[j],
                a_edges[i + 1] - a_edges[i],
                facecolor=DIVERGED_COLOR,
                edgecolor="0.3",
                hatch="xx",
                linewidth=0,
            )
        )
    if diverged.size:
        handles.append(
            Patch(
                facecolor=DIVERGED_COLOR,
                edgecolor="0.3",
                hatch="xx",
                label="divergence",
            )
        )
    if np.isnan(loss).any():
        handles.append(_no_run_patch())
    ax.legend(
        handles=handles,
        loc="upper center",
        bbox_to_anchor=(0.5, -0.14),
        ncol=len(handles),
        frameon=False,
    )
    fig.savefig(path, dpi=DPI)


def draw_regime_map(path, a_values, b_values, regimes, title):
    """Save a map with one colour per regime, where regimes[i, j] is '' if no run."""
    fig, ax, a_edges, b_edges = _plane_axes(a_values, b_values, title)
    names = list(REGIME_COLORS)
    codes = np.full(regimes.shape, -1)
    for code, name in enumerate(names):
        codes[regimes == name] = code
    ax.pcolormesh(
        b_edges,
        a_edges,
        np.ma.masked_less(codes, 0),
        cmap=ListedColormap([REGIME_COLORS[name] for name in names]),
        norm=BoundaryNorm(np.arange(len(names) + 1) - 0.5, len(names)),
        edgecolors="white",
        linewidth=0.5,
    )
    present = [name for name in names if (regimes == name).any()]
    handles = [Patch(facecolor=REGIME_COLORS[name], label=name) for name in present]
    if (regimes == "").any():
        handles.append(_no_run_patch())
    handles.append(_diagonal(ax, a_edges, b_edges))
    ax.legend(
        handles=handles,
        title="regime",
        loc="upper left",
        bbox_to_anchor=(1.02, 1.0),
        frameon=False,
    )
    fig.savefig(path, dpi=DPI)


def _plane_axes(a_values, b_values, title):
    fig = Figure(figsize=(7.0, 5.6), layout="constrained")
    ax = fig.subplots()
    a_edges, b_edges = log_edges(a_values), log_edges(b_values)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlim(b_edges[0], b_edges[-1])
    ax.set_ylim(a_edges[0], a_edges[-1])
    for values, set_ticks in ((b_values, ax.set_xticks), (a_values, ax.set_yticks)):
        if len(values) <= MAX_GRID_TICKS:
            set_ticks(values, [f"{v:.3g}" for v in values], minor=False)
            set_ticks([], minor=True)
    ax.set_xlabel(X_LABEL)
    ax.set_ylabel(Y_LABEL)
    ax.set_title(title)
    return fig, ax, a_edges, b_edges


def _diagonal(ax, a_edges, b_edges):
    """Draw a = b, white with a black outline to show on any cell colour."""
    low = min(a_edges[0], b_edges[0])
    high = max(a_edges[-1], b_edges[-1])
    ax.plot(
        [low, high],
        [low, high],
        linestyle="--",
        color="white",
        linewidth=1.5,
        path_effects=[patheffects.withStroke(linewidth=3.5, foreground="black")],
    )
    return Line2D([], [], linestyle="--", color="black", label="a = b")


def _no_run_patch():
    return Patch(facecolor="white", edgecolor="0.5", label="no finished run")


def _log_norm(values, vmax=None):
    low, high = float(values.min()), float(values.max())
    if vmax is not None and low < vmax < high:
        high = vmax
    if low == high:
        low, high = low / 10.0, high * 10.0
    return LogNorm(vmin=low, vmax=high)
