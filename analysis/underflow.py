"""Detect a run whose parameters collapsed into the subnormal range and froze.

RMSprop on f = x^2 / 2 with lr = 0.01 ends on the 2-cycle x = +-(lr/2 - eps)
for most alpha. For alpha close to 1 the iterates pass very close to 0 on their
way there. There ``torch.addcdiv(x, g, denom, value=-lr)``, the update of
torch.optim.RMSprop, rounds lr * g to zero once it is below the smallest
subnormal number, even where lr * (g / denom) would not be (x = 2.1e-322,
eps = 1e-8 gives 2.1e-316). x then stays at a subnormal value for good. With
torch 2.14 on CPU, from x0 = 1 over 20000 steps, alpha = 0.98, 0.99, 0.995 and
0.999 end so in float32 (|x| from 2e-44 to 7e-44), and alpha = 0.995 and 0.999
in float64 (|x| from 1e-322 to 2.2e-322). In exact arithmetic x = 0 is an
unstable fixed point there, because lr > 2 eps / lambda, so such a run has not
converged: its loss curve is flat only because of underflow.

A curve is called collapsed from step k on if three things hold at every step
from k to the end. Every entry is below the smallest normal number of the
dtype in magnitude, at least one entry is nonzero, and no entry changes. A run
that lands on exactly 0 is a fixed point of the exact iteration too, and is not
flagged.
"""

import numpy as np
import torch

MIN_STEPS = 10


def _smallest_normal(dtype):
    if isinstance(dtype, torch.dtype):
        return torch.finfo(dtype).tiny
    return np.finfo(dtype).tiny


def underflow_onset(x_curve, dtype=None, min_steps=MIN_STEPS):
    """Return the first step of the final collapse of x_curve, or None.

    Args:
        x_curve: parameters at every step, shape [steps] or [steps, n], as a
            numpy array or a CPU tensor.
        dtype: the dtype the run computed in (torch or numpy). Defaults to the
            dtype of x_curve, so pass it when a float32 run was stored as
            float64.
        min_steps: the collapse must last at least this many steps up to the
            end of the curve.
    """
    values = np.asarray(x_curve)
    dtype = values.dtype if dtype is None else dtype
    values = values.reshape(values.shape[0], -1).astype(np.float64)
    magnitude = np.abs(values)

    tiny = _smallest_normal(dtype)
    subnormal = (magnitude.max(axis=1) < tiny) & (magnitude.max(axis=1) > 0)
    frozen = np.ones(len(values), dtype=bool)
    frozen[:-1] = np.all(values[:-1] == values[-1], axis=1)
    collapsed = subnormal & frozen

    if not collapsed[-1]:
        return None
    onset = len(collapsed) - np.argmin(collapsed[::-1]) if not collapsed.all() else 0
    if len(collapsed) - onset < min_steps:
        return None
    return int(onset)


def detect_underflow(x_curve, dtype=None, min_steps=MIN_STEPS):
    """Return True if x_curve ends collapsed in the subnormal range.

    See underflow_onset for the arguments and the rule.
    """
    return underflow_onset(x_curve, dtype=dtype, min_steps=min_steps) is not None
