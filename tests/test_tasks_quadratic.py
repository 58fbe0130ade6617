"""Quadratic tasks against their closed forms."""

import numpy as np
import pytest
import torch

from tasks import get_task


def test_quadratic_matrix_is_gram():
    problem = get_task("quadratic", dim=6).build(seed=2)
    a = problem.data["A"].numpy()
    assert a.shape == (6, 6)
    assert problem.params["x"].dtype == torch.float64
    np.testing.assert_allclose(a, a.T, rtol=0, atol=0)
    assert np.linalg.eigvalsh(a).min() > 0


def test_quadratic_matches_closed_form():
    task = get_task("quadratic")
    problem = task.build(seed=5)
    a = problem.data["A"].numpy()
    x = problem.params["x"].numpy()
    grad, loss = torch.func.grad_and_value(task.loss)(problem.params, problem.data)
    np.testing.assert_allclose(loss.item(), 0.5 * x @ a @ x, rtol=1e-12)
    np.testing.assert_allclose(grad["x"].numpy(), a @ x, rtol=1e-12)


def test_quadratic_minimum_is_zero():
    task = get_task("quadratic")
    problem = task.build(seed=5)
    zero = {"x": torch.zeros(10, dtype=torch.float64)}
    assert task.loss(zero, problem.data).item() == 0.0


def test_quadratic_1d_matches_closed_form():
    task = get_task("quadratic_1d", x0=0.3)
    problem = task.build(seed=0)
    assert problem.params["x"].shape == (1,)
    assert problem.params["x"].dtype == torch.float64
    grad, loss = torch.func.grad_and_value(task.loss)(problem.params, problem.data)
    assert loss.item() == 0.5 * 0.3**2
    assert grad["x"].item() == 0.3


def test_quadratic_invalid_dim():
    with pytest.raises(ValueError, match="dim=0 is invalid"):
        get_task("quadratic", dim=0)
