"""What every task provides: data, initial weights and a loss for one seed.

A task is built from its options (a dataclass, so that a spec's unknown option
is caught by name). For a seed it builds a Problem: the full-batch data and the
initial parameters of one config, drawn from a CPU generator seeded with that
seed and only then moved to the device, so that the same (task, options, seed)
gives the same numbers on every machine.

`loss(params, data)` is a pure function of a dict of parameter tensors: the
engine batches it over configs with ``torch.func.vmap`` and differentiates it
with ``torch.func.grad``, so it must not modify its inputs or draw random
numbers. The engine must pass the loss `batch(data, step)` at each step, not
`data`: the two are the same except in stochastic tasks, where `batch` selects
that step's minibatch.
"""

import dataclasses
from dataclasses import dataclass
from typing import ClassVar

import torch


@dataclass
class Problem:
    """A task's data and one config's initial parameters, on one device."""

    data: dict[str, torch.Tensor]
    params: dict[str, torch.Tensor]


class Task:
    """Base class of the registered tasks."""

    name: ClassVar[str] = ""
    # Tasks define their own dataclass of options; an empty one by default.
    Options: ClassVar[type] = dataclass(type("Options", (), {}))
    default_dtype: ClassVar[torch.dtype] = torch.float32
    # Steps between two calls of eval_metrics (0: the task has none).
    eval_every: ClassVar[int] = 0

    def __init__(self, **options):
        self.options = self.Options(**options)

    @classmethod
    def option_names(cls):
        return [f.name for f in dataclasses.fields(cls.Options)]

    def build(self, seed, device="cpu", dtype=None) -> Problem:
        raise NotImplementedError

    def loss(self, params, data) -> torch.Tensor:
        raise NotImplementedError

    def batch(self, data, step) -> dict[str, torch.Tensor]:
        """Return the data the loss sees at `step`, counted from 0.

        Full-batch tasks return `data` itself. A stochastic task returns its
        minibatch, which must be a pure function of (data, step) so that a
        config gives the same numbers alone or in a pack.
        """
        return data

    def eval_metrics(self, params, data) -> dict[str, torch.Tensor]:
        """Return extra scalar metrics (a test error, say) for one config."""
        return {}

    def check_data(self, data_root, download=False):
        """Raise FileNotFoundError naming missing files; no-op without data."""


def generator(seed):
    """Return a CPU generator seeded with `seed`, the source of all draws."""
    gen = torch.Generator(device="cpu")
    gen.manual_seed(int(seed))
    return gen


def to_device(tensors, device, dtype):
    """Move a dict of CPU tensors to `device`, casting floating ones to dtype."""
    return {
        k: t.to(device=device, dtype=dtype if t.is_floating_point() else t.dtype)
        for k, t in tensors.items()
    }
