"""Adam, RMSprop and signGD as ``torch.optim.Optimizer`` subclasses in (a, b).

These wrap the rules of ``optimizers.functional`` for one config, for users who
want a drop-in optimizer. The sweep engine calls the functional rules directly
with a leading config axis.
"""

import torch

from optimizers import functional
from optimizers.coords import ab_from_betas, beta_from_coord, check_lr


def _resolve(lr, coord, beta, beta_name, coord_name):
    """Return beta from exactly one of the coordinate and the beta itself."""
    if (coord is None) == (beta is None):
        raise ValueError(f"give exactly one of {coord_name} and {beta_name}")
    if beta is not None:
        if not 0.0 <= beta < 1.0:
            raise ValueError(f"{beta_name}={beta:g} is outside [0, 1)")
        return beta
    return beta_from_coord(lr, coord, beta_name, coord_name)


class _Base(torch.optim.Optimizer):
    kind = ""

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            hp = functional.HParams(
                lr=group["lr"],
                beta1=group.get("beta1", 0.0),
                beta2=group.get("beta2", 0.0),
                eps=group.get("eps", 0.0),
            )
            params = [p for p in group["params"] if p.grad is not None]
            if not params:
                continue
            state = self._group_state(group, params)
            grads = [p.grad for p in params]
            functional.update(self.kind, params, grads, state, hp)
        return loss

    def _group_state(self, group, params):
        # One State per group, kept under the group's first parameter so
        # that state_dict() and load_state_dict() carry it.
        slot = self.state[group["params"][0]]
        if "functional" not in slot:
            slot["functional"] = functional.init_state(self.kind, params)
        return slot["functional"]


class Adam(_Base):
    """Adam with beta1 = 1 - b * lr and beta2 = 1 - a * lr.

    Bias correction on both moments, eps added outside the square root: the
    update of ``torch.optim.Adam`` with the same betas. Give either (a, b) or
    (beta1, beta2).

    Example:
        >>> opt = Adam(model.parameters(), lr=1e-3, a=10.0, b=10.0)
    """

    kind = "adam"

    def __init__(self, params, lr, a=None, b=None, eps=1e-8, *,
                 beta1=None, beta2=None):
        check_lr(lr)
        given_ab = (a, b)
        beta2 = _resolve(lr, a, beta2, "beta2", "a")
        beta1 = _resolve(lr, b, beta1, "beta1", "b")
        # Keep (a, b) as given: recomputing them from the betas adds rounding.
        a, b = ab_from_betas(lr, beta1, beta2)
        a = given_ab[0] if given_ab[0] is not None else a
        b = given_ab[1] if given_ab[1] is not None else b
        defaults = dict(lr=lr, a=a, b=b, beta1=beta1, beta2=beta2, eps=eps)
        super().__init__(params, defaults)

    @classmethod
    def from_betas(cls, params, lr, beta1, beta2, eps=1e-8):
        """Build Adam from the momentum factors instead of (a, b)."""
        return cls(params, lr, eps=eps, beta1=beta1, beta2=beta2)


class RMSprop(_Base):
    """RMSprop with alpha = 1 - a * lr, no bias correction, eps outside the root.

    The update of ``torch.optim.RMSprop`` (no momentum, not centered) with the
    same alpha. Give either a or alpha (also accepted as beta2).
    """

    kind = "rmsprop"

    def __init__(self, params, lr, a=None, eps=1e-8, *, alpha=None, beta2=None):
        check_lr(lr)
        if alpha is not None and beta2 is not None:
            raise ValueError("give alpha or beta2, not both: they are the same")
        given_a = a
        alpha = _resolve(lr, a, alpha if alpha is not None else beta2,
                         "alpha", "a")
        a = given_a if given_a is not None else (1.0 - alpha) / lr
        super().__init__(params, dict(lr=lr, a=a, beta2=alpha, eps=eps))

    @classmethod
    def from_betas(cls, params, lr, alpha, eps=1e-8):
        """Build RMSprop from alpha instead of a."""
        return cls(params, lr, eps=eps, alpha=alpha)


class SignGD(_Base):
    """Sign gradient descent: x <- x - lr * sign(grad)."""

    kind = "signgd"

    def __init__(self, params, lr):
        check_lr(lr)
        super().__init__(params, dict(lr=lr))
