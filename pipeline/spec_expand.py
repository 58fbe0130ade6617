"""Expansion of sweep spec grids into Configs, checking every point.

The configs of a grid are the product tasks x optimizers x lrs x points x
seeds, in that nesting order. The points of an optimizer come from the
coordinates it reads (optimizers.COORDINATES): Adam reads a and b, RMSprop
reads a, signGD reads neither.
"""

from itertools import product

from optimizers import COORDINATES
from optimizers.coords import ab_from_betas, beta_from_coord
from pipeline.config import Config, config_from_betas
from pipeline.spec_yaml import INVALID, join

# The coordinates that each point key gives values of.
_GIVES = {
    "a": ("a",),
    "b": ("b",),
    "pairs": ("a", "b"),
    "beta1": ("b",),
    "beta2": ("a",),
    "alpha": ("a",),
    "betas": ("a", "b"),
}
_ALTERNATIVES = {
    ("a",): "a, beta2 or alpha",
    ("b",): "b or beta1",
    ("a", "b"): "a and b, pairs, beta1 and beta2, or betas",
}
_BETA_OF = {"a": "beta2", "b": "beta1"}


def expand(reader, grids, run):
    """Return the configs of all grids without repeats, first occurrence first.

    `run` contains the Config fields common to all configs: steps, late_window
    and dtype (None for each task's default dtype).
    """
    configs = {}
    reported = set()  # (Coord, lr) already reported out of range
    for grid in grids:
        for config in _grid_configs(reader, grid, run, reported):
            configs.setdefault(config, None)
    return list(configs)


def _grid_configs(reader, grid, run, reported):
    entries = grid.entries
    missing = [key for key in ("task", "optimizer", "lr") if key not in entries]
    for key in missing:
        where = " to this grid or to the top level" if grid.field else ""
        reader.add(
            grid.node,
            join(grid.field, key),
            f"required key is missing; add {key}{where}",
        )
    if missing or any(entry.value is INVALID for entry in entries.values()):
        return []

    optimizers = entries["optimizer"].value
    _check_unread(reader, grid, optimizers)
    points = {opt: _points(reader, grid, opt) for opt in optimizers}
    configs = []
    tasks, lrs = entries["task"].value, entries["lr"].value
    for task, opt, lr in product(tasks, optimizers, lrs):
        for point in points[opt]:
            ab = _point_ab(reader, (task, opt, lr, point), reported)
            if ab is INVALID:
                continue
            for seed in entries["seeds"].value:
                fields = dict(run, seed=seed, eps=entries["eps"].value)
                configs.append(_config(task, opt, lr, point, ab, fields))
    return configs


def _check_unread(reader, grid, optimizers):
    """Record coordinates written in this grid that none of its optimizers reads."""
    if not optimizers:
        return
    read = {c for opt in optimizers for c in COORDINATES[opt]}
    names = " and ".join(optimizers)
    verb = "has" if len(optimizers) == 1 else "have"
    for key, entry in grid.explicit.items():
        unread = [c for c in _GIVES.get(key, ()) if c not in read]
        if not unread:
            continue
        if key in ("pairs", "betas") and "a" in read:
            fix = f"give {_ALTERNATIVES[('a',)]} instead of {key}"
        else:
            fix = f"remove {key}"
        reader.add(
            entry.node, entry.field, f"{names} {verb} no {' or '.join(unread)}; {fix}"
        )


def _points(reader, grid, opt):
    """Return the (a side, b side) Coord pairs of `opt` in `grid`, without repeats.

    The a side is an a or a beta2, the b side a b or a beta1, and None for a
    coordinate `opt` does not read. A product form puts a in the outer loop.
    """
    reads = COORDINATES[opt]
    if not reads:
        return [(None, None)]
    entries = grid.entries
    if "pairs" in entries:
        points = list(entries["pairs"].value)
    elif "betas" in entries:
        points = [(beta2, beta1) for beta1, beta2 in entries["betas"].value]
    else:
        a_side = next(
            (entries[k] for k in ("a", "beta2", "alpha") if k in entries), None
        )
        b_side = next((entries[k] for k in ("b", "beta1") if k in entries), None)
        sides = {"a": a_side, "b": b_side}
        missing = tuple(c for c in reads if sides[c] is None)
        if missing:
            _add_missing(reader, grid, opt, missing)
            return []
        points = list(product(a_side.value, b_side.value if b_side else [None]))
    if "b" not in reads:
        points = [(a, None) for a, _ in points]
    unique = {}
    for point in points:
        key = tuple(None if c is None else (c.name, c.value) for c in point)
        unique.setdefault(key, point)
    return list(unique.values())


def _add_missing(reader, grid, opt, missing):
    if "optimizer" in grid.explicit:
        node, field = grid.explicit["optimizer"].node, grid.explicit["optimizer"].field
    else:
        node, field = grid.node, join(grid.field, "optimizer")
    needs = " and ".join(missing)
    reader.add(node, field, f"{opt} needs {needs}; give {_ALTERNATIVES[missing]}")


def _coordinate_at(coord, lr):
    """Return the a or b that `coord` gives at lr.

    Raises:
        ValueError: from optimizers.coords, naming the beta outside [0, 1).
    """
    if coord.name == "beta2":
        value, name = ab_from_betas(lr, 0.0, coord.value)[0], "a"
    elif coord.name == "beta1":
        value, name = ab_from_betas(lr, coord.value, 0.0)[1], "b"
    else:
        value, name = coord.value, coord.name
    beta_from_coord(lr, value, _BETA_OF[name], name)
    return value


def _point_ab(reader, point_at, reported):
    """Return (a, b) of a point at its lr, or INVALID if a beta is out of range.

    Each out-of-range value is recorded once per lr, naming the first point
    where it occurs and the line of the field that gave it.
    """
    task, opt, lr, point = point_at
    ab = []
    for coord in point:
        if coord is None:
            ab.append(None)
            continue
        try:
            ab.append(_coordinate_at(coord, lr))
        except ValueError as exc:
            ab.append(INVALID)
            if (coord, lr) not in reported:
                reported.add((coord, lr))
                label = _label(task, opt, lr, point)
                reader.add(coord.line, coord.field, f"{label}: {exc}")
    return INVALID if any(v is INVALID for v in ab) else tuple(ab)


def _label(task, opt, lr, point):
    parts = [f"task={task.name}", f"optimizer={opt}", f"lr={lr:g}"]
    parts += [f"{c.name}={c.value:g}" for c in point if c is not None]
    return f"point ({', '.join(parts)})"


def _config(task, opt, lr, point, ab, fields):
    """Build one Config; a point given as betas goes through config_from_betas.

    `fields` contains seed, steps, late_window, eps and dtype (None for the task's).
    """
    dtype = fields["dtype"] or task.default_dtype
    kwargs = dict(fields, dtype=dtype, task_options=task.options)
    if any(c is not None and c.name.startswith("beta") for c in point):
        beta2, beta1 = (None if c is None else c.value for c in point)
        return config_from_betas(task.name, opt, lr, beta1, beta2, **kwargs)
    a, b = ab
    return Config(task=task.name, optimizer=opt, lr=lr, a=a, b=b, **kwargs)
