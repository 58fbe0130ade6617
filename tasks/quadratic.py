"""Quadratic objectives with the minimum f = 0 at x = 0.

`quadratic`: f(x) = 1/2 x^T A x with A = U U^T, where U is a dim x dim matrix
of independent N(0, 1) entries, so A is symmetric positive semi-definite
(definite with probability one). `quadratic_1d`: f(x) = x^2 / 2. Both train the
vector x itself and default to float64.
"""

from dataclasses import dataclass

import torch

from tasks.base import Problem, Task, generator, to_device


@dataclass
class QuadraticOptions:
    dim: int = 10

    def __post_init__(self):
        if self.dim < 1:
            raise ValueError(f"dim={self.dim} is invalid: expected >= 1")


class Quadratic(Task):
    """f(x) = 1/2 x^T A x, A = U U^T with U_ij ~ N(0, 1), x0 ~ N(0, I).

    Data: {"A": [dim, dim]}. Params: {"x": [dim]}. U and then x0 are drawn
    from the seed, so a seed fixes both the matrix and the starting point.
    Reference solution: x* = 0, f(x*) = 0.
    """

    name = "quadratic"
    Options = QuadraticOptions
    default_dtype = torch.float64

    def build(self, seed, device="cpu", dtype=None):
        dtype = dtype or self.default_dtype
        dim = self.options.dim
        gen = generator(seed)
        u = torch.randn(dim, dim, generator=gen, dtype=torch.float64)
        x0 = torch.randn(dim, generator=gen, dtype=torch.float64)
        # Averaging with the transpose removes the rounding asymmetry of u @ u.T.
        gram = u @ u.T
        a = 0.5 * (gram + gram.T)  # [dim, dim]
        return Problem(
            data=to_device({"A": a}, device, dtype),
            params=to_device({"x": x0}, device, dtype),
        )

    def loss(self, params, data):
        x = params["x"]
        return 0.5 * (x @ data["A"] @ x)


@dataclass
class Quadratic1dOptions:
    x0: float = 1.0


class Quadratic1d(Task):
    """f(x) = x^2 / 2 from the starting point x0, the same for every seed.

    Data: {} (none). Params: {"x": [1]}. Reference solution: x* = 0.
    """

    name = "quadratic_1d"
    Options = Quadratic1dOptions
    default_dtype = torch.float64

    def build(self, seed, device="cpu", dtype=None):
        dtype = dtype or self.default_dtype
        x0 = torch.tensor([float(self.options.x0)], dtype=torch.float64)
        return Problem(data={}, params=to_device({"x": x0}, device, dtype))

    def loss(self, params, data):
        return 0.5 * torch.sum(params["x"] ** 2)
