"""Integration of the flows with ``scipy.integrate.solve_ivp``.

The solver is SciPy's, not torchdiffeq's, for three reasons. The flows are
stiff: near a minimum the Jacobian of xdot has eigenvalues of order
-lambda / eps (1e8 for eps = 1e-8 and a unit curvature), and the smoothed signGD
flow is stiff across every surface g_i = 0. ``solve_ivp`` offers the implicit
Radau and BDF methods with a user Jacobian. torchdiffeq's adaptive solvers are
explicit Runge-Kutta methods, its implicit_adams takes fixed steps and iterates
its corrector without a Jacobian, and its scipy_solver calls ``solve_ivp``
(torchdiffeq's FURTHER_DOCUMENTATION.md). The problems are small (tens of
parameters), so a dense Jacobian is cheap and no GPU is needed. And SciPy is
already a dependency of the project.

NOTE: the implicit methods build a dense Jacobian of the whole state (n, 2n or
3n rows) from the Hessian of f, so they suit problems of at most a few hundred
parameters. method="RK45" forms no Jacobian, but the flows are stiff wherever
a component of g is near 0, which a network has from the start. On the
sin_regression task (n_points=200, about 10^4 parameters) the Adam flow with
RK45 had not reached t = 0.02 after 3 minutes on a 2-core CPU.
"""

from dataclasses import dataclass

import numpy as np
import torch
from scipy.integrate import solve_ivp

from optimizers.flows.fields import FIELDS

IMPLICIT_METHODS = ("Radau", "BDF", "LSODA")


@dataclass
class FlowPath:
    """A flow sampled at given times.

    times [T] and x [T, n], with v and m [T, n] for the flows that carry them
    (None otherwise).
    """

    kind: str
    times: np.ndarray
    x: np.ndarray
    v: np.ndarray | None = None
    m: np.ndarray | None = None


def flat_loss(task, problem):
    """Return f as a function of one flat tensor, and the flat x0.

    The parameters of `problem` are concatenated in the order of its params
    dict, and the returned loss splits a flat tensor back into that dict.
    """
    names = list(problem.params)
    shapes = [problem.params[k].shape for k in names]
    sizes = [problem.params[k].numel() for k in names]

    def loss(x):
        chunks = torch.split(x, sizes)
        params = {k: c.view(s) for k, c, s in zip(names, chunks, shapes, strict=True)}
        return task.loss(params, problem.data)

    x0 = torch.cat([problem.params[k].reshape(-1) for k in names])
    return loss, x0


def integrate_flow(
    kind,
    loss,
    x0,
    times,
    a=None,
    b=None,
    eps=1e-8,
    v0=None,
    method="Radau",
    rtol=1e-9,
    atol=1e-12,
):
    """Integrate flow `kind` from x0 and return it at `times`.

    Args:
        kind: "sign", "signgd", "rmsprop" or "adam" (see fields.py).
        loss: f of a flat float64 tensor of shape [n], e.g. from flat_loss.
        x0: the starting point, shape [n].
        times: increasing times >= 0, the first of them 0.
        a, b: the moment coordinates. "rmsprop" needs a, "adam" a and b.
        eps: the optimizer's eps, or for "signgd" the width of the smoothed
            sign.
        v0: starting v of the RMSprop flow (zeros by default). Adam's flow
            always starts from m = v = 0, as its bias correction assumes.
        method, rtol, atol: passed to ``scipy.integrate.solve_ivp``.

    Raises:
        ValueError: for an unknown kind, a missing coordinate, invalid times,
            or a solver failure (the solver's message is included).
    """
    if kind not in FIELDS:
        raise ValueError(f"unknown flow {kind!r}: expected one of {sorted(FIELDS)}")
    needed = {"rmsprop": ("a",), "adam": ("a", "b")}.get(kind, ())
    for name, value in (("a", a), ("b", b)):
        if name in needed and not (value is not None and value > 0):
            raise ValueError(f"the {kind} flow needs {name} > 0, got {value!r}")
    if v0 is not None and kind != "rmsprop":
        raise ValueError(f"v0 is only used by the rmsprop flow, not {kind!r}")

    times = np.asarray(times, dtype=np.float64)
    if times.ndim != 1 or times[0] != 0.0 or np.any(np.diff(times) < 0):
        raise ValueError("times must be a 1-D increasing array starting at 0")

    x0 = torch.as_tensor(x0, dtype=torch.float64).detach().reshape(-1).numpy()
    field = FIELDS[kind](loss, x0.size, eps, a=a, b=b)
    options = {"jac": field.jac} if method in IMPLICIT_METHODS else {}
    sol = solve_ivp(
        field.rhs,
        (0.0, float(times[-1])),
        field.initial_state(x0, v0),
        method=method,
        t_eval=times,
        rtol=rtol,
        atol=atol,
        **options,
    )
    if sol.status != 0:
        raise ValueError(f"the {kind} flow failed at t={sol.t[-1]:g}: {sol.message}")
    return FlowPath(kind=kind, times=times, **field.split(sol.y.T))
