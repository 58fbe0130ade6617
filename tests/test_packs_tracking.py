"""Packing configs into trials and writing their curves cheaply."""

import math

import numpy as np

from pipeline.config import Config
from pipeline.packs import auto_pack_size, concurrent_slots, make_packs
from pipeline.tracking import LOSS_BUCKETS, downsample, format_param, summary


def _configs(n, seeds=(0,)):
    return [Config("sin_regression", "adam", 1e-3, float(a + 1), 1.0, seed,
                   100, 10) for seed in seeds for a in range(n)]


def test_packs_never_mix_seeds():
    packs = make_packs(_configs(5, seeds=(0, 1)), pack_size=4)
    assert [len(p.configs) for p in packs] == [4, 1, 4, 1]
    for pack in packs:
        assert len({c.seed for c in pack.configs}) == 1


def test_auto_pack_size_gives_two_packs_per_slot():
    assert auto_pack_size(_configs(64), slots=2) == 16
    assert auto_pack_size(_configs(3), slots=2) == 1


def test_concurrent_slots_counts_cpus_and_gpus():
    assert concurrent_slots({"cpu": 1, "gpu": 0}, {"CPU": 2.0}) == 2
    assert concurrent_slots({"cpu": 0.5}, {"CPU": 2.0}) == 4
    assert concurrent_slots({"cpu": 1, "gpu": 1}, {"CPU": 16.0, "GPU": 1.0}) == 1
    assert concurrent_slots({"cpu": 1, "gpu": 1}, {"CPU": 2.0}) == 0


def test_downsample_keeps_spikes():
    loss = np.full(100_000, 1e-3)
    loss[54_321] = 5.0
    loss[77_777] = 1e-9
    steps, kept = downsample(loss)
    assert len(kept) <= 2 * LOSS_BUCKETS
    assert 54_321 in steps
    assert kept.max() == 5.0
    assert kept.min() == 1e-9


def test_downsample_drops_nonfinite():
    steps, kept = downsample(np.array([1.0, 0.5, math.inf]))
    assert list(steps) == [0, 1]


def test_summary_of_diverged_curve_is_inf():
    values = summary(np.array([1.0, 0.5, math.nan]), 2, diverged_at=2)
    assert values["late_loss"] == math.inf
    assert values["diverged_at"] == 2.0
    assert values["min_loss"] == 0.5


def test_summary_late_loss_is_window_mean():
    values = summary(np.array([4.0, 3.0, 2.0, 1.0]), 2, diverged_at=None)
    assert values["late_loss"] == 1.5
    assert values["final_loss"] == 1.0


def test_params_are_written_one_way():
    assert format_param(1e-3) == "0.001"
    assert format_param(100.0) == "100.0"
    assert format_param(3) == "3"
    assert format_param(None) == "none"


def test_state_arrays_become_state_metrics():
    from pipeline.engine import ConfigResult
    from pipeline.tracking import _metrics

    config = _configs(1)[0]
    norms = np.linspace(1.0, 2.0, 5000)
    result = ConfigResult(loss=np.linspace(1, 0.1, 5000), diverged_at=None,
                          seconds=1.0, arrays={"x_norm": norms})
    metrics = _metrics(result, config, timestamp=0)
    state = [m for m in metrics if m.key == "state/x_norm"]
    assert 0 < len(state) <= 2 * LOSS_BUCKETS
    assert state[0].step == 0
    assert state[-1].step == 4999
    assert state[-1].value == 2.0
