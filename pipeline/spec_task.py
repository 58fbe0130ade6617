"""Reading a spec's `task` entries: registry names and typed task options."""

import dataclasses
import types
import typing
from dataclasses import dataclass

import yaml

from pipeline.spec_yaml import INVALID, describe, join, resolve, suggest
from tasks import TASKS


@dataclass(frozen=True)
class TaskChoice:
    """One task of a grid: its name, the options given and its default dtype."""

    name: str
    options: tuple  # sorted (option name, value) pairs, lists as tuples
    default_dtype: str  # "float32" or "float64"


def read_tasks(reader, node, field):
    """Read `task`: a name, {name: ..., <options>}, or a list of these."""
    return reader.sequence(node, field, lambda n, f: read_task(reader, n, f))


def read_task(reader, node, field):
    """Read one task as a TaskChoice, or return INVALID."""
    valid = sorted(TASKS)

    def read_name(name_node, name_field):
        return reader.choice(name_node, name_field, valid, "task")

    if isinstance(node, yaml.MappingNode):
        values = reader.mapping(node, field)
        if values is INVALID:
            return INVALID
        name = reader.require(node, values, "name", field, read_name)
        option_nodes = {k: v for k, v in values.items() if k != "name"}
    else:
        name, option_nodes = read_name(node, field), {}
    if name is INVALID:
        return INVALID
    options = _read_options(reader, node, field, TASKS[name], option_nodes)
    return INVALID if options is INVALID else _choice(name, options)


def _choice(name, options):
    dtype = str(TASKS[name].default_dtype).removeprefix("torch.")
    return TaskChoice(name, tuple(sorted(options.items())), dtype)


def _read_options(reader, node, field, task_cls, option_nodes):
    """Read the options of `task_cls` given in `option_nodes`, typed from Options."""
    hints = typing.get_type_hints(task_cls.Options)
    fields = {f.name: f for f in dataclasses.fields(task_cls.Options)}
    noun = f"option of task {task_cls.name}"
    options, valid = {}, True
    for key, value_node in option_nodes.items():
        sub = join(field, key)
        if key not in fields:
            hint = suggest(key, list(fields)) if fields else "it has no options"
            msg = f"unknown option {key!r} of task {task_cls.name}; {hint}"
            reader.add(value_node, sub, msg)
            valid = False
            continue
        value = read_typed(reader, value_node, sub, hints[key])
        valid = valid and value is not INVALID
        options[key] = value
    for name, f in fields.items():
        required = (
            f.default is dataclasses.MISSING
            and f.default_factory is dataclasses.MISSING
        )
        if required and name not in options:
            reader.add(
                node, join(field, name), f"required {noun} is missing; add {name}"
            )
            valid = False
    return options if valid else INVALID


def read_typed(reader, node, field, hint):
    """Read a value of type `hint`: bool, int, float, str, tuple, list, X | None.

    Tuples and lists are read from a YAML list and returned as tuples
    (tuple[int, ...] from [100, 100]). A float accepts an int. Returns INVALID
    after recording a problem.
    """
    scalar_readers = {
        bool: reader.boolean,
        int: reader.integer,
        float: lambda n, f: _as_float(reader.number(n, f)),
        str: reader.string,
    }
    if hint in scalar_readers:
        return scalar_readers[hint](node, field)
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is tuple:
        return _read_tuple(reader, node, field, args)
    if origin is list:
        # Read as a tuple, so that the Config holding it stays hashable.
        return _read_tuple(reader, node, field, (args[0], Ellipsis))
    optional = origin in (typing.Union, types.UnionType) and len(args) == 2
    if optional and type(None) in args:
        if resolve(node)[0] == "null":
            return None
        inner = next(a for a in args if a is not type(None))
        return read_typed(reader, node, field, inner)
    reader.add(
        node,
        field,
        f"options of type {hint} cannot be set from a spec; leave it at its default",
    )
    return INVALID


def _as_float(value):
    return INVALID if value is INVALID else float(value)


def _read_tuple(reader, node, field, args):
    if not isinstance(node, yaml.SequenceNode):
        reader.add(
            node,
            field,
            f"expected a list, got {describe(node)}; write it as [100, 100]",
        )
        return INVALID
    items = node.value
    if len(args) == 2 and args[1] is Ellipsis:
        item_types = [args[0]] * len(items)
    elif len(args) != len(items):
        reader.add(
            node,
            field,
            f"expected {len(args)} values, got {len(items)}; give {len(args)}",
        )
        return INVALID
    else:
        item_types = list(args)
    values = [
        read_typed(reader, item, f"{field}[{i}]", tp)
        for i, (item, tp) in enumerate(zip(items, item_types, strict=True))
    ]
    return INVALID if any(v is INVALID for v in values) else tuple(values)
