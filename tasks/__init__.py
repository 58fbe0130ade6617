"""Registry of tasks by the name a sweep spec uses."""

from tasks.base import Problem, Task
from tasks.sin_regression import SinRegression

TASKS = {cls.name: cls for cls in (SinRegression,)}


def get_task(name, **options):
    """Build the registered task `name` with `options`.

    Raises:
        KeyError: if no task has that name; the message lists the valid ones.
    """
    if name not in TASKS:
        valid = ", ".join(sorted(TASKS))
        raise KeyError(f"unknown task {name!r}: valid tasks are {valid}")
    return TASKS[name](**options)


__all__ = ["TASKS", "Problem", "Task", "get_task"]
