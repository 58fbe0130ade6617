"""Classify one training loss curve into a regime from its late window.

The late window is the last `late_window` steps of the curve (the whole curve
when it is shorter). Write L_t for the loss at step t of the window,
m_t = min(L_0, ..., L_t) for its running minimum and
f_t = min(L_t, ..., L_end) for its minimum from t to the end of the window.
The checks run in this order, and the first check that passes gives the
regime:

1. divergence: the curve contains a NaN or inf (so training stopped at
   `diverged_at`), or the median of the window is at least
   STALL_RATIO times the initial loss (step 0 of the curve). Either the
   optimizer blew up or the late loss stayed as large as where it started.
2. spikes: at some step L_t >= SPIKE_RATIO * m_t, and the loss recovers
   afterwards: L_t >= RECOVERY_RATIO * f_t. A spike is a sudden rise of the
   loss by an order of magnitude or more, followed by its recovery.
3. unsettled: the median of the last quarter of the window differs from the
   median of the first quarter by more than a factor TREND_RATIO either way.
   The label is also unsettled when the loss rose by SPIKE_RATIO and has not
   recovered by the end of the window. Either way the window is still
   converging or still moving away, so no steady regime can be read from it:
   train longer or widen the late window.
4. converged: L_t <= (1 + MONOTONE_TOLERANCE) * m_t at every step, so the
   window is (nearly) non-increasing, and by check 3 it is also flat.
5. oscillation: anything else. The loss goes up and down by more than
   MONOTONE_TOLERANCE but by less than SPIKE_RATIO, with no trend.

The thresholds and their reasons:

- SPIKE_RATIO = 2.5. Ma, Wu and E (2020, "A qualitative study of the dynamic
  behavior for adaptive gradient algorithms", Section 3) describe spikes as
  sudden increases that make the loss much larger than the small
  oscillations do. On the sin regression task at lr 1e-3 and 6000 steps,
  the b >> a runs rise 2.9x to 5.7x above their running minimum in the last
  1000 steps, while every other run that did not diverge rises at most 1.9x
  (sweep_specs/quickstart.yaml); on the digits task the spikes reach 100x.
  NOTE: the ratio does not tell spikes from large oscillations on every
  task: on the digits task at (a, b) = (10, 10) the loss oscillates 6x at
  a floor of 3e-8 and is labelled spikes like (1, 100), whose spikes reach
  100x. Pass spike_ratio to classify (or thresholds to the maps) per task.
- RECOVERY_RATIO = sqrt(2.5). After the top of a spike the loss must fall
  back by at least half of the minimum spike height on the log axis. A rise
  that stays up is a change of level, not a spike.
- TREND_RATIO = 2. Medians ignore the few large values of spikes and
  oscillations, so a change of the quarter medians by a factor 2 is a drift
  of the level itself.
- MONOTONE_TOLERANCE = 0.01. A rise of under 1% above the running minimum
  leaves room for rounding in a loss at its floor. Any oscillation that is
  visible on a log loss axis is larger than that.
- STALL_RATIO = 1. A late median that is not below the initial loss means
  the run made no progress.

Ratios use the loss itself, so the loss must be >= 0 (a square loss is), and
a running minimum of exactly 0 is replaced by the smallest positive float.

A run recorded with its state (`record: [state]`) whose parameters froze in
the subnormal range is labelled underflow, whatever its loss shows: its
flat loss comes from lr * g rounding to 0, not from a stable minimum (see
analysis.underflow).
"""

import math
from dataclasses import dataclass

import numpy as np

from analysis.underflow import detect_underflow

CONVERGED = "converged"
OSCILLATION = "oscillation"
SPIKES = "spikes"
DIVERGENCE = "divergence"
UNSETTLED = "unsettled"
UNDERFLOW = "underflow"
REGIMES = (CONVERGED, OSCILLATION, SPIKES, DIVERGENCE, UNSETTLED, UNDERFLOW)

SPIKE_RATIO = 2.5
RECOVERY_RATIO = math.sqrt(SPIKE_RATIO)
TREND_RATIO = 2.0
MONOTONE_TOLERANCE = 0.01
STALL_RATIO = 1.0


@dataclass(frozen=True)
class Label:
    """The regime of one curve and the numbers that decided it.

    Attributes:
        regime: one of REGIMES.
        late_mean: mean loss over the late window, inf if the window contains
            a NaN or inf value.
        late_median: median of the finite losses in the late window.
        initial_loss: loss at step 0 of the curve.
        rise: max over the window of L_t / m_t (1.0 for a non-increasing one).
        spike_count: number of recovered spikes in the window.
        trend: median of the last quarter of the window over the median of
            its first quarter (< 1 while the loss still falls).
        diverged_at: the first step with a NaN or inf loss, or None.
    """

    regime: str
    late_mean: float
    late_median: float
    initial_loss: float
    rise: float
    spike_count: int
    trend: float
    diverged_at: int | None = None


def classify(
    loss,
    late_window,
    diverged_at=None,
    *,
    spike_ratio=SPIKE_RATIO,
    recovery_ratio=RECOVERY_RATIO,
    trend_ratio=TREND_RATIO,
    monotone_tolerance=MONOTONE_TOLERANCE,
    stall_ratio=STALL_RATIO,
    x_norm=None,
    dtype=None,
):
    """Label a loss curve with its late-phase regime.

    Args:
        loss: 1-D array of the loss at every step, from step 0. A diverged
            curve ends with its first NaN or inf value.
        late_window: number of final steps that the regime is read from.
        diverged_at: the step at which training found a NaN or inf loss, or
            None. A value other than None labels the curve divergence.
        spike_ratio, recovery_ratio, trend_ratio, monotone_tolerance,
        stall_ratio: thresholds, defaulting to the module constants
            described in the module docstring.
        x_norm, dtype: the recorded ||x|| at every step and the run's dtype.
            A run whose parameters froze in the subnormal range is labelled
            underflow (see analysis.underflow), not converged: its flat loss
            comes from rounding, not from a stable minimum.

    Returns:
        A Label.

    Raises:
        ValueError: if loss is empty, not 1-D or negative, if late_window is
            not a positive integer, or if a threshold is out of its range.
    """
    loss = np.asarray(loss, dtype=np.float64)
    _check_inputs(loss, late_window)
    _check_thresholds(
        spike_ratio, recovery_ratio, trend_ratio, monotone_tolerance, stall_ratio
    )

    late = loss[-late_window:]
    finite = late[np.isfinite(late)]
    late_mean = float(np.mean(late)) if finite.size == late.size else math.inf
    initial_loss = float(loss[0])
    stats = _window_stats(finite, spike_ratio, recovery_ratio)
    numbers = dict(
        late_mean=late_mean,
        late_median=stats["median"],
        initial_loss=initial_loss,
        rise=stats["rise"],
        spike_count=stats["spike_count"],
        trend=stats["trend"],
        diverged_at=diverged_at,
    )

    if (
        diverged_at is not None
        or not np.all(np.isfinite(loss))
        or stats["median"] >= stall_ratio * initial_loss
    ):
        return Label(DIVERGENCE, **numbers)
    if x_norm is not None and detect_underflow(x_norm, dtype):
        return Label(UNDERFLOW, **numbers)
    if stats["spike_count"] > 0:
        return Label(SPIKES, **numbers)
    trending = not 1.0 / trend_ratio <= stats["trend"] <= trend_ratio
    if trending or stats["unrecovered_rise"]:
        return Label(UNSETTLED, **numbers)
    if stats["rise"] <= 1.0 + monotone_tolerance:
        return Label(CONVERGED, **numbers)
    return Label(OSCILLATION, **numbers)


def _check_inputs(loss, late_window):
    if loss.ndim != 1 or loss.size == 0:
        raise ValueError(f"loss has shape {loss.shape}: expected a non-empty 1-D curve")
    if np.any(loss < 0):
        raise ValueError(
            f"loss has negative values (min {np.nanmin(loss):g}): the regime "
            "checks compare loss ratios and need a loss >= 0"
        )
    if isinstance(late_window, bool) or not isinstance(late_window, (int, np.integer)):
        raise ValueError(f"late_window={late_window!r} must be an integer >= 1")
    if late_window < 1:
        raise ValueError(f"late_window={late_window} must be an integer >= 1")


def _check_thresholds(
    spike_ratio, recovery_ratio, trend_ratio, monotone_tolerance, stall_ratio
):
    for name, value in (
        ("spike_ratio", spike_ratio),
        ("recovery_ratio", recovery_ratio),
        ("trend_ratio", trend_ratio),
    ):
        if not value > 1.0:
            raise ValueError(f"{name}={value!r} must be > 1")
    if not monotone_tolerance >= 0.0:
        raise ValueError(f"monotone_tolerance={monotone_tolerance!r} must be >= 0")
    if not stall_ratio > 0.0:
        raise ValueError(f"stall_ratio={stall_ratio!r} must be > 0")


def _window_stats(late, spike_ratio, recovery_ratio):
    """Median, rise, spikes and trend of the finite losses of a late window."""
    if late.size == 0:
        return dict(
            median=math.nan,
            rise=math.nan,
            spike_count=0,
            unrecovered_rise=False,
            trend=math.nan,
        )
    tiny = np.finfo(np.float64).tiny
    running_min = np.maximum(np.minimum.accumulate(late), tiny)
    future_min = np.maximum(np.minimum.accumulate(late[::-1])[::-1], tiny)
    rise = late / running_min
    above = rise >= spike_ratio
    recovered = above & (late >= recovery_ratio * future_min)

    # Each maximal run of consecutive steps above spike_ratio is one rise event.
    starts = above & ~np.concatenate(([False], above[:-1]))
    event = np.cumsum(starts) * above
    recovered_events = np.unique(event[recovered])
    all_events = np.unique(event[above])

    quarter = max(1, late.size // 4)
    first = max(float(np.median(late[:quarter])), tiny)
    last = float(np.median(late[-quarter:]))
    return dict(
        median=float(np.median(late)),
        rise=float(np.max(rise)),
        spike_count=int(recovered_events.size),
        unrecovered_rise=bool(all_events.size > recovered_events.size),
        trend=last / first,
    )
