"""Trajectories in the optimizer's state space (||x||, ||m||, ||sqrt v||).

Runs recorded with `record: [state]` carry the arrays x_norm, m_norm and
sqrt_v_norm in curve.npz (all parameters as one vector). One 3-D panel per
config shows the trajectory over a window of steps, the view of the three
regimes as a spiral, a small cycle or an escape.
"""

import numpy as np
from matplotlib.figure import Figure

from analysis.files import write_csv

STATE_ARRAYS = ("x_norm", "m_norm", "sqrt_v_norm")
STATE_COLUMNS = ("run_id", "label", "step", *STATE_ARRAYS)
MAX_PANELS = 12


def has_state(record):
    return all(name in record.curve for name in STATE_ARRAYS)


def draw_state_space(picture, table, task, records, window=None, dpi=150):
    """Draw each record's state trajectory over `window` (start, end) steps.

    Returns the paths written: the picture, and beside it the table of every
    plotted point. Records beyond the first MAX_PANELS are left out of the
    picture (not the table), since the panels would be too small to read.
    """
    shown = records[:MAX_PANELS]
    columns = min(3, len(shown))
    rows_of_panels = -(-len(shown) // columns)
    fig = Figure(figsize=(4.2 * columns, 3.8 * rows_of_panels), layout="constrained")
    rows = []
    for i, record in enumerate(records):
        steps = np.asarray(record.curve["step"])
        start, end = window if window else (0, len(steps))
        keep = (steps >= start) & (steps < end)
        values = [np.asarray(record.curve[name])[keep] for name in STATE_ARRAYS]
        # RMSprop and signGD have no first moment: their m_norm is all NaN.
        values = [np.zeros_like(v) if np.isnan(v).all() else v for v in values]
        rows.extend(
            (record.run_id, record.label(), int(s), *map(float, v))
            for s, *v in zip(steps[keep], *values)
        )
        if i >= MAX_PANELS:
            continue
        ax = fig.add_subplot(rows_of_panels, columns, i + 1, projection="3d")
        ax.plot(*values, linewidth=0.6)
        ax.set_xlabel("||x||")
        ax.set_ylabel("||m||")
        ax.set_zlabel("||sqrt v||")
        ax.set_title(record.label(), fontsize=9)
    span = f"steps {window[0]}-{window[1]}" if window else "all steps"
    fig.suptitle(f"{task}: state trajectories, {span}")
    fig.savefig(picture, dpi=dpi)
    write_csv(table, STATE_COLUMNS, rows)
    return [picture, table]
