"""Fully connected networks as dicts of tensors, for tasks' pure losses."""

import math

import torch
import torch.nn.functional as F

ACTIVATIONS = {"relu": F.relu, "tanh": torch.tanh, "gelu": F.gelu}


def init_mlp(widths, gen, dtype=torch.float32):
    """Draw an MLP's weights as ``torch.nn.Linear`` does by default.

    Weights and biases of layer i are uniform on +-1/sqrt(fan_in), drawn from
    `gen` on the CPU. Returns {"w0": [in, out], "b0": [out], ...}.
    """
    params = {}
    for i, (fan_in, fan_out) in enumerate(zip(widths[:-1], widths[1:])):
        bound = 1.0 / math.sqrt(fan_in)
        w = torch.rand(fan_in, fan_out, generator=gen, dtype=torch.float64)
        b = torch.rand(fan_out, generator=gen, dtype=torch.float64)
        params[f"w{i}"] = ((2 * w - 1) * bound).to(dtype)
        params[f"b{i}"] = ((2 * b - 1) * bound).to(dtype)
    return params


def mlp_forward(params, x, activation="relu"):
    """Apply the MLP in `params` to inputs x of shape [N, in]."""
    act = ACTIVATIONS[activation]
    depth = len(params) // 2
    h = x
    for i in range(depth):
        h = h @ params[f"w{i}"] + params[f"b{i}"]
        if i < depth - 1:
            h = act(h)
    return h
