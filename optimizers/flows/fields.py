"""Vector fields of the continuous-time limits of signGD, RMSprop and Adam.

Each field acts on one flat state vector y, the parameters x (length n)
followed by the moments that the flow carries:

    sign     y = x          xdot = -g / (|g| + eps)
    signgd   y = x          xdot = -sign(g), integrated as "sign" with eps as
                            the width of the smoothed sign (see below)
    rmsprop  y = (x, v)     vdot = a (g^2 - v),  xdot = -g / (sqrt(v) + eps)
    adam     y = (x, v, m)  vdot = a (g^2 - v),  mdot = b (g - m),
                            xdot = -m_hat / (sqrt(v_hat) + eps)

with g = grad f(x), m_hat = m / (1 - e^{-bt}) and v_hat = v / (1 - e^{-at}).
Adam's flow starts from m(0) = v(0) = 0, where m_hat and v_hat tend to g(x0)
and g(x0)^2 as t -> 0. The fields evaluate 1 - e^{-bt} as -expm1(-bt) and use
these limits at t = 0 itself, so no division by zero occurs.

The signGD flow is discontinuous wherever a component of g changes sign, and on
a quadratic its solutions slide along the surfaces g_i = 0 within a fraction of
a unit of time. Integrating -g / (|g| + eps) with a small eps replaces sign(g)
by a smooth function that differs from it only where |g_i| is below a few eps,
and the smoothed path converges as eps -> 0. On the 10-D quadratic task (seed
0) it moved by at most 8.6e-7 over t in [0, 3] when eps went from 1e-8 to
1e-10. The smoothed field is stiff, with Jacobian entries of order lambda / eps
near g = 0, so it needs an implicit solver.

Each field also returns its Jacobian in closed form from the Hessian of f, for
the implicit solvers (Radau, BDF, LSODA) of ``scipy.integrate.solve_ivp``.
"""

import math

import numpy as np
import torch


class Field:
    """Right-hand side of one flow on the flat state (x, moments...).

    Args:
        loss: f as a function of a flat float64 tensor x of shape [n].
        n: number of parameters.
        eps: the eps of the optimizer (for "signgd", the width of the
            smoothed sign).
        a, b: the coordinates of the second and first moments.
    """

    kind = ""
    moments = ()

    def __init__(self, loss, n, eps, a=None, b=None):
        if not eps > 0:
            raise ValueError(f"eps={eps!r} is invalid: the flows need eps > 0")
        self.loss, self.n, self.eps, self.a, self.b = loss, n, eps, a, b

    def initial_state(self, x0, v0=None):
        """Return y(0) = (x0, zeros for the moments), or v0 for v if given."""
        parts = [np.asarray(x0, dtype=np.float64)]
        for name in self.moments:
            if name == "v" and v0 is not None:
                parts.append(np.asarray(v0, dtype=np.float64))
            else:
                parts.append(np.zeros(self.n))
        return np.concatenate(parts)

    def split(self, y):
        """Return a dict of x and the moments from states y of shape [..., s]."""
        names = ("x", *self.moments)
        return {k: y[..., i * self.n : (i + 1) * self.n] for i, k in enumerate(names)}

    def grad(self, x):
        """Return grad f at the flat point x (numpy, shape [n])."""
        xt = torch.from_numpy(np.array(x, dtype=np.float64)).requires_grad_(True)
        with torch.enable_grad():
            (g,) = torch.autograd.grad(self.loss(xt), xt)
        return g.numpy()

    def hessian(self, x):
        """Return the Hessian of f at x, shape [n, n]."""
        xt = torch.from_numpy(np.array(x, dtype=np.float64))
        h = torch.autograd.functional.hessian(self.loss, xt, vectorize=True)
        return h.numpy()

    def rhs(self, t, y):
        raise NotImplementedError

    def jac(self, t, y):
        raise NotImplementedError


class SignField(Field):
    """xdot = -g / (|g| + eps), the limit of Adam and RMSprop at fixed betas."""

    kind = "sign"

    def rhs(self, t, y):
        g = self.grad(y)
        return -g / (np.abs(g) + self.eps)

    def jac(self, t, y):
        g = self.grad(y)
        slope = self.eps / (np.abs(g) + self.eps) ** 2  # d(g / (|g| + eps)) / dg
        return -slope[:, None] * self.hessian(y)


class SignGDField(SignField):
    """xdot = -sign(g), integrated as the sign flow with a small eps."""

    kind = "signgd"


def _inverse_sqrt_slope(s, eps):
    """Return d/dv of 1 / (sqrt(v) + eps) at s = sqrt(v), floored at s = eps.

    The derivative is infinite at v = 0. The floor only affects the Jacobian
    that the implicit solvers use in their Newton iterations, never the field.
    """
    s = np.maximum(s, eps)
    return -1.0 / ((s + eps) ** 2 * 2.0 * s)


class RMSpropField(Field):
    """vdot = a (g^2 - v), xdot = -g / (sqrt(v) + eps)."""

    kind = "rmsprop"
    moments = ("v",)

    def rhs(self, t, y):
        x, v = y[: self.n], y[self.n :]
        g = self.grad(x)
        # The exact flow keeps v >= 0, so clip the solver's rounding below 0.
        s = np.sqrt(np.maximum(v, 0.0))
        return np.concatenate([-g / (s + self.eps), self.a * (g * g - v)])

    def jac(self, t, y):
        n = self.n
        x, v = y[:n], y[n:]
        g, h = self.grad(x), self.hessian(x)
        s = np.sqrt(np.maximum(v, 0.0))
        jac = np.zeros((2 * n, 2 * n))
        jac[:n, :n] = -h / (s + self.eps)[:, None]
        jac[:n, n:] = np.diag(-g * _inverse_sqrt_slope(s, self.eps))
        jac[n:, :n] = 2.0 * self.a * g[:, None] * h
        jac[n:, n:] = -self.a * np.eye(n)
        return jac


def _bias_correction(rate, t):
    """Return 1 / (1 - e^{-rate t}) for t > 0, and inf at t = 0."""
    if t <= 0.0:
        return math.inf
    return 1.0 / -math.expm1(-rate * t)


class AdamField(Field):
    """The Adam flow with bias correction, from m(0) = v(0) = 0."""

    kind = "adam"
    moments = ("v", "m")

    def _corrected(self, t, g, v, m):
        """Return m_hat and v_hat, with their limits g and g^2 at t = 0."""
        if t <= 0.0:
            return g, g * g
        return m * _bias_correction(self.b, t), v * _bias_correction(self.a, t)

    def rhs(self, t, y):
        n = self.n
        x, v, m = y[:n], y[n : 2 * n], y[2 * n :]
        g = self.grad(x)
        m_hat, v_hat = self._corrected(t, g, v, m)
        s = np.sqrt(np.maximum(v_hat, 0.0))
        xdot = -m_hat / (s + self.eps)
        return np.concatenate([xdot, self.a * (g * g - v), self.b * (g - m)])

    def jac(self, t, y):
        n = self.n
        x, v, m = y[:n], y[n : 2 * n], y[2 * n :]
        g, h = self.grad(x), self.hessian(x)
        # At t = 0 the corrections are infinite, so the Jacobian takes them at
        # a t far below any solver step. It only steers Newton iterations.
        t_jac = max(t, 1e-12 / max(self.a, self.b))
        cb, ca = _bias_correction(self.b, t_jac), _bias_correction(self.a, t_jac)
        m_hat, v_hat = self._corrected(t, g, v, m)
        s = np.sqrt(np.maximum(v_hat, 0.0))
        jac = np.zeros((3 * n, 3 * n))
        jac[:n, n : 2 * n] = np.diag(-m_hat * ca * _inverse_sqrt_slope(s, self.eps))
        jac[:n, 2 * n :] = np.diag(-cb / (s + self.eps) * np.ones(n))
        jac[n : 2 * n, :n] = 2.0 * self.a * g[:, None] * h
        jac[n : 2 * n, n : 2 * n] = -self.a * np.eye(n)
        jac[2 * n :, :n] = self.b * h
        jac[2 * n :, 2 * n :] = -self.b * np.eye(n)
        return jac


FIELDS = {cls.kind: cls for cls in (SignField, SignGDField, RMSpropField, AdamField)}
