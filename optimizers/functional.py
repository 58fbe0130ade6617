"""Pure update rules of Adam, RMSprop and signGD, batched over configs.

Every parameter tensor carries a leading config axis of size K, and every
hyperparameter is either a Python float (shared) or a tensor of shape [K]
(one value per config). The rules follow the operation order of
``torch.optim.Adam`` and ``torch.optim.RMSprop`` (single-tensor path, torch
2.14) so that a config trained here matches the reference to rounding.

With g the gradient and t the step count (starting at 1):

    Adam:     m <- beta1 m + (1 - beta1) g
              v <- beta2 v + (1 - beta2) g^2
              x <- x - lr (m / (1 - beta1^t)) / (sqrt(v / (1 - beta2^t)) + eps)
    RMSprop:  v <- alpha v + (1 - alpha) g^2,   x <- x - lr g / (sqrt(v) + eps)
    signGD:   x <- x - lr sign(g)

RMSprop's alpha is stored as beta2. A config whose ``alive`` flag is False
keeps its parameters unchanged, so a diverged config is frozen where it
stands without touching the others; its moments are left to go stale (they
are never read again, and copying them every step would cost a third of the
update).
"""

from dataclasses import dataclass, field

import torch

KINDS = ("adam", "rmsprop", "signgd")


@dataclass
class HParams:
    """Hyperparameters of K configs: floats, or tensors of shape [K]."""

    lr: torch.Tensor | float
    beta1: torch.Tensor | float = 0.0
    beta2: torch.Tensor | float = 0.0
    eps: torch.Tensor | float = 1e-8


@dataclass
class State:
    """Optimizer state: step count t and moments shaped like the params."""

    step: int = 0
    m: list[torch.Tensor] = field(default_factory=list)
    v: list[torch.Tensor] = field(default_factory=list)


def init_state(kind, params):
    """Return the zero state of optimizer `kind` for `params`."""
    if kind not in KINDS:
        raise ValueError(f"unknown optimizer {kind!r}: expected one of {KINDS}")
    m = [torch.zeros_like(p) for p in params] if kind == "adam" else []
    v = [torch.zeros_like(p) for p in params] if kind != "signgd" else []
    return State(step=0, m=m, v=v)


def _per_config(value, like):
    """View a [K] hyperparameter so it broadcasts against a [K, ...] tensor."""
    if isinstance(value, torch.Tensor):
        return value.view(-1, *([1] * (like.dim() - 1)))
    return value


def _adam(p, g, m, v, t, hp):
    beta1 = _per_config(hp.beta1, p)
    beta2 = _per_config(hp.beta2, p)
    lr = _per_config(hp.lr, p)
    eps = _per_config(hp.eps, p)

    m.lerp_(g, 1 - beta1)
    if isinstance(beta2, torch.Tensor):
        v.mul_(beta2).addcmul_(g * (1 - beta2), g)
    else:
        v.mul_(beta2).addcmul_(g, g, value=1 - beta2)

    step_size = lr / (1 - beta1**t)
    bias_correction2_sqrt = (1 - beta2**t) ** 0.5
    denom = (v.sqrt() / bias_correction2_sqrt).add_(eps)
    if isinstance(step_size, torch.Tensor):
        p.sub_(m / denom * step_size)
    else:
        p.addcdiv_(m, denom, value=-step_size)


def _rmsprop(p, g, v, hp):
    alpha = _per_config(hp.beta2, p)
    lr = _per_config(hp.lr, p)
    eps = _per_config(hp.eps, p)

    if isinstance(alpha, torch.Tensor):
        v.mul_(alpha).addcmul_(g * (1 - alpha), g)
    else:
        v.mul_(alpha).addcmul_(g, g, value=1 - alpha)
    denom = v.sqrt().add_(eps)
    if isinstance(lr, torch.Tensor):
        p.sub_(g / denom * lr)
    else:
        p.addcdiv_(g, denom, value=-lr)


def _signgd(p, g, hp):
    lr = _per_config(hp.lr, p)
    p.sub_(torch.sign(g) * lr)


@torch.no_grad()
def update(kind, params, grads, state, hparams, alive=None):
    """Apply one step of optimizer `kind` in place.

    Args:
        kind: "adam", "rmsprop" or "signgd".
        params, grads: lists of tensors, each [K, ...].
        state: the State from init_state, advanced in place.
        hparams: HParams with floats or [K] tensors.
        alive: optional bool tensor [K]; configs marked False keep their
            parameters.
    """
    state.step += 1
    saved = None
    if alive is not None:
        saved = [p.clone() for p in params]

    for i, (p, g) in enumerate(zip(params, grads)):
        if kind == "adam":
            _adam(p, g, state.m[i], state.v[i], state.step, hparams)
        elif kind == "rmsprop":
            _rmsprop(p, g, state.v[i], hparams)
        else:
            _signgd(p, g, hparams)

    if saved is not None:
        for new, old in zip(params, saved):
            keep = _per_config(alive, new)
            new.copy_(torch.where(keep, new, old))
