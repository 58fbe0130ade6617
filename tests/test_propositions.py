"""Numerical checks of the continuous-time limits, the PL bound and stability.

The statements come from Ma, Wu and E, "A qualitative study of the dynamic
behavior for adaptive gradient algorithms" (2020). At fixed betas Adam and
RMSprop tend to xdot = -g / (|g| + eps) as lr -> 0, and at fixed (a, b) they
tend to the RMSprop and Adam flows. Under the PL condition
||g||^2 >= mu (f - f*) the signGD flow reaches f* by
T = 2 sqrt((f(x0) - f*) / mu). Near a minimum RMSprop settles only if
lr < 2 eps / lambda_max, and on f = x^2 / 2 it ends on the 2-cycle
x = +-lr/2. The measured numbers are in docs/dynamics.md, and each test
prints its own with pytest -s.
"""

import math

import numpy as np
import pytest
import torch

from analysis.flows import compare_with_flow, losses_along
from analysis.underflow import detect_underflow, underflow_onset
from optimizers import functional
from optimizers.flows import FIELDS, Limit, flat_loss, integrate_flow, run_discrete
from tasks import get_task

LRS = [4e-3, 2e-3, 1e-3, 5e-4]
# The signGD flow from the seed-0 quadratic first reaches f* at t = 2.31, and
# the runs at these lrs cannot follow it there (lr >> 2 eps / lambda_max), so
# the distances are measured before that.
TIME = 1.0


@pytest.fixture(scope="module")
def quadratic():
    task = get_task("quadratic")
    problem = task.build(seed=0, dtype=torch.float64)
    loss, x0 = flat_loss(task, problem)
    return loss, x0, problem.data["A"].numpy()


def _check_convergence(quadratic, limit, band, v0=None):
    loss, x0, _ = quadratic
    result = compare_with_flow(loss, x0, limit, LRS, TIME, v0=v0)
    distances = result.distances
    print(
        f"\n{limit}: distances {[f'{d:.4g}' for d in distances]}, "
        f"order {result.order:.3f}"
    )
    for coarse, fine in zip(distances, distances[1:], strict=False):
        assert fine < coarse
    assert band[0] <= result.order <= band[1]
    return result


@pytest.mark.parametrize(
    "limit",
    [Limit("rmsprop", beta2=0.9), Limit("adam", beta1=0.9, beta2=0.9)],
    ids=["rmsprop", "adam"],
)
def test_fixed_betas_tend_to_sign_flow(quadratic, limit):
    # Order below 1: where a component of g passes through 0, v still carries
    # g^2 from a time lr / (1 - beta2) earlier, which costs lr log(1 / lr).
    _check_convergence(quadratic, limit, (0.7, 1.0))


def test_signgd_tends_to_signgd_flow(quadratic):
    _check_convergence(quadratic, Limit("signgd"), (0.9, 1.1))


@pytest.mark.parametrize("a,b", [(10.0, 10.0), (1.0, 100.0)])
def test_fixed_ab_adam_tends_to_adam_flow(quadratic, a, b):
    result = _check_convergence(quadratic, Limit("adam", a=a, b=b), (0.95, 1.05))
    # The flow starts at xdot = -sign(g) in all 10 coordinates, so on the
    # first interval the piecewise constant X already lags by lr sqrt(10).
    assert result.distances[-1] >= LRS[-1] * math.sqrt(10) * (1 - 1e-3)


def test_rmsprop_from_zero_v_order_half(quadratic):
    # From v = 0 the flow moves 2 sqrt(t / a) in each coordinate at first, so
    # X = x0 on [0, lr) is already 2 sqrt(10 lr / a) away at t = lr.
    a = 10.0
    result = _check_convergence(quadratic, Limit("rmsprop", a=a), (0.45, 0.55))
    lag = 2 * math.sqrt(10 * LRS[0] / a)
    assert result.distances[0] == pytest.approx(lag, rel=0.05)


def test_rmsprop_from_primed_v_order_one(quadratic):
    loss, x0, _ = quadratic
    v0 = torch.func.grad(loss)(x0) ** 2
    _check_convergence(quadratic, Limit("rmsprop", a=10.0), (0.95, 1.05), v0=v0)


@pytest.mark.parametrize("a,b", [(1.0, 100.0), (100.0, 1.0), (10.0, 10.0)])
def test_adam_flow_starts_at_sign_speed(quadratic, a, b):
    # From m = v = 0 with eps -> 0, ||xdot(tau) + sign(g(x(tau)))|| stays
    # below 54 M^3 L sqrt(d) / c^4 * tau for tau < c^3 / (32 M^2 L sqrt(d)),
    # whatever a and b, with M = ||g(x0)||, L = lambda_max, c = min |g_i(x0)|.
    loss, x0, hessian = quadratic
    g0 = hessian @ x0.numpy()
    big_m, lip = np.linalg.norm(g0), np.linalg.eigvalsh(hessian)[-1]
    c, d = np.abs(g0).min(), g0.size
    tau_max = c**3 / (32 * big_m**2 * lip * math.sqrt(d))
    slope = 54 * big_m**3 * lip * math.sqrt(d) / c**4
    taus = np.array([0.0, tau_max, 1e-3])
    path = integrate_flow("adam", loss, x0, taus, a=a, b=b, eps=1e-12)

    field = FIELDS["adam"](loss, d, 1e-12, a=a, b=b)
    gaps = []
    for i in (1, 2):
        y = np.concatenate([path.x[i], path.v[i], path.m[i]])
        xdot = field.rhs(taus[i], y)[:d]
        gaps.append(np.linalg.norm(xdot + np.sign(hessian @ path.x[i])))
    print(
        f"\n(a, b) = ({a:g}, {b:g}): gap {gaps[0]:.3g} at tau = {tau_max:.3g}, "
        f"{gaps[1]:.3g} at tau = 1e-3"
    )
    assert gaps[0] < slope * tau_max
    # The lags of m_hat and sqrt(v_hat) behind g cancel to first order, so
    # even at tau = 1e-3 the speed is within 1e-3 of sign(g).
    assert gaps[1] < 1e-3


def test_signgd_flow_meets_pl_bound(quadratic):
    # f = 1/2 x^T A x has ||g||^2 = x^T A^2 x >= lambda_min x^T A x
    # = 2 lambda_min f, with equality along the bottom eigenvector, so the
    # largest valid PL constant is mu = 2 lambda_min(A).
    loss, x0, a = quadratic
    mu = 2 * np.linalg.eigvalsh(a)[0]
    f0 = loss(x0).item()
    t_stop = 2 * math.sqrt(f0 / mu)
    times = np.concatenate([np.linspace(0, 3, 301), np.linspace(3, t_stop, 20)[1:]])
    f = losses_along(loss, integrate_flow("signgd", loss, x0, times).x)

    bound = np.where(
        times < t_stop, (math.sqrt(f0) - math.sqrt(mu) * times / 2) ** 2, 0
    )
    arrival = times[np.argmax(f < 1e-12 * f0)]
    print(f"\nmu = {mu:.5g}, T = {t_stop:.4g}, f* reached (f < 1e-12 f0) at {arrival}")
    assert np.all(f <= bound + 1e-12 * f0)
    assert f[-1] < 1e-12 * f0
    assert arrival < t_stop


@pytest.mark.parametrize("curvature", [0.01, 1.0, 100.0])
def test_pl_bound_is_exact_in_1d(curvature):
    # f = c x^2 / 2 has mu = 2c, and the flow x = x0 - t gives
    # f = c (x0 - t)^2 / 2 = (sqrt(f0) - sqrt(mu) t / 2)^2: equality, and
    # the stopping time 2 sqrt(f0 / mu) = x0 for every c. The smoothed sign
    # slows the flow by a factor 1 + eps / (c |x|), hence eps = 1e-12 here.
    x0, times = 0.8, np.linspace(0.0, 0.7, 8)

    def loss(x):
        return 0.5 * curvature * x @ x

    f = losses_along(loss, integrate_flow("signgd", loss, [x0], times, eps=1e-12).x)
    mu, f0 = 2 * curvature, 0.5 * curvature * x0**2
    bound = (math.sqrt(f0) - math.sqrt(mu) * times / 2) ** 2
    np.testing.assert_allclose(f, bound, rtol=1e-6)
    assert 2 * math.sqrt(f0 / mu) == pytest.approx(x0)


def _quadratic_2d(top):
    # H = R diag(top, top / 4) R^T with R a rotation by 30 degrees.
    c, s = math.cos(math.pi / 6), math.sin(math.pi / 6)
    rotation = np.array([[c, -s], [s, c]])
    hessian = torch.tensor(rotation @ np.diag([top, top / 4]) @ rotation.T)
    return (lambda x: 0.5 * x @ hessian @ x), torch.tensor(rotation[:, 0])


@pytest.mark.parametrize("factor", [0.5, 0.9, 1.1, 2.0])
def test_rmsprop_stability_threshold(factor):
    # x0 is so small that sqrt(v) << eps, and v starts at g(x0)^2, so the
    # first steps are the linearised x <- (I - lr H / eps) x. Its top factor
    # 1 - lr lambda / eps lies in (-1, 1) exactly when lr < 2 eps / lambda.
    top, eps = 4.0, 1e-8
    lr = factor * 2 * eps / top
    loss, top_vector = _quadratic_2d(top)
    x0 = torch.tensor([1e-14, 0.5e-14], dtype=torch.float64)
    v0 = torch.func.grad(loss)(x0) ** 2
    hp = functional.HParams(lr=lr, beta2=0.9, eps=eps)
    path = run_discrete("rmsprop", loss, x0, hp, 500, v0=v0)

    ratio = (path[1] @ top_vector) / (path[0] @ top_vector)
    assert ratio.item() == pytest.approx(1 - lr * top / eps, abs=1e-4)
    norms = path.norm(dim=1) / x0.norm()
    late = norms[-100:]
    print(f"\nlr = {factor} * 2 eps / lambda: ||x_500|| / ||x0|| = {norms[-1]:.3g}")
    if factor < 1:
        assert norms[-1] < 1e-6
    else:
        assert late.min() > 100.0
        top_part = path[-100:] @ top_vector
        assert torch.all(top_part[1:] * top_part[:-1] < 0)


LR_CYCLE = 0.01
CYCLE_ALPHAS = [0.5, 0.9, 0.95, 0.98, 0.99]
COLLAPSE_ALPHAS = {torch.float64: [0.995, 0.999], torch.float32: [0.98, 0.99, 0.999]}


def _rmsprop_on_half_square(alphas, dtype, steps):
    """Return x at every step, [steps + 1, K], of RMSprop on x^2 / 2 from 1."""
    x = torch.ones(len(alphas), 1, dtype=dtype)  # [K, 1]
    state = functional.init_state("rmsprop", [x])
    hp = functional.HParams(lr=LR_CYCLE, beta2=torch.tensor(alphas, dtype=dtype))
    path = torch.empty(steps + 1, len(alphas), dtype=dtype)
    path[0] = x[:, 0]
    for k in range(steps):
        functional.update("rmsprop", [x], [x.clone()], state, hp)
        path[k + 1] = x[:, 0]
    return path


def test_rmsprop_two_cycle_on_half_square():
    # On the cycle |x| = c with v = c^2, the step lr c / (c + eps) equals 2c,
    # so c = lr / 2 - eps. By step 4000 every alpha is within 1e-5 of it in
    # relative terms (alpha = 0.99 is the slowest), far inside 1 % of lr / 2.
    path = _rmsprop_on_half_square(CYCLE_ALPHAS, torch.float64, 4000)
    late = path[-100:]
    amplitude = LR_CYCLE / 2 - 1e-8
    print(f"\nlast |x| / (lr / 2): {(late[-1].abs() / (LR_CYCLE / 2)).tolist()}")
    for i, alpha in enumerate(CYCLE_ALPHAS):
        torch.testing.assert_close(
            late[:, i].abs(),
            torch.full((100,), amplitude, dtype=torch.float64),
            rtol=1e-4,
            atol=0,
            msg=f"alpha={alpha} left the cycle",
        )
        assert torch.all(late[1:, i] * late[:-1, i] < 0), f"alpha={alpha}"
        assert not detect_underflow(path[:, i])


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_rmsprop_collapse_is_detected_as_underflow(dtype):
    alphas = COLLAPSE_ALPHAS[dtype]
    path = _rmsprop_on_half_square(alphas, dtype, 4000)
    for i, alpha in enumerate(alphas):
        onset = underflow_onset(path[:, i])
        print(
            f"\n{dtype} alpha={alpha}: frozen at x = {path[-1, i].item():.3g} "
            f"from step {onset}"
        )
        assert onset is not None, f"alpha={alpha} did not collapse"
        assert abs(path[-1, i].item()) < torch.finfo(dtype).tiny


def test_torch_rmsprop_collapses_in_float64():
    # The same collapse with torch.optim.RMSprop itself, alpha = 0.995.
    x = torch.ones(1, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.RMSprop([x], lr=LR_CYCLE, alpha=0.995, eps=1e-8)
    path = []
    for _ in range(3000):
        opt.zero_grad()
        (0.5 * x**2).sum().backward()
        opt.step()
        path.append(x.item())
    assert detect_underflow(np.array(path))
