"""Train a pack of configs that share a task, seed and optimizer.

Two ways, with the same numbers up to rounding:

- stacked: the K configs' parameters carry a leading config axis, the loss
  and its gradient are batched with ``torch.func.vmap``, and the optimizer
  takes lr, betas and eps as [K] tensors, so the pack steps as one
  computation (what a GPU needs);
- sequential: one config at a time (width 1), without vmap and with float
  hyperparameters, reusing the pack's data (what a CPU core prefers for
  networks whose matmuls already fill it).

A config whose loss turns NaN or inf is frozen at that step and recorded as
diverged there; it never changes another config's numbers because every
operation acts on each config's slice alone.
"""

import time
from dataclasses import dataclass, field

import numpy as np
import torch
from torch.func import grad_and_value, vmap

from optimizers import functional

# Steps between two host checks of "has every config diverged?": a check
# synchronises with the device, so it is rare; freezing itself needs none.
CHECK_EVERY = 100


@dataclass
class ConfigResult:
    """One config's curve: loss at steps 0 .. len(loss) - 1."""

    loss: np.ndarray
    diverged_at: int | None
    seconds: float
    arrays: dict[str, np.ndarray] = field(default_factory=dict)


def hparams_for(configs, device, dtype):
    """Stack the configs' lr, betas and eps into [K] tensors."""
    beta1, beta2 = [], []
    for config in configs:
        b1, b2 = config.betas
        beta1.append(b1 or 0.0)
        beta2.append(b2 or 0.0)

    def stack(values):
        return torch.tensor(values, device=device, dtype=dtype)

    return functional.HParams(
        lr=stack([c.lr for c in configs]),
        beta1=stack(beta1),
        beta2=stack(beta2),
        eps=stack([c.eps for c in configs]),
    )


def train_pack(task, problem, configs, width, record=()):
    """Train `configs` in chunks of `width` configs; return one result each."""
    results = []
    for start in range(0, len(configs), width):
        chunk = configs[start : start + width]
        if len(chunk) == 1 and width == 1:
            results.append(train_single(task, problem, chunk[0], record))
        else:
            results.extend(train_stacked(task, problem, chunk, record))
    return results


def _state_norms(params, state, axis_dims):
    """Return ||x||, ||m|| and ||sqrt v|| per config (all params as one vector)."""

    def norm(tensors, fn=None):
        if not tensors:
            return None
        total = 0
        for t in tensors:
            t = fn(t) if fn else t
            total = total + t.pow(2).sum(dim=axis_dims(t))
        return total.sqrt()

    return (norm(params), norm(state.m), norm(state.v, torch.sqrt))


def _batch(task, data, step):
    batch = getattr(task, "batch", None)
    return batch(data, step) if batch else data


class _Recorder:
    """Per-step values kept on the device until the end of training."""

    def __init__(self, steps, width, like, record):
        self.loss = like.new_full((steps, width), float("nan"))
        self.state = None
        if "state" in record:
            self.state = like.new_full((3, steps, width), float("nan"))
        self.metrics = {}
        self.metric_steps = []

    def add_metrics(self, step, values):
        self.metric_steps.append(step)
        for name, value in values.items():
            self.metrics.setdefault(name, []).append(value.detach())

    def result(self, k, end, diverged_at, seconds):
        loss = self.loss[:end, k].double().cpu().numpy()
        arrays = {}
        if self.state is not None:
            names = ("x_norm", "m_norm", "sqrt_v_norm")
            for i, name in enumerate(names):
                arrays[name] = self.state[i, :end, k].double().cpu().numpy()
        kept = [i for i, s in enumerate(self.metric_steps) if s < end]
        for name, values in self.metrics.items():
            series = torch.stack([values[i].reshape(-1)[k] for i in kept])
            arrays[name] = series.double().cpu().numpy()
            arrays[f"{name}_step"] = np.asarray(
                [self.metric_steps[i] for i in kept], dtype=np.int64
            )
        return ConfigResult(loss, diverged_at, seconds, arrays)


def _first_nonfinite(column):
    bad = torch.nonzero(~torch.isfinite(column))
    return int(bad[0]) if len(bad) else None


def train_stacked(task, problem, configs, record=()):
    """Train K configs as one computation with a leading config axis."""
    started = time.perf_counter()
    width, steps, kind = len(configs), configs[0].steps, configs[0].optimizer
    like = next(iter(problem.params.values()))
    params = {
        name: p.unsqueeze(0).expand(width, *p.shape).clone()
        for name, p in problem.params.items()
    }
    hp = hparams_for(configs, like.device, like.dtype)
    state = functional.init_state(kind, list(params.values()))
    grad_fn = vmap(grad_and_value(task.loss), in_dims=(0, None))
    eval_fn = vmap(task.eval_metrics, in_dims=(0, None))
    alive = torch.ones(width, dtype=torch.bool, device=like.device)
    rec = _Recorder(steps, width, like, record)

    end = steps
    for t in range(steps):
        data = _batch(task, problem.data, t)
        if task.eval_every and t % task.eval_every == 0:
            rec.add_metrics(t, eval_fn(params, data))
        grads, loss = grad_fn(params, data)
        rec.loss[t] = loss.detach()
        alive &= torch.isfinite(loss)
        if rec.state is not None:
            for i, n in enumerate(
                _state_norms(
                    list(params.values()), state, lambda x: tuple(range(1, x.dim()))
                )
            ):
                if n is not None:
                    rec.state[i, t] = n
        functional.update(
            kind, list(params.values()), list(grads.values()), state, hp, alive=alive
        )
        if (t + 1) % CHECK_EVERY == 0 and not bool(alive.any()):
            end = t + 1
            break

    seconds = (time.perf_counter() - started) / width
    results = []
    for k in range(width):
        diverged_at = _first_nonfinite(rec.loss[:end, k])
        stop = end if diverged_at is None else diverged_at + 1
        results.append(rec.result(k, stop, diverged_at, seconds))
    return results


def train_single(task, problem, config, record=()):
    """Train one config with float hyperparameters and no vmap."""
    started = time.perf_counter()
    steps = config.steps
    params = {name: p.clone() for name, p in problem.params.items()}
    beta1, beta2 = config.betas
    hp = functional.HParams(
        lr=config.lr, beta1=beta1 or 0.0, beta2=beta2 or 0.0, eps=config.eps
    )
    state = functional.init_state(config.optimizer, list(params.values()))
    grad_fn = grad_and_value(task.loss)
    like = next(iter(params.values()))
    rec = _Recorder(steps, 1, like, record)

    end, diverged_at = steps, None
    for t in range(steps):
        data = _batch(task, problem.data, t)
        if task.eval_every and t % task.eval_every == 0:
            rec.add_metrics(t, task.eval_metrics(params, data))
        grads, loss = grad_fn(params, data)
        rec.loss[t, 0] = loss.detach()
        if rec.state is not None:
            for i, n in enumerate(
                _state_norms(
                    list(params.values()), state, lambda x: tuple(range(x.dim()))
                )
            ):
                if n is not None:
                    rec.state[i, t, 0] = n
        functional.update(
            config.optimizer, list(params.values()), list(grads.values()), state, hp
        )
        if (t + 1) % CHECK_EVERY == 0 or t + 1 == steps:
            diverged_at = _first_nonfinite(rec.loss[: t + 1, 0])
            if diverged_at is not None:
                end = diverged_at + 1
                break

    seconds = time.perf_counter() - started
    return rec.result(0, end, diverged_at, seconds)
