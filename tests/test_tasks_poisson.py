"""Poisson tasks: exact solutions, the Laplacian, and the sampled points."""

import pytest
import torch

from tasks import get_task
from tasks.poisson import dgm_loss, laplacian, solution_error

SMALL = {"n_interior": 300, "n_boundary": 400, "n_test": 500}
NAMES = ["poisson_cube", "poisson_disk"]


def build(name, seed=0, **options):
    task = get_task(name, **{**SMALL, **options})
    return task, task.build(seed, dtype=torch.float64)


@pytest.mark.parametrize("name", NAMES)
def test_exact_solution_loss_zero(name):
    task, problem = build(name)
    assert dgm_loss(task.exact, problem.data).item() < 1e-10
    assert solution_error(task.exact, problem.data).item() == 0.0


@pytest.mark.parametrize("name", NAMES)
def test_default_sizes(name):
    task = get_task(name)
    problem = task.build(seed=0, dtype=torch.float64)
    assert problem.data["interior"].shape[0] == 2000
    assert problem.data["boundary"].shape[0] == 2000
    assert problem.data["test_x"].shape[0] == 10000
    assert task.eval_every == 10


def test_cube_widths():
    problem = get_task("poisson_cube").build(seed=0)
    shapes = [tuple(problem.params[f"w{i}"].shape) for i in range(3)]
    assert shapes == [(4, 200), (200, 200), (200, 1)]


def test_disk_widths():
    problem = get_task("poisson_disk").build(seed=0)
    shapes = [tuple(problem.params[f"w{i}"].shape) for i in range(5)]
    assert shapes == [(2, 10), (10, 10), (10, 10), (10, 10), (10, 1)]


@pytest.mark.parametrize("name", NAMES)
def test_laplacian_matches_autograd(name):
    task, problem = build(name, n_interior=20)
    x = problem.data["interior"].clone().requires_grad_()
    u = task.field(problem.params)(x)
    (grad,) = torch.autograd.grad(u.sum(), x, create_graph=True)
    expected = sum(
        torch.autograd.grad(grad[:, k].sum(), x, retain_graph=True)[0][:, k]
        for k in range(x.shape[1])
    )
    result = laplacian(task.field(problem.params), problem.data["interior"])
    torch.testing.assert_close(result, expected.detach(), rtol=1e-10, atol=1e-12)


def test_laplacian_closed_form():
    x = torch.rand(7, 3, dtype=torch.float64)

    def u_fn(points):
        return torch.sin(points).sum(dim=1) + points[:, 0] ** 2 * points[:, 1]

    expected = -torch.sin(x).sum(dim=1) + 2 * x[:, 1]
    torch.testing.assert_close(laplacian(u_fn, x), expected, rtol=1e-12, atol=0)


def test_cube_points_on_faces():
    _, problem = build("poisson_cube", n_boundary=8000)
    boundary = problem.data["boundary"]
    assert ((boundary >= 0) & (boundary <= 1)).all()
    on_face = (boundary == 0) | (boundary == 1)  # [n, 4]
    assert (on_face.sum(dim=1) == 1).all()
    # Each of the 8 faces gets close to 1/8 of the points (binomial sd ~30).
    faces = on_face.float().argmax(dim=1) * 2 + (boundary.max(dim=1).values == 1)
    counts = torch.bincount(faces, minlength=8)
    assert ((counts - 1000).abs() < 150).all(), counts
    interior = problem.data["interior"]
    assert ((interior > 0) & (interior < 1)).all()


def test_disk_points_uniform():
    _, problem = build("poisson_disk", n_interior=20000)
    radius = problem.data["boundary"].norm(dim=1)
    torch.testing.assert_close(radius, torch.ones_like(radius), rtol=0, atol=1e-14)
    squared = (problem.data["interior"] ** 2).sum(dim=1)
    assert (squared < 1).all()
    # Uniform in the disk: r^2 is uniform on [0, 1], mean 1/2, sd 0.29/sqrt(n).
    assert abs(squared.mean().item() - 0.5) < 0.01
    test_squared = (problem.data["test_x"] ** 2).sum(dim=1)
    assert (test_squared < 1).all()


def test_disk_exact_values():
    _, problem = build("poisson_disk")
    assert problem.data["g"].abs().max().item() < 1e-15
    assert (problem.data["f"] == 1).all()
    x = problem.data["test_x"]
    expected = (1 - x[:, 0] ** 2 - x[:, 1] ** 2) / 4
    torch.testing.assert_close(problem.data["test_u"], expected)


def test_test_error_of_network():
    task, problem = build("poisson_cube")
    u = task.field(problem.params)(problem.data["test_x"])
    expected = torch.mean((u - problem.data["test_u"]) ** 2)
    result = task.eval_metrics(problem.params, problem.data)["test_error"]
    torch.testing.assert_close(result, expected, rtol=1e-14, atol=0)


def test_invalid_point_count():
    with pytest.raises(ValueError, match="n_boundary=0 is invalid"):
        get_task("poisson_disk", n_boundary=0)
