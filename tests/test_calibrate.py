"""The automatic choice between stacked and sequential packs."""

import torch

from pipeline.calibrate import candidate_widths, choose_width
from pipeline.config import Config
from tasks import get_task


def _configs(task, count):
    return [Config(task, "adam", 1e-3, 1.0 + i, 10.0, 0, 500, 100,
                   dtype="float64") for i in range(count)]


def test_candidate_widths_end_at_pack_size():
    assert candidate_widths(1) == [1]
    assert candidate_widths(20) == [1, 4, 16, 20]
    assert candidate_widths(64) == [1, 4, 16, 64]


def test_tiny_problem_is_stacked():
    # A 10-D quadratic step is all Python and kernel-launch overhead: 64
    # configs stacked cost little more than one (measured here: 8x and more).
    task = get_task("quadratic")
    problem = task.build(0, "cpu", torch.float64)
    width, rates = choose_width(task, problem, _configs("quadratic", 64), "auto")
    assert width > 1, rates
    assert set(rates) >= {1, 4}


def test_forced_modes_skip_measurement():
    task = get_task("quadratic")
    problem = task.build(0, "cpu", torch.float64)
    configs = _configs("quadratic", 8)
    assert choose_width(task, problem, configs, "sequential") == (1, {})
    assert choose_width(task, problem, configs, "stacked") == (8, {})
