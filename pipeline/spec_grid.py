"""The grid keys of a sweep spec: reading them and inheriting the top level's.

A grid is the top level of a spec, or one entry of its `grids` list with the
top-level grid keys it does not set filled in. pipeline.spec_expand turns
grids into configs.
"""

from dataclasses import dataclass

import yaml

from optimizers import COORDINATES
from optimizers.coords import check_lr
from pipeline.spec_task import read_tasks
from pipeline.spec_yaml import INVALID, describe, join, line_of

# The ways to give points, which exclude each other.
_FORMS = {
    "a": "a and b",
    "b": "a and b",
    "pairs": "pairs",
    "beta1": "beta1 and beta2",
    "beta2": "beta1 and beta2",
    "alpha": "beta1 and beta2",
    "betas": "betas",
}


@dataclass(frozen=True)
class Coord:
    """One value of a coordinate (a, b) or beta (beta1, beta2) and its source."""

    name: str  # a, b, beta1 or beta2
    value: float
    line: int
    field: str


@dataclass(frozen=True)
class Entry:
    """The value read for one grid key, with the node and field it came from."""

    value: object
    node: object
    field: str


@dataclass
class Grid:
    """One grid of a spec: its keys after inheriting the top level's."""

    node: object  # the grid's mapping node, for problems about the whole grid
    field: str  # "grids[i]", or "" for the top level
    entries: dict  # key -> Entry, inherited keys included
    explicit: dict  # key -> Entry for the keys written in this grid


def _read_lrs(reader, node, field):
    def read(item, item_field):
        value = reader.number(item, item_field)
        if value is INVALID:
            return INVALID
        try:
            check_lr(value)
        except ValueError as exc:
            reader.add(item, item_field, f"{exc}; give an lr such as 1e-3")
            return INVALID
        return float(value)

    return reader.sequence(node, field, read)


def _coord_reader(name):
    """Return a reader of a's, b's or betas in the forms of number_values."""

    def read(reader, node, field):
        values = reader.number_values(node, field)
        return [Coord(name, v, line_of(n), f) for v, n, f in values]

    return read


def _pair_reader(first, second):
    """Return a reader of [[first, second], ...] as a list of Coord pairs."""

    def read_pair(reader, node, field):
        if not isinstance(node, yaml.SequenceNode) or len(node.value) != 2:
            fix = f"write [{first}, {second}]"
            reader.add(node, field, f"expected a pair, got {describe(node)}; {fix}")
            return INVALID
        values = [reader.number(n, f"{field}[{i}]") for i, n in enumerate(node.value)]
        if any(v is INVALID for v in values):
            return INVALID
        lines = [line_of(n) for n in node.value]
        return tuple(
            Coord(name, float(v), line, field)
            for name, v, line in zip((first, second), values, lines, strict=True)
        )

    def read(reader, node, field):
        if not isinstance(node, yaml.SequenceNode):
            fix = f"write [[{first}, {second}], ...]"
            reader.add(
                node, field, f"expected a list of pairs, got {describe(node)}; {fix}"
            )
            return []
        return reader.sequence(node, field, lambda n, f: read_pair(reader, n, f))

    return read


def _read_seeds(reader, node, field):
    return reader.sequence(node, field, lambda n, f: reader.integer(n, f, minimum=0))


def _read_eps(reader, node, field):
    value = reader.number(node, field, minimum=0)
    return INVALID if value is INVALID else float(value)


def _read_optimizers(reader, node, field):
    return reader.choices(node, field, list(COORDINATES), "optimizer")


GRID_READERS = {
    "task": read_tasks,
    "optimizer": _read_optimizers,
    "lr": _read_lrs,
    "a": _coord_reader("a"),
    "b": _coord_reader("b"),
    "pairs": _pair_reader("a", "b"),
    "beta1": _coord_reader("beta1"),
    "beta2": _coord_reader("beta2"),
    "betas": _pair_reader("beta1", "beta2"),
    # RMSprop's name for beta2.
    "alpha": _coord_reader("beta2"),
    "seeds": _read_seeds,
    "eps": _read_eps,
}
GRID_KEYS = tuple(GRID_READERS)


def read_grid_keys(reader, values, field):
    """Read the grid keys of one mapping, given as {key: value node}.

    Returns {key: Entry}. Keys of a second way to give points (a and pairs,
    say) are recorded as problems and left out.
    """
    _check_forms(reader, values, field)
    entries = {}
    for key, node in values.items():
        if key in GRID_READERS:
            value = GRID_READERS[key](reader, node, join(field, key))
            entries[key] = Entry(value, node, join(field, key))
    forms = [_FORMS[key] for key in entries if key in _FORMS]
    return {
        key: entry
        for key, entry in entries.items()
        if key not in _FORMS or _FORMS[key] == forms[0]
    }


def _check_forms(reader, values, field):
    first = {}  # form -> the first key given in that form
    for key, node in values.items():
        if key not in _FORMS:
            continue
        other = next((k for f, k in first.items() if f != _FORMS[key]), None)
        if other is not None:
            ways = ", ".join(dict.fromkeys(_FORMS.values()))
            fix = f"give points one way: {ways}"
            reader.add(
                node, join(field, key), f"cannot be combined with {other}; {fix}"
            )
        if key == "alpha" and "beta2" in values:
            msg = "alpha is RMSprop's name for beta2; give only one of them"
            reader.add(node, join(field, key), msg)
        first.setdefault(_FORMS[key], key)


def inherit(node, field, own, base):
    """Return the Grid of a `grids` entry with keys `own` over the top level's.

    Points come from one place: a grid that gives any of a, b, pairs, beta1,
    beta2, betas or alpha inherits none of them.
    """
    gives_points = any(key in _FORMS for key in own)
    entries = {
        key: entry
        for key, entry in base.items()
        if not (gives_points and key in _FORMS)
    }
    entries.update(own)
    return Grid(node, field, entries, own)
