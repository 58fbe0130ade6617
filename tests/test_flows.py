"""The flows, discrete runs and distances against closed forms and references."""

import json
import math

import numpy as np
import pytest
import torch

from analysis import flows as flow_analysis
from analysis.underflow import detect_underflow, underflow_onset
from optimizers import functional
from optimizers.flows import FIELDS, Limit, integrate_flow, run_discrete, steps_for

# A 3-D quadratic f = 1/2 x^T A x with eigenvalues spread over a decade.
A = np.array([[3.0, 0.5, 0.0], [0.5, 1.0, 0.2], [0.0, 0.2, 0.4]])
X0 = np.array([1.0, -0.7, 0.4])


def _loss(x):
    a = torch.as_tensor(A, dtype=x.dtype)
    return 0.5 * x @ a @ x


def _rk4(rhs, y0, t_end, h):
    """Integrate y' = rhs(t, y) with the classical fixed-step Runge-Kutta."""
    y, t = np.array(y0, dtype=np.float64), 0.0
    for _ in range(round(t_end / h)):
        k1 = rhs(t, y)
        k2 = rhs(t + h / 2, y + h / 2 * k1)
        k3 = rhs(t + h / 2, y + h / 2 * k2)
        k4 = rhs(t + h, y + h * k3)
        y, t = y + h / 6 * (k1 + 2 * k2 + 2 * k3 + k4), t + h
    return y


def _adam_rhs(a, b, eps):
    """The Adam flow on (x, v, m) with the gradient A x, written from scratch."""

    def rhs(t, y):
        x, v, m = np.split(y, 3)
        g = A @ x
        if t == 0.0:
            m_hat, v_hat = g, g * g
        else:
            m_hat = m / (1.0 - math.exp(-b * t))
            v_hat = v / (1.0 - math.exp(-a * t))
        xdot = -m_hat / (np.sqrt(v_hat) + eps)
        return np.concatenate([xdot, a * (g * g - v), b * (g - m)])

    return rhs


def test_sign_flow_matches_closed_form_in_1d():
    # On f = x^2 / 2 from x0 = 1: x(t) = 1 - t until the minimum at t = 1.
    times = np.linspace(0.0, 1.5, 16)
    path = integrate_flow("signgd", lambda x: 0.5 * x @ x, [1.0], times)
    before = times <= 0.9
    np.testing.assert_allclose(path.x[before, 0], 1.0 - times[before], atol=1e-7)
    assert np.abs(path.x[times >= 1.1, 0]).max() < 1e-7


@pytest.mark.parametrize("a,b", [(10.0, 10.0), (1.0, 100.0), (100.0, 1.0)])
def test_adam_flow_matches_rk4(a, b):
    times = np.array([0.0, 0.25, 0.5])
    path = integrate_flow("adam", _loss, X0, times, a=a, b=b)
    y0 = np.concatenate([X0, np.zeros(6)])
    # RK4 at h = 2e-4 lies within 2e-8 of the flow, converging at order 3
    # (order 4 less one for the bias correction at t -> 0).
    ref = _rk4(_adam_rhs(a, b, 1e-8), y0, 0.5, h=2e-4)
    np.testing.assert_allclose(path.x[-1], ref[:3], atol=1e-7)
    np.testing.assert_allclose(path.v[-1], ref[3:6], atol=1e-7)
    np.testing.assert_allclose(path.m[-1], ref[6:], atol=1e-7)


def test_rmsprop_flow_with_primed_v_matches_rk4():
    a, eps = 5.0, 1e-8
    v0 = (A @ X0) ** 2

    def rhs(t, y):
        x, v = np.split(y, 2)
        g = A @ x
        return np.concatenate([-g / (np.sqrt(v) + eps), a * (g * g - v)])

    path = integrate_flow("rmsprop", _loss, X0, [0.0, 0.5], a=a, v0=v0)
    ref = _rk4(rhs, np.concatenate([X0, v0]), 0.5, h=2e-4)
    np.testing.assert_allclose(path.x[-1], ref[:3], atol=1e-7)
    np.testing.assert_allclose(path.v[-1], ref[3:], atol=1e-7)


def test_adam_field_is_finite_at_time_zero():
    field = FIELDS["adam"](_loss, 3, 1e-8, a=1.0, b=100.0)
    y0 = field.initial_state(X0)
    g = A @ X0
    for t in (0.0, 1e-300, 1e-12):
        xdot = field.rhs(t, y0 + 0.0)[:3]
        assert np.all(np.isfinite(xdot))
    # At t = 0 the corrected moments are g and g^2, so xdot = -g / (|g| + eps).
    np.testing.assert_allclose(field.rhs(0.0, y0)[:3], -g / (np.abs(g) + 1e-8))
    assert np.all(np.isfinite(field.jac(0.0, y0)))


@pytest.mark.parametrize("kind", ["sign", "rmsprop", "adam"])
def test_field_jacobian_matches_finite_differences(kind):
    field = FIELDS[kind](_loss, 3, 1e-3, a=2.0, b=5.0)
    rng = np.random.default_rng(0)
    y = np.concatenate([X0, rng.uniform(0.5, 1.5, size=3 * len(field.moments))])
    t, h = 0.3, 1e-7
    columns = [
        (field.rhs(t, y + h * e) - field.rhs(t, y - h * e)) / (2 * h)
        for e in np.eye(y.size)
    ]
    np.testing.assert_allclose(field.jac(t, y), np.array(columns).T, atol=1e-5)


def _torch_optim_path(optimizer_cls, steps, **kwargs):
    x = torch.tensor(X0, requires_grad=True)
    opt = optimizer_cls([x], foreach=False, **kwargs)
    path = [x.detach().clone()]
    for _ in range(steps):
        opt.zero_grad()
        _loss(x).backward()
        opt.step()
        path.append(x.detach().clone())
    return torch.stack(path)


def test_run_discrete_matches_torch_optim():
    x0 = torch.tensor(X0)
    hp = functional.HParams(lr=1e-2, beta1=0.8, beta2=0.95, eps=1e-8)
    ours = run_discrete("adam", _loss, x0, hp, 50)
    ref = _torch_optim_path(torch.optim.Adam, 50, lr=1e-2, betas=(0.8, 0.95), eps=1e-8)
    torch.testing.assert_close(ours, ref, rtol=1e-12, atol=1e-14)

    hp = functional.HParams(lr=1e-2, beta2=0.9, eps=1e-8)
    ours = run_discrete("rmsprop", _loss, x0, hp, 50)
    ref = _torch_optim_path(torch.optim.RMSprop, 50, lr=1e-2, alpha=0.9, eps=1e-8)
    torch.testing.assert_close(ours, ref, rtol=1e-12, atol=1e-14)


def test_limit_picks_flow_and_betas():
    adam = Limit("adam", a=10.0, b=100.0)
    assert adam.flow == "adam"
    hp = adam.hparams(1e-3)
    assert hp.beta1 == pytest.approx(0.9)
    assert hp.beta2 == pytest.approx(0.99)
    assert Limit("rmsprop", beta2=0.9).flow == "sign"
    assert Limit("rmsprop", beta2=0.9).hparams(1e-2).beta2 == 0.9
    assert Limit("rmsprop", a=1.0).flow == "rmsprop"
    assert Limit("signgd").flow == "signgd"


@pytest.mark.parametrize(
    "kwargs,fragment",
    [
        (dict(optimizer="adam", a=1.0), r"adam needs either \('a', 'b'\)"),
        (dict(optimizer="adam", a=1.0, beta1=0.9), r"got \['a', 'beta1'\]"),
        (dict(optimizer="rmsprop", a=1.0, b=2.0), "rmsprop needs either"),
        (dict(optimizer="signgd", beta2=0.9), "signgd needs either nothing"),
        (dict(optimizer="sgd"), "unknown optimizer 'sgd'"),
    ],
)
def test_limit_rejects_mixed_families(kwargs, fragment):
    with pytest.raises(ValueError, match=fragment):
        Limit(**kwargs)


def test_limit_rejects_beta_out_of_range():
    with pytest.raises(ValueError, match="a=200 with lr=0.01 gives beta2=-1"):
        Limit("rmsprop", a=200.0).hparams(1e-2)
    with pytest.raises(ValueError, match=r"beta2=1.0 is outside \[0, 1\)"):
        Limit("rmsprop", beta2=1.0)


@pytest.mark.parametrize(
    "kwargs,fragment",
    [
        (dict(kind="heavy_ball"), "unknown flow 'heavy_ball'"),
        (dict(kind="adam", a=1.0), "the adam flow needs b > 0, got None"),
        (dict(kind="sign", v0=[1.0, 1.0, 1.0]), "v0 is only used by the rmsprop"),
        (dict(kind="sign", times=[0.5, 1.0]), "times must be"),
        (dict(kind="sign", eps=0.0), "eps=0.0 is invalid"),
    ],
)
def test_integrate_flow_rejects_bad_input(kwargs, fragment):
    args = dict(loss=_loss, x0=X0, times=[0.0, 1.0]) | kwargs
    with pytest.raises(ValueError, match=fragment):
        integrate_flow(**args)


def test_steps_cover_time():
    assert steps_for(1e-3, 1.0) == 1000
    assert steps_for(3e-3, 1.0) == 334
    assert steps_for(0.25, 1.0) == 4


def test_sup_distance_of_constant_against_line():
    # X stays at 0 while x(t) = t: the sup over [0, n lr] is n lr, reached at
    # the right end of the last interval and at t_n.
    lr, n = 0.1, 5
    times = np.arange(n + 1) * lr
    discrete = np.zeros((n + 1, 2))
    flow = np.stack([times, np.zeros(n + 1)], axis=1)
    assert flow_analysis.sup_distance(discrete, flow) == pytest.approx(n * lr)
    # A discrete run that lags one step behind is lr away at the interval ends.
    lagging = np.stack([np.maximum(times - lr, 0.0), np.zeros(n + 1)], axis=1)
    assert flow_analysis.sup_distance(lagging, flow) == pytest.approx(2 * lr)


def test_fit_order_recovers_power_law():
    lrs = [1e-2, 5e-3, 2.5e-3]
    assert flow_analysis.fit_order(lrs, [3 * lr**0.5 for lr in lrs]) == pytest.approx(
        0.5
    )
    assert flow_analysis.fit_order([1e-2], [1.0]) is None


def test_cli_writes_figure_csv_and_json(tmp_path, capsys):
    out, record = tmp_path / "figs", tmp_path / "flows.json"
    argv = ["--task", "quadratic", "--option", "dim=3", "--optimizer", "adam"]
    argv += ["--a", "10", "--b", "10", "--lrs", "2e-2,1e-2", "--time", "0.2"]
    argv += ["--out", str(out), "--json", str(record)]
    assert flow_analysis.main(argv) == 0

    assert (out / "flows_quadratic_adam.png").stat().st_size > 0
    rows = (out / "flows_quadratic_adam.csv").read_text().splitlines()
    assert rows[0] == "curve,lr,time,loss"
    discrete = [r for r in rows[1:] if r.startswith("discrete,")]
    flow = [r for r in rows[1:] if r.startswith("flow,")]
    assert len(discrete) == (10 + 1) + (20 + 1)
    assert len(flow) == 21  # the union of both grids: t = k * 0.01, k = 0 .. 20

    data = json.loads(record.read_text())
    assert set(data) == {"lrs", "distances", "order"}
    assert data["lrs"] == [0.02, 0.01]
    assert data["distances"][1] < data["distances"][0]
    assert "order p =" in capsys.readouterr().out


def test_cli_rejects_nonpositive_time(capsys):
    argv = ["--task", "quadratic", "--optimizer", "signgd"]
    argv += ["--lrs", "1e-2", "--time", "0"]
    assert flow_analysis.main(argv) == 2
    assert "--time 0 is invalid" in capsys.readouterr().err


def test_cli_rejects_mixed_coordinates(capsys):
    argv = ["--task", "quadratic", "--optimizer", "adam", "--a", "1"]
    argv += ["--beta1", "0.9", "--lrs", "1e-2", "--time", "0.1"]
    assert flow_analysis.main(argv) == 2
    assert "adam needs either" in capsys.readouterr().err


def test_underflow_detects_frozen_subnormal():
    tiny64 = np.finfo(np.float64).tiny
    curve = np.concatenate([np.geomspace(1.0, 1e-300, 50), np.full(20, 2.1e-322)])
    assert underflow_onset(curve) == 50
    assert detect_underflow(curve)
    assert detect_underflow(curve[:, None])

    converged = np.geomspace(1.0, 1e-10, 70)
    assert not detect_underflow(converged)
    exact_zero = np.concatenate([np.geomspace(1.0, 1e-3, 50), np.zeros(20)])
    assert not detect_underflow(exact_zero)
    # Subnormal but still moving: the iteration has not frozen.
    moving = np.concatenate([np.ones(5), tiny64 * np.geomspace(0.5, 1e-10, 20)])
    assert not detect_underflow(moving)
    # Too short a collapse at the end of the curve.
    assert not detect_underflow(curve[:55])


def test_underflow_uses_run_dtype():
    # 3.6e-44 is subnormal in float32 but normal in float64.
    curve = np.concatenate([np.ones(5), np.full(20, 3.6e-44)])
    assert not detect_underflow(curve)
    assert detect_underflow(curve, dtype=torch.float32)
    assert detect_underflow(torch.tensor(curve, dtype=torch.float32))
