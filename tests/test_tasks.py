"""Properties every registered task must have, checked on small options.

Each case builds the task in float64 and checks that a build is a pure function
of (options, seed), that the loss batched over configs with torch.func.vmap
equals the loss of each config alone, and that Adam lowers the loss.
"""

import pytest
import torch
from test_data import use_cifar10_md5s, write_cifar10, write_fashion_mnist

from tasks import TASKS, get_task
from tasks.datasets import DATA_ROOT_ENV

# name -> (small options, which parts of a Problem depend on the seed)
CASES = {
    "quadratic": ({}, ("data", "params")),
    "quadratic_1d": ({"x0": -2.0}, ()),
    "sin_regression": ({"n_points": 50, "hidden": (8, 8)}, ("data", "params")),
    "digits_mlp": ({"hidden": (16, 16)}, ("params",)),
    "cifar2_mlp": ({"per_class": 6, "hidden": (8, 8)}, ("data", "params")),
    "fashion_mnist_mlp": ({"per_class": 4, "hidden": (8,) * 6}, ("data", "params")),
    "poisson_cube": (
        {"n_interior": 30, "n_boundary": 30, "n_test": 40, "hidden": (16, 16)},
        ("data", "params"),
    ),
    "poisson_disk": (
        {"n_interior": 30, "n_boundary": 30, "n_test": 40},
        ("data", "params"),
    ),
    "resnet18_half_cifar10": (
        {"per_class": 3, "batch_size": 10, "width": 4},
        ("data", "params"),
    ),
}

N_CONFIGS = 3
RTOL = 1e-6


@pytest.fixture(scope="session")
def fake_data_root(tmp_path_factory):
    """A data root with small CIFAR-10 and Fashion-MNIST sets in real formats."""
    root = tmp_path_factory.mktemp("data")
    write_cifar10(root, per_class_per_batch=2)
    write_fashion_mnist(root, per_class=6)
    return root


@pytest.fixture(autouse=True)
def use_fake_data(fake_data_root, monkeypatch):
    monkeypatch.setenv(DATA_ROOT_ENV, str(fake_data_root))
    use_cifar10_md5s(monkeypatch, fake_data_root / "cifar-10-batches-py")


def build(name, seed, options=None):
    opts, _ = CASES[name]
    task = get_task(name, **(opts if options is None else options))
    return task, task.build(seed, device="cpu", dtype=torch.float64)


def stacked_params(name, seeds):
    """Stack the initial params of one build per seed along a config axis."""
    problems = [build(name, seed)[1] for seed in seeds]
    return {
        key: torch.stack([p.params[key] for p in problems])
        for key in problems[0].params
    }


def assert_dicts_equal(left, right):
    assert left.keys() == right.keys()
    for key in left:
        assert torch.equal(left[key], right[key]), key


def dicts_equal(left, right):
    return left.keys() == right.keys() and all(
        torch.equal(left[key], right[key]) for key in left
    )


def test_cases_cover_registry():
    assert set(TASKS) <= set(CASES)


@pytest.mark.parametrize("name", sorted(CASES))
def test_check_data_passes(name):
    task = get_task(name, **CASES[name][0])
    task.check_data(None, download=False)


@pytest.mark.parametrize("name", sorted(CASES))
def test_build_repeatable(name):
    _, first = build(name, seed=3)
    _, second = build(name, seed=3)
    assert_dicts_equal(first.data, second.data)
    assert_dicts_equal(first.params, second.params)


@pytest.mark.parametrize("name", sorted(CASES))
def test_seed_changes_draws(name):
    _, seeded = CASES[name]
    _, first = build(name, seed=3)
    _, second = build(name, seed=4)
    assert dicts_equal(first.data, second.data) == ("data" not in seeded)
    assert dicts_equal(first.params, second.params) == ("params" not in seeded)


@pytest.mark.parametrize("name", sorted(CASES))
def test_vmap_loss_matches_single(name):
    task, problem = build(name, seed=0)
    data = task.batch(problem.data, step=0)
    params = stacked_params(name, seeds=range(N_CONFIGS))
    grad_and_value = torch.func.grad_and_value(task.loss)
    grads, losses = torch.func.vmap(grad_and_value, in_dims=(0, None))(params, data)
    assert losses.shape == (N_CONFIGS,)
    assert torch.isfinite(losses).all()
    for i in range(N_CONFIGS):
        single = {key: value[i] for key, value in params.items()}
        grad, loss = grad_and_value(single, data)
        torch.testing.assert_close(losses[i], loss, rtol=RTOL, atol=0)
        for key in grad:
            assert torch.isfinite(grads[key][i]).all(), key
            torch.testing.assert_close(grads[key][i], grad[key], rtol=RTOL, atol=1e-12)


@pytest.mark.parametrize("name", [n for n in sorted(CASES) if TASKS[n].eval_every])
def test_vmap_eval_matches_single(name):
    task, problem = build(name, seed=0)
    params = stacked_params(name, seeds=range(N_CONFIGS))
    metrics = torch.func.vmap(task.eval_metrics, in_dims=(0, None))(
        params, problem.data
    )
    assert metrics
    for i in range(N_CONFIGS):
        single = {key: value[i] for key, value in params.items()}
        expected = task.eval_metrics(single, problem.data)
        assert metrics.keys() == expected.keys()
        for key in expected:
            assert expected[key].shape == ()
            torch.testing.assert_close(
                metrics[key][i], expected[key], rtol=RTOL, atol=1e-12
            )


@pytest.mark.parametrize("name", sorted(CASES))
def test_adam_decreases_loss(name):
    task, problem = build(name, seed=1)
    params = {k: v.clone().requires_grad_() for k, v in problem.params.items()}
    optimizer = torch.optim.Adam(params.values(), lr=1e-3)
    grad_and_value = torch.func.grad_and_value(task.loss)
    losses = []
    for step in range(5):
        data = task.batch(problem.data, step)
        grads, loss = grad_and_value({k: v.detach() for k, v in params.items()}, data)
        losses.append(loss.item())
        for key, value in params.items():
            value.grad = grads[key]
        optimizer.step()
    final = task.loss(
        {k: v.detach() for k, v in params.items()}, task.batch(problem.data, 0)
    )
    assert final.item() < losses[0]
