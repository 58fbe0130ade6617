"""Regime labels of synthetic curves, inside each regime and at each threshold."""

import math

import numpy as np
import pytest

from analysis.regimes import (
    CONVERGED,
    DIVERGENCE,
    OSCILLATION,
    RECOVERY_RATIO,
    SPIKE_RATIO,
    SPIKES,
    UNSETTLED,
    classify,
)

WINDOW = 400
WARMUP = 600
BASE = 1e-3


def with_warmup(late, initial=1.0):
    """A curve that falls from `initial` over WARMUP steps, then runs `late`."""
    late = np.asarray(late, dtype=np.float64)
    return np.concatenate([np.geomspace(initial, late[0], WARMUP), late])


def flat(level=BASE):
    return np.full(WINDOW, level)


def with_bump(height, at=200, width=5, level=BASE):
    """Flat window with one bump to height * level lasting `width` steps."""
    late = flat(level)
    late[at : at + width] = height * level
    return late


# Curves well inside each regime.


def test_converged_smooth_decay():
    steps = np.arange(WARMUP + WINDOW)
    loss = BASE + np.exp(-steps / 50.0)
    label = classify(loss, WINDOW)
    assert label.regime == CONVERGED
    assert label.rise == pytest.approx(1.0)


def test_oscillation_period_two():
    late = BASE * (1.5 + 0.5 * (-1.0) ** np.arange(WINDOW))
    label = classify(with_warmup(late), WINDOW)
    assert label.regime == OSCILLATION
    assert label.rise == pytest.approx(2.0)
    assert label.spike_count == 0


def test_spikes_with_decaying_recovery():
    late = flat(1e-4)
    for start in (50, 180, 310):
        late[start : start + 40] += 0.1 * np.exp(-np.arange(40) / 5.0)
    label = classify(with_warmup(late), WINDOW)
    assert label.regime == SPIKES
    assert label.spike_count == 3
    assert label.rise > 100.0


def test_divergence_nonfinite_end():
    loss = np.concatenate([np.geomspace(1.0, 1e-2, 700), [1e3, np.inf]])
    label = classify(loss, WINDOW, diverged_at=701)
    assert label.regime == DIVERGENCE
    assert label.late_mean == math.inf
    assert label.diverged_at == 701


def test_divergence_nan_without_diverged_at():
    loss = np.concatenate([np.geomspace(1.0, 1e-2, 700), [np.nan]])
    label = classify(loss, WINDOW)
    assert label.regime == DIVERGENCE
    assert label.late_mean == math.inf


def test_divergence_from_diverged_at_only():
    label = classify(with_warmup(flat()), WINDOW, diverged_at=999)
    assert label.regime == DIVERGENCE


def test_divergence_loss_stays_large():
    late = 1.2 + 0.1 * np.sin(np.arange(WINDOW))
    label = classify(with_warmup(late, initial=1.0), WINDOW)
    assert label.regime == DIVERGENCE
    assert label.late_median > label.initial_loss


def test_unsettled_still_falling():
    steps = np.arange(WARMUP + WINDOW)
    label = classify(np.exp(-steps / 200.0), WINDOW)
    assert label.regime == UNSETTLED
    assert label.trend < 0.5


def test_unsettled_rise_without_recovery():
    late = flat()
    late[390:] = 100 * BASE
    label = classify(with_warmup(late), WINDOW)
    assert label.regime == UNSETTLED
    assert label.spike_count == 0
    assert label.trend == pytest.approx(1.0)


# Borderline curves on each side of each threshold.


@pytest.mark.parametrize(
    ("height", "regime"),
    [(0.99 * SPIKE_RATIO, OSCILLATION), (1.01 * SPIKE_RATIO, SPIKES)],
)
def test_spike_ratio_border(height, regime):
    label = classify(with_warmup(with_bump(height)), WINDOW)
    assert label.regime == regime


@pytest.mark.parametrize(
    ("fall", "regime"),
    [(0.97 * RECOVERY_RATIO, UNSETTLED), (1.03 * RECOVERY_RATIO, SPIKES)],
)
def test_recovery_ratio_border(fall, regime):
    late = flat()
    late[360] = 100 * BASE
    late[361:] = 100 * BASE / fall
    label = classify(with_warmup(late), WINDOW)
    assert label.regime == regime


@pytest.mark.parametrize(
    ("ratio", "regime"),
    [(0.49, UNSETTLED), (0.51, CONVERGED), (1.9, OSCILLATION), (2.1, UNSETTLED)],
)
def test_trend_ratio_border(ratio, regime):
    late = np.concatenate([flat()[: WINDOW // 2], flat(ratio * BASE)[WINDOW // 2 :]])
    label = classify(with_warmup(late), WINDOW)
    assert label.trend == pytest.approx(ratio)
    assert label.regime == regime


@pytest.mark.parametrize(
    ("height", "regime"), [(1.009, CONVERGED), (1.011, OSCILLATION)]
)
def test_monotone_tolerance_border(height, regime):
    label = classify(with_warmup(with_bump(height)), WINDOW)
    assert label.regime == regime


@pytest.mark.parametrize(("level", "regime"), [(0.99, CONVERGED), (1.01, DIVERGENCE)])
def test_stall_ratio_border(level, regime):
    loss = np.concatenate([[1.0], np.full(WINDOW, level)])
    label = classify(loss, WINDOW)
    assert label.regime == regime


# Thresholds as keyword arguments.


def test_spike_ratio_keyword_raises_bar():
    curve = with_warmup(with_bump(100.0))
    assert classify(curve, WINDOW).regime == SPIKES
    assert classify(curve, WINDOW, spike_ratio=200.0).regime == OSCILLATION


def test_trend_ratio_keyword_widens_band():
    late = np.concatenate([flat()[: WINDOW // 2], flat(0.3 * BASE)[WINDOW // 2 :]])
    assert classify(with_warmup(late), WINDOW).regime == UNSETTLED
    relaxed = classify(with_warmup(late), WINDOW, trend_ratio=4.0)
    assert relaxed.regime == CONVERGED


def test_monotone_tolerance_keyword():
    curve = with_warmup(with_bump(1.05))
    assert classify(curve, WINDOW).regime == OSCILLATION
    assert classify(curve, WINDOW, monotone_tolerance=0.1).regime == CONVERGED


def test_stall_ratio_keyword():
    loss = np.concatenate([[1.0], np.full(WINDOW, 0.5)])
    assert classify(loss, WINDOW).regime == CONVERGED
    assert classify(loss, WINDOW, stall_ratio=0.4).regime == DIVERGENCE


# Numbers behind the label and input checks.


def test_label_numbers():
    late = flat()
    late[100] = 50 * BASE
    label = classify(with_warmup(late, initial=2.0), WINDOW)
    assert label.late_mean == pytest.approx(BASE * (WINDOW + 49) / WINDOW)
    assert label.late_median == pytest.approx(BASE)
    assert label.initial_loss == 2.0
    assert label.rise == pytest.approx(50.0)
    assert label.spike_count == 1
    assert label.diverged_at is None


def test_window_longer_than_curve():
    loss = BASE * (1.5 + 0.5 * (-1.0) ** np.arange(50))
    loss[0] = 1.0
    assert classify(loss, 10_000).regime == OSCILLATION


def test_zero_loss_floor():
    late = flat()
    late[200:] = 0.0
    label = classify(with_warmup(late), WINDOW)
    assert label.regime == UNSETTLED
    assert label.trend == 0.0


@pytest.mark.parametrize(
    ("loss", "late_window", "message"),
    [
        (np.array([]), 10, "non-empty 1-D"),
        (np.ones((2, 3)), 10, "non-empty 1-D"),
        (np.array([1.0, -0.5]), 10, "negative"),
        (np.ones(5), 0, "late_window=0"),
        (np.ones(5), 2.5, "late_window=2.5"),
    ],
)
def test_invalid_input_raises(loss, late_window, message):
    with pytest.raises(ValueError, match=message):
        classify(loss, late_window)


@pytest.mark.parametrize(
    "thresholds",
    [
        {"spike_ratio": 1.0},
        {"recovery_ratio": 0.5},
        {"trend_ratio": 1.0},
        {"monotone_tolerance": -0.1},
        {"stall_ratio": 0.0},
    ],
)
def test_invalid_threshold_raises(thresholds):
    name = next(iter(thresholds))
    with pytest.raises(ValueError, match=name):
        classify(np.ones(5), 5, **thresholds)


def test_unknown_threshold_name_raises():
    with pytest.raises(TypeError):
        classify(np.ones(5), 5, spike_ratoi=3.0)
