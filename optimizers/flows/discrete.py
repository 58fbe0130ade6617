"""Discrete runs of Adam, RMSprop and signGD, recorded at every step.

Step k of a run with learning rate lr sits at time t = k * lr, so runs with
different lr can be laid over their common flow. Two limits lr -> 0 are
offered, and each has its own flow:

    fixed betas   (beta1, beta2 held):  Adam and RMSprop tend to the flow
                  xdot = -g / (|g| + eps) ("sign"), because the moments
                  forget their past within a vanishing time.
    fixed (a, b)  (beta1 = 1 - b lr, beta2 = 1 - a lr):  they tend to the
                  RMSprop and Adam flows, whose moments keep a memory of
                  time 1 / a and 1 / b.

signGD has no moments and tends to xdot = -sign(g) ("signgd").
"""

import math
from dataclasses import dataclass

import torch

from optimizers import functional
from optimizers.coords import beta_from_coord, check_lr

# The coordinates and the betas that each optimizer reads.
_FAMILIES = {
    "adam": (("a", "b"), ("beta1", "beta2")),
    "rmsprop": (("a",), ("beta2",)),
    "signgd": ((), ()),
}


@dataclass
class Limit:
    """The hyperparameters of `optimizer` along the limit lr -> 0.

    Exactly one family is set: the coordinates (a, b) or the betas. RMSprop
    reads only a or beta2. signGD reads neither.
    """

    optimizer: str
    a: float | None = None
    b: float | None = None
    beta1: float | None = None
    beta2: float | None = None
    eps: float = 1e-8

    def __post_init__(self):
        if self.optimizer not in functional.KINDS:
            raise ValueError(
                f"unknown optimizer {self.optimizer!r}: expected one of "
                f"{functional.KINDS}"
            )
        coords, betas = _FAMILIES[self.optimizer]
        provided = {
            k for k in ("a", "b", "beta1", "beta2") if getattr(self, k) is not None
        }
        if provided not in (set(coords), set(betas)):
            raise ValueError(
                f"{self.optimizer} needs either {coords or 'nothing'} or "
                f"{betas or 'nothing'}, got {sorted(provided) or 'nothing'}"
            )
        for name in ("beta1", "beta2"):
            beta = getattr(self, name)
            if beta is not None and not 0.0 <= beta < 1.0:
                raise ValueError(f"{name}={beta!r} is outside [0, 1)")

    @property
    def fixed_coords(self):
        """True for the limit at fixed (a, b), False at fixed betas."""
        return self.a is not None

    @property
    def flow(self):
        """The flow that the discrete runs tend to in this limit."""
        if self.optimizer == "signgd":
            return "signgd"
        return self.optimizer if self.fixed_coords else "sign"

    def hparams(self, lr):
        """Return the HParams of the discrete method at learning rate lr."""
        check_lr(lr)
        if self.fixed_coords:
            beta2 = beta_from_coord(lr, self.a, "beta2", "a")
            beta1 = 0.0 if self.b is None else beta_from_coord(lr, self.b, "beta1", "b")
        else:
            beta1 = self.beta1 or 0.0
            beta2 = self.beta2 or 0.0
        return functional.HParams(lr=lr, beta1=beta1, beta2=beta2, eps=self.eps)


def steps_for(lr, time):
    """Return the number of steps whose times k * lr cover [0, time]."""
    return math.ceil(time / lr - 1e-9)


def run_discrete(optimizer, loss, x0, hparams, steps, v0=None):
    """Run `steps` steps of the discrete method from x0 and record x.

    Args:
        optimizer: "adam", "rmsprop" or "signgd".
        loss: f of a flat tensor of shape [n], e.g. from flows.flat_loss.
        x0: the starting point, shape [n], whose dtype the run computes in.
        hparams: functional.HParams with float values.
        steps: the number of updates.
        v0: the starting second moment, shape [n] (zeros by default).

    Returns:
        Tensor [steps + 1, n]: x_0 .. x_steps, row k at time k * lr.
    """
    x = x0.detach().clone().reshape(1, -1)  # [K=1, n]
    state = functional.init_state(optimizer, [x])
    if v0 is not None:
        state.v[0].copy_(torch.as_tensor(v0, dtype=x.dtype).reshape(1, -1))
    path = torch.empty(steps + 1, x.shape[1], dtype=x.dtype)  # [steps + 1, n]
    path[0] = x[0]

    for k in range(steps):
        point = x[0].detach().requires_grad_(True)
        with torch.enable_grad():
            (g,) = torch.autograd.grad(loss(point), point)
        functional.update(optimizer, [x], [g.reshape(1, -1)], state, hparams)
        path[k + 1] = x[0]
    return path
