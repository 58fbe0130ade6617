"""The optimizers against torch.optim and closed-form first steps."""

import pytest
import torch

import optimizers
from optimizers import functional

STEPS = 200


def _mlp(seed):
    torch.manual_seed(seed)
    return torch.nn.Sequential(
        torch.nn.Linear(5, 16), torch.nn.Tanh(), torch.nn.Linear(16, 1)
    ).double()


def _data():
    gen = torch.Generator().manual_seed(1)
    x = torch.rand(64, 5, generator=gen, dtype=torch.float64)
    return x, torch.sin(6 * x).sum(1, keepdim=True)


def _trajectory(model, opt, steps=STEPS):
    x, y = _data()
    losses = []
    for _ in range(steps):
        opt.zero_grad()
        loss = torch.mean((model(x) - y) ** 2)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    flat = torch.cat([p.detach().flatten() for p in model.parameters()])
    return torch.tensor(losses), flat


def _max_rel(a, b):
    return ((a - b).abs() / b.abs().clamp_min(1e-300)).max().item()


# (lr, a, b): the three regimes and a signGD-like corner.
ADAM_POINTS = [(1e-3, 1.0, 100.0), (1e-3, 10.0, 10.0), (1e-3, 100.0, 1.0),
               (1e-2, 50.0, 90.0)]


@pytest.mark.parametrize("lr,a,b", ADAM_POINTS)
def test_adam_follows_torch_adam(lr, a, b):
    beta1, beta2 = 1 - b * lr, 1 - a * lr
    model, ref_model = _mlp(0), _mlp(0)
    ours = _trajectory(model, optimizers.Adam(model.parameters(), lr, a=a, b=b))
    ref = _trajectory(ref_model, torch.optim.Adam(
        ref_model.parameters(), lr=lr, betas=(beta1, beta2), eps=1e-8,
        foreach=False))
    assert _max_rel(ours[0], ref[0]) < 1e-12
    assert _max_rel(ours[1], ref[1]) < 1e-12


@pytest.mark.parametrize("lr,a", [(1e-3, 10.0), (1e-2, 1.0), (1e-3, 1000.0)])
def test_rmsprop_follows_torch_rmsprop(lr, a):
    model, ref_model = _mlp(0), _mlp(0)
    ours = _trajectory(model, optimizers.RMSprop(model.parameters(), lr, a=a))
    ref = _trajectory(ref_model, torch.optim.RMSprop(
        ref_model.parameters(), lr=lr, alpha=1 - a * lr, eps=1e-8,
        foreach=False))
    assert _max_rel(ours[0], ref[0]) < 1e-12
    assert _max_rel(ours[1], ref[1]) < 1e-12


def test_signgd_follows_sign_of_gradient():
    model, ref_model = _mlp(0), _mlp(0)
    ours = _trajectory(model, optimizers.SignGD(model.parameters(), 1e-3))
    x, y = _data()
    for _ in range(STEPS):
        ref_model.zero_grad()
        torch.mean((ref_model(x) - y) ** 2).backward()
        with torch.no_grad():
            for p in ref_model.parameters():
                p -= 1e-3 * torch.sign(p.grad)
    flat = torch.cat([p.detach().flatten() for p in ref_model.parameters()])
    assert _max_rel(ours[1], flat) < 1e-12


def _first_step(opt_cls, grad, **kwargs):
    p = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    opt = opt_cls([p], **kwargs)
    p.grad = torch.full_like(p, grad)
    opt.step()
    return -p.item()


def test_rmsprop_first_step_puts_eps_outside_root():
    # alpha 0.99, grad 1e-3: v = 1e-8, so the step is 1e-3 / (1e-4 + 1e-8).
    moved = _first_step(optimizers.RMSprop, 1e-3, lr=1.0, alpha=0.99)
    assert moved == pytest.approx(1e-3 / (1e-4 + 1e-8), rel=1e-14)
    assert moved == pytest.approx(9.9990001, rel=1e-7)


def test_adam_first_step_is_lr_times_sign():
    # Bias correction makes the first step lr * g / (|g| + eps).
    moved = _first_step(optimizers.Adam, -2e-3, lr=1e-3, a=1.0, b=100.0)
    assert moved == pytest.approx(-1e-3 * 2e-3 / (2e-3 + 1e-8), rel=1e-14)


def test_from_betas_matches_coordinates():
    p = [torch.zeros(2, requires_grad=True)]
    opt = optimizers.Adam.from_betas(p, lr=1e-3, beta1=0.9, beta2=0.999)
    group = opt.param_groups[0]
    assert group["a"] == pytest.approx(1.0)
    assert group["b"] == pytest.approx(100.0)
    rms = optimizers.RMSprop.from_betas(p, lr=1e-2, alpha=0.99)
    assert rms.param_groups[0]["a"] == pytest.approx(1.0)


@pytest.mark.parametrize("kwargs,fragment", [
    (dict(lr=1e-3, a=2000.0, b=1.0), "a=2000 with lr=0.001 gives beta2=-1"),
    (dict(lr=1e-3, a=0.0, b=1.0), "a=0 with lr=0.001 gives beta2=1"),
    (dict(lr=0.1, a=1.0, b=20.0), "b=20 with lr=0.1 gives beta1=-1"),
])
def test_out_of_range_betas_raise(kwargs, fragment):
    p = [torch.zeros(2, requires_grad=True)]
    with pytest.raises(ValueError, match=fragment):
        optimizers.Adam(p, **kwargs)


def test_batched_update_freezes_dead_configs():
    params = [torch.ones(3, 4, dtype=torch.float64)]
    grads = [torch.full((3, 4), 0.5, dtype=torch.float64)]
    state = functional.init_state("adam", params)
    hp = functional.HParams(lr=torch.tensor([1e-3, 1e-3, 1e-3], dtype=torch.float64),
                            beta1=0.9, beta2=0.999)
    alive = torch.tensor([True, False, True])
    functional.update("adam", params, grads, state, hp, alive=alive)
    assert torch.all(params[0][1] == 1.0)
    assert torch.all(params[0][0] < 1.0)
