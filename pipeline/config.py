"""The expanded form of a sweep spec: one Config per training run."""

from dataclasses import dataclass, field

from optimizers.coords import ab_from_betas, betas_from_ab, check_lr


@dataclass(frozen=True)
class Config:
    """One training run: (task, optimizer, lr, a, b, seed) and its settings.

    For Adam beta1 = 1 - b * lr and beta2 = 1 - a * lr; RMSprop uses only a
    (alpha = beta2, b and beta1 are None); signGD uses neither.
    `task_options` is a tuple of (name, value) pairs so that configs hash.
    """

    task: str
    optimizer: str
    lr: float
    a: float | None
    b: float | None
    seed: int
    steps: int
    late_window: int
    eps: float = 1e-8
    dtype: str = "float32"
    task_options: tuple = ()

    @property
    def betas(self):
        """(beta1, beta2), each None where the optimizer has no such moment."""
        if self.optimizer == "adam":
            return betas_from_ab(self.lr, self.a, self.b)
        if self.optimizer == "rmsprop":
            check_lr(self.lr)
            return None, 1.0 - self.a * self.lr
        return None, None

    def pack_key(self):
        """Configs with equal keys share data and initial weights."""
        return (
            self.task,
            self.task_options,
            self.seed,
            self.optimizer,
            self.dtype,
            self.steps,
        )

    def label(self):
        return config_label(self.optimizer, self.lr, self.a, self.b, self.seed)


def config_label(optimizer, lr, a, b, seed):
    """Return the label of a config's run, such as `adam lr=0.001 a=1 b=100 seed=0`."""
    parts = [optimizer, f"lr={lr:g}"]
    if a is not None:
        parts.append(f"a={a:g}")
    if b is not None:
        parts.append(f"b={b:g}")
    parts.append(f"seed={seed}")
    return " ".join(parts)


def config_from_betas(task, optimizer, lr, beta1, beta2, **kwargs):
    """Build a Config from fixed momentum factors instead of (a, b)."""
    if optimizer == "adam":
        a, b = ab_from_betas(lr, beta1, beta2)
    elif optimizer == "rmsprop":
        a, b = ab_from_betas(lr, 0.0, beta2)[0], None
    else:
        a, b = None, None
    return Config(task=task, optimizer=optimizer, lr=lr, a=a, b=b, **kwargs)


@dataclass
class Sweep:
    """A validated spec: its configs and how to run them."""

    name: str
    path: str
    spec_hash: str
    configs: list[Config]
    resources: dict = field(default_factory=lambda: {"cpu": 1, "gpu": 0})
    pack_size: int | str = "auto"
    pack_mode: str = "auto"
    device: str = "auto"
    figures: tuple = ("regime_map",)
    data_root: str | None = None
    record: tuple = ()
