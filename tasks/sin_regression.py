"""Fit sum_k sin(2 pi x_k) on [0, 1]^5 with a 5-100-100-1 ReLU network."""

import math
from dataclasses import dataclass

import torch

from tasks.base import Problem, Task, generator, to_device
from tasks.mlp import init_mlp, mlp_forward


@dataclass
class SinOptions:
    n_points: int = 2000
    dim: int = 5
    hidden: tuple[int, ...] = (100, 100)


class SinRegression(Task):
    """Full-batch square-loss regression of a sum of sines.

    Data: n_points inputs x ~ U[0, 1]^dim, target sum_k sin(2 pi x_k).
    Loss: mean over points of (u(x) - target)^2.
    """

    name = "sin_regression"
    Options = SinOptions

    def build(self, seed, device="cpu", dtype=None):
        dtype = dtype or self.default_dtype
        opts = self.options
        gen = generator(seed)
        x = torch.rand(opts.n_points, opts.dim, generator=gen,
                       dtype=torch.float64)
        y = torch.sin(2 * math.pi * x).sum(dim=1, keepdim=True)
        widths = (opts.dim, *opts.hidden, 1)
        params = init_mlp(widths, gen)
        return Problem(
            data=to_device({"x": x, "y": y}, device, dtype),
            params=to_device(params, device, dtype),
        )

    def loss(self, params, data):
        pred = mlp_forward(params, data["x"], "relu")
        return torch.mean((pred - data["y"]) ** 2)
