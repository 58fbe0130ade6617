"""Load a YAML sweep spec, validate all of it and expand it into configs.

A spec is a mapping with these keys (the grid keys may also appear in each
entry of `grids`):

    name: quickstart          # required string: the MLflow experiment name
    task: sin_regression      # grid key; a task name, {name: ..., <options>}
                              # or a list of these. Options are checked against
                              # the task's Options dataclass and typed from it
    optimizer: adam           # grid key; adam, rmsprop, signgd, or a list
    lr: 1.0e-3                # grid key; a number > 0 or a list of them
    a: {logspace: [0.1, 100, 5]}   # grid key; beta2 = 1 - a * lr
    b: {logspace: [0.1, 100, 5]}   # grid key; beta1 = 1 - b * lr
    seeds: [0]                # grid key; an int >= 0 or a list; default [0]
    eps: 1.0e-8               # grid key; a number >= 0; default 1e-8
    steps: 3000               # required integer > 0
    late_window: 1000         # required integer > 0 and <= steps
    dtype: float32            # float32 or float64; default: each task's own
    device: auto              # auto, cpu or cuda; default auto
    resources: {cpu: 1, gpu: 0}    # per Ray trial, numbers >= 0; the default
    pack: {size: auto, mode: auto} # size: auto or an integer > 0;
                                   # mode: auto, stacked or sequential
    smoke: {steps: 20, late_window: 10}  # the run length of smoke=True;
                              # defaults 20 and min(late_window, steps // 2)
    figures: [regime_map]     # from regime_map, curves; default [regime_map]
    data_root: null           # a path string or null; default null
    record: []                # from state; default []
    grids: [...]              # optional list of mappings of grid keys

Points (a, b) are given in exactly one of these ways, all grid keys:

- `a` and `b`: each a number, a list of numbers, {logspace: [lo, hi, n]}
  (lo, hi > 0) or {linspace: [lo, hi, n]}; the points are their product,
  a in the outer loop;
- `pairs: [[a, b], ...]`: the points as listed;
- `beta1` and `beta2` (or `alpha`, RMSprop's name for beta2): the same forms
  as a and b, their product, converted to (a, b) with each config's lr;
- `betas: [[beta1, beta2], ...]`: the points as listed, converted likewise.

Adam reads a and b, RMSprop only a (its configs have b None) and signGD
neither. A coordinate written in a grid that none of the grid's optimizers
reads is an error (rmsprop alone with b, signgd alone with a), while one
inherited from the top level is ignored. A grid that sets any point key
inherits none of the top level's point keys.

The configs are the union over `grids` (or the top level alone when there is
no `grids`) of product(tasks, optimizers, lrs, points, seeds), in that
nesting order, with repeats removed keeping the first. Every point is
checked at every lr: a beta outside [0, 1) is an error.

Plain scalars are read by the rules of pipeline.spec_yaml, so `1e-3` is a
number, a quoted "1e-3" is a string and never a number, and `off`, `no`,
`yes`, `on` must be quoted to be strings. Every problem in the file (a wrong
type, an unknown key, a key given twice, a missing key, a value out of range)
is collected and raised at once as a SpecError whose lines read
`FILE:LINE: FIELD: what is wrong; how to fix it`.
"""

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import yaml

from pipeline.config import Sweep
from pipeline.spec_expand import expand
from pipeline.spec_grid import GRID_KEYS, Entry, Grid, inherit, read_grid_keys
from pipeline.spec_reader import NodeReader
from pipeline.spec_yaml import INVALID, SpecError, describe, join, resolve, suggest

__all__ = ["SpecError", "load_spec"]

SETTING_KEYS = (
    "name",
    "steps",
    "late_window",
    "dtype",
    "device",
    "resources",
    "pack",
    "smoke",
    "figures",
    "data_root",
    "record",
)
TOP_KEYS = SETTING_KEYS + GRID_KEYS + ("grids",)
DTYPES = ("float32", "float64")
DEVICES = ("auto", "cpu", "cuda")
PACK_MODES = ("auto", "stacked", "sequential")
FIGURES = ("regime_map", "curves")
RECORDS = ("state",)
SMOKE_STEPS = 20


@dataclass
class Settings:
    """The keys of a spec that are not grid keys, with defaults filled in."""

    name: str
    steps: int
    late_window: int
    smoke_steps: int
    smoke_late_window: int
    dtype: str | None
    device: str
    resources: dict
    pack_size: int | str
    pack_mode: str
    figures: tuple
    data_root: str | None
    record: tuple


def load_spec(path, *, smoke=False):
    """Read the sweep spec at `path` and return its validated Sweep.

    With smoke=True every config takes the smoke steps and late_window.
    Sweep.spec_hash is the sha256 of the file's bytes.

    Raises:
        FileNotFoundError: if no file is at `path`.
        SpecError: listing every problem in the spec, one per line.
    """
    path = os.fspath(path)
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        raise FileNotFoundError(f"sweep spec not found: {path}") from None

    reader = NodeReader(path)
    root = reader.compose(data)
    values = reader.mapping(root, "", TOP_KEYS)
    settings = _read_settings(reader, root, values)
    grids = _read_grids(reader, root, values)
    steps, late_window = settings.steps, settings.late_window
    if smoke:
        steps, late_window = settings.smoke_steps, settings.smoke_late_window
    run = {"steps": steps, "late_window": late_window, "dtype": settings.dtype}
    configs = expand(reader, grids, run)
    reader.raise_if_any()

    return Sweep(
        name=settings.name,
        path=path,
        spec_hash=hashlib.sha256(data).hexdigest(),
        configs=configs,
        resources=settings.resources,
        pack_size=settings.pack_size,
        pack_mode=settings.pack_mode,
        device=settings.device,
        figures=settings.figures,
        data_root=settings.data_root,
        record=settings.record,
    )


def _optional(reader, values, key, read, default):
    """Read `key` with `read(node, field)`, or return `default` if absent or invalid."""
    if key not in values:
        return default
    value = read(values[key], key)
    return default if value is INVALID else value


def _read_settings(reader, root, values):
    name = reader.require(root, values, "name", "", reader.string)
    if name == "":
        fix = "give the MLflow experiment a name"
        reader.add(values["name"], "name", f"the name is empty; {fix}")
    steps, late_window = _read_run_length(reader, root, values)
    pack_size, pack_mode = _read_pack(reader, values)
    smoke_steps, smoke_late_window = _read_smoke(reader, values, late_window)

    def read(key, valid, noun, default):
        choose = _chooser(reader, valid, noun)
        return _optional(reader, values, key, choose, default)

    def read_tuple(key, valid, noun, default):
        choose = _chooser(reader, valid, noun, many=True)
        return tuple(_optional(reader, values, key, choose, default))

    def read_path(node, field):
        return None if resolve(node)[0] == "null" else reader.string(node, field)

    return Settings(
        name=name,
        steps=steps,
        late_window=late_window,
        smoke_steps=smoke_steps,
        smoke_late_window=smoke_late_window,
        dtype=read("dtype", DTYPES, "dtype", None),
        device=read("device", DEVICES, "device", "auto"),
        resources=_read_resources(reader, values),
        pack_size=pack_size,
        pack_mode=pack_mode,
        figures=read_tuple("figures", FIGURES, "figure", ("regime_map",)),
        data_root=_optional(reader, values, "data_root", read_path, None),
        record=read_tuple("record", RECORDS, "record", ()),
    )


def _read_run_length(reader, root, values):
    """Return (steps, late_window), each 1 where it could not be read."""

    def positive(node, field):
        return reader.integer(node, field, minimum=1)

    steps = reader.require(root, values, "steps", "", positive)
    late_window = reader.require(root, values, "late_window", "", positive)
    if steps is INVALID or late_window is INVALID:
        return (1 if steps is INVALID else steps), 1
    if late_window > steps:
        fix = f"choose late_window <= {steps}"
        msg = f"late_window={late_window} is larger than steps={steps}; {fix}"
        reader.add(values["late_window"], "late_window", msg)
    return steps, late_window


def _chooser(reader, valid, noun, many=False):
    if many:
        return lambda node, field: reader.choices(node, field, valid, noun)
    return lambda node, field: reader.choice(node, field, valid, noun)


def _read_resources(reader, values):
    resources = {"cpu": 1, "gpu": 0}
    if "resources" not in values:
        return resources
    nodes = reader.mapping(values["resources"], "resources", tuple(resources))
    if nodes is INVALID:
        return resources
    for key, node in nodes.items():
        value = reader.number(node, join("resources", key), minimum=0)
        if value is not INVALID:
            resources[key] = value
    return resources


def _read_pack(reader, values):
    size, mode = "auto", "auto"
    if "pack" not in values:
        return size, mode
    nodes = reader.mapping(values["pack"], "pack", ("size", "mode"))
    if nodes is INVALID:
        return size, mode
    if "size" in nodes:
        node = nodes["size"]
        kind, value = resolve(node)
        if kind == "int":
            value = reader.integer(node, "pack.size", minimum=1)
            size = "auto" if value is INVALID else value
        elif value != "auto" or kind not in ("str", "quoted"):
            fix = "write auto or a number of configs such as 8"
            msg = f"expected auto or an integer > 0, got {describe(node)}; {fix}"
            reader.add(node, "pack.size", msg)
    if "mode" in nodes:
        value = reader.choice(nodes["mode"], "pack.mode", PACK_MODES, "pack mode")
        mode = "auto" if value is INVALID else value
    return size, mode


def _read_smoke(reader, values, late_window):
    """Return (steps, late_window) of a smoke run."""
    nodes = {}
    if "smoke" in values:
        nodes = reader.mapping(values["smoke"], "smoke", ("steps", "late_window"))
        nodes = {} if nodes is INVALID else nodes
    steps = SMOKE_STEPS
    if "steps" in nodes:
        value = reader.integer(nodes["steps"], "smoke.steps", minimum=1)
        steps = steps if value is INVALID else value
    smoke_late_window = min(late_window, max(1, steps // 2))
    if "late_window" in nodes:
        node = nodes["late_window"]
        value = reader.integer(node, "smoke.late_window", minimum=1)
        if value is not INVALID and value > steps:
            msg = f"{value} is larger than smoke.steps={steps}; choose at most {steps}"
            reader.add(node, "smoke.late_window", msg)
        elif value is not INVALID:
            smoke_late_window = value
    return steps, smoke_late_window


def _read_grids(reader, root, values):
    """Return the Grids of a spec: each `grids` entry, or the top level alone."""
    top = {key: node for key, node in values.items() if key in GRID_KEYS}
    base = read_grid_keys(reader, top, "")
    explicit = dict(base)
    base.setdefault("seeds", Entry([0], root, "seeds"))
    base.setdefault("eps", Entry(1e-8, root, "eps"))
    if "grids" not in values:
        return [Grid(root, "", base, explicit)]

    node = values["grids"]
    if not isinstance(node, yaml.SequenceNode) or not node.value:
        fix = "write a list of mappings of grid keys, or remove grids"
        reader.add(
            node, "grids", f"expected a non-empty list, got {describe(node)}; {fix}"
        )
        return []
    grids = []
    for i, item in enumerate(node.value):
        field = f"grids[{i}]"
        nodes = reader.mapping(item, field)
        if nodes is INVALID:
            continue
        for key in [k for k in nodes if k not in GRID_KEYS]:
            if key in TOP_KEYS:
                msg = f"{key} can be set only at the top level; move it there"
            else:
                msg = f"unknown key {key!r}; {suggest(key, GRID_KEYS)}"
            reader.add(nodes.pop(key), join(field, key), msg)
        own = read_grid_keys(reader, nodes, field)
        grids.append(inherit(item, field, own, base))
    return grids
