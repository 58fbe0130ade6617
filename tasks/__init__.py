"""Registry of tasks by the name a sweep spec uses."""

from tasks.base import Problem, Task
from tasks.classifiers import Cifar2MLP, DigitsMLP, FashionMnistMLP
from tasks.poisson import PoissonCube, PoissonDisk
from tasks.quadratic import Quadratic, Quadratic1d
from tasks.resnet import Resnet18HalfCifar10
from tasks.sin_regression import SinRegression

TASKS = {
    cls.name: cls
    for cls in (
        SinRegression,
        Quadratic,
        Quadratic1d,
        DigitsMLP,
        Cifar2MLP,
        FashionMnistMLP,
        PoissonCube,
        PoissonDisk,
        Resnet18HalfCifar10,
    )
}


def get_task(name, **options):
    """Build the registered task `name` with `options`.

    Raises:
        KeyError: if no task has that name; the message lists the valid ones.
    """
    if name not in TASKS:
        valid = ", ".join(sorted(TASKS))
        raise KeyError(f"unknown task {name!r}: valid tasks are {valid}")
    return TASKS[name](**options)


def task_for(config, data_root=None):
    """Build a config's task, passing `data_root` to tasks that read data.

    A `data_root` option written in the spec wins over the sweep's data_root.
    """
    options = dict(config.task_options)
    cls = TASKS.get(config.task)
    if data_root and cls and "data_root" in cls.option_names():
        options.setdefault("data_root", data_root)
    return get_task(config.task, **options)


__all__ = ["TASKS", "Problem", "Task", "get_task", "task_for"]
