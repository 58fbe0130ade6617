"""Conversion between the sweep coordinates (lr, a, b) and the momentum factors.

Adam and RMSprop are swept at a fixed learning rate in the coordinates

    beta2 = 1 - a * lr    (second moment; RMSprop's alpha)
    beta1 = 1 - b * lr    (first moment)

so that (a, b) keep the memory of the moments fixed in time t = lr * step as
lr changes. Every conversion in the project goes through this module, and every
value outside [0, 1) is rejected here with the point that produced it.
"""

import math


def _check_unit_interval(name, beta, coord_name, coord, lr):
    if not math.isfinite(beta) or not 0.0 <= beta < 1.0:
        raise ValueError(
            f"{coord_name}={coord:g} with lr={lr:g} gives {name}={beta:g}, "
            f"outside [0, 1): choose {coord_name} in (0, {1.0 / lr:g}] "
            f"so that 0 < {coord_name} * lr <= 1"
        )


def check_lr(lr):
    """Raise ValueError unless lr is a finite positive number."""
    if not (isinstance(lr, (int, float)) and math.isfinite(lr) and lr > 0):
        raise ValueError(f"lr={lr!r} is invalid: the learning rate must be > 0")


def beta_from_coord(lr, coord, beta_name, coord_name):
    """Return 1 - coord * lr, raising ValueError if it falls outside [0, 1)."""
    check_lr(lr)
    beta = 1.0 - coord * lr
    _check_unit_interval(beta_name, beta, coord_name, coord, lr)
    return beta


def betas_from_ab(lr, a, b):
    """Return (beta1, beta2) = (1 - b * lr, 1 - a * lr) for Adam.

    Raises:
        ValueError: if lr <= 0 or either beta falls outside [0, 1), naming
            a or b, lr and the beta they produce.
    """
    beta2 = beta_from_coord(lr, a, "beta2", "a")
    beta1 = beta_from_coord(lr, b, "beta1", "b")
    return beta1, beta2


def ab_from_betas(lr, beta1, beta2):
    """Return (a, b) = ((1 - beta2) / lr, (1 - beta1) / lr) for Adam.

    Raises:
        ValueError: if lr <= 0 or a beta lies outside [0, 1).
    """
    check_lr(lr)
    for name, beta in (("beta1", beta1), ("beta2", beta2)):
        if not (math.isfinite(beta) and 0.0 <= beta < 1.0):
            raise ValueError(f"{name}={beta:g} is outside [0, 1)")
    # Rounded to 12 significant digits: (1 - 0.999) / 1e-3 is
    # 1.0000000000000009 in floating point, which would put the default
    # betas beside a = 1 instead of on it.
    return _round12((1.0 - beta2) / lr), _round12((1.0 - beta1) / lr)


def _round12(x):
    return float(f"{x:.12g}")
