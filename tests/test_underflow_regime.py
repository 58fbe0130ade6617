"""RMSprop on x^2 / 2: the 2-cycle, and the underflow collapse named as such."""

import numpy as np
import pytest
import torch

from analysis.regimes import CONVERGED, OSCILLATION, UNDERFLOW, classify
from pipeline.config import Config
from pipeline.engine import train_pack
from tasks import get_task

LR = 0.01
STEPS = 20_000


def _run(alpha, dtype):
    task = get_task("quadratic_1d")
    problem = task.build(0, "cpu", getattr(torch, dtype))
    config = Config("quadratic_1d", "rmsprop", LR, (1 - alpha) / LR, None, 0,
                    STEPS, 1000, dtype=dtype)
    return train_pack(task, problem, [config], width=1, record=("state",))[0]


def test_two_cycle_is_not_underflow():
    result = _run(0.9, "float64")
    x = result.arrays["x_norm"]
    # The iterates end alternating between +-(lr / 2 - eps).
    assert np.allclose(x[-100:], LR / 2, rtol=1e-2)
    label = classify(result.loss, 1000, x_norm=x, dtype="float64")
    assert label.regime in (CONVERGED, OSCILLATION)


@pytest.mark.parametrize("alpha,dtype", [(0.999, "float64"), (0.99, "float32")])
def test_subnormal_collapse_is_underflow(alpha, dtype):
    result = _run(alpha, dtype)
    x = result.arrays["x_norm"]
    assert 0 < x[-1] < np.finfo(dtype).tiny
    label = classify(result.loss, 1000, x_norm=x, dtype=dtype)
    assert label.regime == UNDERFLOW
    # Without the state the loss alone cannot tell: it has rounded to 0.
    assert classify(result.loss, 1000).regime != UNDERFLOW
