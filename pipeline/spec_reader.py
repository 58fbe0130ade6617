"""NodeReader: typed reads of spec nodes that record every problem found.

Each read method takes a node and the dotted field name that an error message
uses (`grids[1].lr[0]`), records a problem with the file, line and field when
the node contains no valid value, and then returns INVALID. The caller goes on,
so that one pass over a spec finds all its problems, and `raise_if_any` raises
them together as one SpecError.
"""

import math

import numpy as np
import yaml

from pipeline.spec_yaml import (
    INT_PATTERN,
    INVALID,
    Problem,
    SpecError,
    describe,
    is_number,
    join,
    line_of,
    quote_hint,
    resolve,
    suggest,
)

_RANGE_KEYS = ("logspace", "linspace")
# A range longer than this is almost surely a typo: two such ranges already
# make a million configs, which take minutes and gigabytes to expand.
MAX_RANGE_POINTS = 1000
_TOP_LEVEL_FIX = "write a mapping with keys such as name, task and steps"


class NodeReader:
    """Reads typed values from the nodes of one spec file and records problems."""

    def __init__(self, path):
        self.path = path
        self._problems = {}  # Problem -> None: ordered and without repeats

    def add(self, where, field, message):
        """Record a problem at a node or at a 1-based line number."""
        line = where if isinstance(where, int) else line_of(where)
        self._problems[Problem(self.path, line, field or "spec", message)] = None

    def raise_if_any(self):
        """Raise SpecError listing the problems recorded so far, by line."""
        if self._problems:
            raise SpecError(sorted(self._problems, key=lambda p: p.line))

    def compose(self, data):
        """Parse YAML bytes or text into a mapping node.

        Raises:
            SpecError: if the data is not YAML, contains no document or its top
                level is not a mapping.
        """
        try:
            root = yaml.compose(data, Loader=yaml.SafeLoader)
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
            reason = exc.problem or exc.context
            fix = f"fix the syntax at column {column}"
            self.add(line, "spec", f"invalid YAML: {reason}; {fix}")
        except yaml.YAMLError as exc:
            # A ReaderError (bytes that are not UTF-8 or UTF-16) has a position
            # but no line, and its message spans lines.
            position = getattr(exc, "position", None)
            line = 1
            if isinstance(data, bytes) and position is not None:
                line = data[:position].count(b"\n") + 1
            reason = " ".join(str(exc).split())
            self.add(line, "spec", f"invalid YAML: {reason}; save the file as UTF-8")
        else:
            if root is None:
                self.add(1, "spec", f"the file is empty; {_TOP_LEVEL_FIX}")
            elif not isinstance(root, yaml.MappingNode):
                what = f"the top level is {describe(root)}"
                self.add(root, "spec", f"{what}; {_TOP_LEVEL_FIX}")
            else:
                return root
        self.raise_if_any()

    def mapping(self, node, field, known=None):
        """Return {key: value node} of a mapping node.

        Records keys given twice, keys that are not plain strings and, when
        `known` is given, keys not in it. Returns INVALID unless `node` is a
        mapping.
        """
        if not isinstance(node, yaml.MappingNode):
            return self.expected(node, field, "a mapping", "write key: value pairs")
        values, lines = {}, {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                msg = f"a key is {describe(key_node)}; keys must be names"
                self.add(key_node, field, msg)
                continue
            key = key_node.value
            if key == "<<":
                msg = "YAML merge keys (<<) are not supported; write the keys out"
                self.add(key_node, field, msg)
                continue
            sub = join(field, key)
            if key in lines:
                both = f"lines {lines[key]} and {line_of(key_node)}"
                self.add(key_node, sub, f"given twice, on {both}; keep one")
                continue
            lines[key] = line_of(key_node)
            if known is not None and key not in known:
                self.add(key_node, sub, f"unknown key {key!r}; {suggest(key, known)}")
                continue
            values[key] = value_node
        return values

    def expected(self, node, field, what, fix):
        """Record that `node` is not `what`, with `fix`, and return INVALID.

        The fix for a node with an explicit YAML tag is to remove the tag.
        """
        if resolve(node)[0] == "tagged":
            fix = "remove the YAML tag"
        self.add(node, field, f"expected {what}, got {describe(node)}; {fix}")
        return INVALID

    def require(self, parent, values, key, field, read):
        """Read required `key` of a mapping with `read(node, field)`."""
        if key not in values:
            self.add(parent, join(field, key), f"required key is missing; add {key}")
            return INVALID
        return read(values[key], join(field, key))

    def number(self, node, field, minimum=None):
        """Read a finite int or float, optionally >= minimum."""
        kind, value = resolve(node)
        if kind not in ("int", "float"):
            quoted = kind == "quoted" and is_number(value)
            fix = "remove the quotes" if quoted else "write a number such as 1e-3"
            return self.expected(node, field, "a number", fix)
        if not math.isfinite(value):
            msg = f"expected a finite number, got {node.value}; write a finite number"
            self.add(node, field, msg)
            return INVALID
        if minimum is not None and value < minimum:
            fix = f"give a number >= {minimum}"
            self.add(node, field, f"{node.value} is below the minimum {minimum}; {fix}")
            return INVALID
        return value

    def integer(self, node, field, minimum=None):
        """Read an int (never a float such as 2.0 or 1e3), optionally >= minimum."""
        kind, value = resolve(node)
        if kind == "float":
            fix = "write it without a decimal point or exponent"
            msg = f"expected an integer, got the float {node.value}; {fix}"
            self.add(node, field, msg)
            return INVALID
        if kind != "int":
            quoted = kind == "quoted" and INT_PATTERN.fullmatch(value)
            fix = "remove the quotes" if quoted else "write an integer such as 100"
            return self.expected(node, field, "an integer", fix)
        if minimum is not None and value < minimum:
            fix = f"give an integer >= {minimum}"
            self.add(node, field, f"{value} is below the minimum {minimum}; {fix}")
            return INVALID
        return value

    def string(self, node, field):
        """Read a string. A number, a boolean or yes/no/on/off must be quoted."""
        kind, value = resolve(node)
        if kind in ("str", "quoted"):
            return value
        quotable = kind in ("int", "float", "bool", "word")
        fix = quote_hint(node, field) if quotable else "write a string"
        return self.expected(node, field, "a string", fix)

    def boolean(self, node, field):
        """Read true or false."""
        kind, value = resolve(node)
        if kind == "bool":
            return value
        return self.expected(node, field, "true or false", "write true or false")

    def choice(self, node, field, valid, noun):
        """Read a string that must be one of `valid`."""
        value = self.string(node, field)
        if value is INVALID:
            return INVALID
        if value not in valid:
            listed = ", ".join(valid)
            hint = suggest(value, valid)
            msg = f"unknown {noun} {value!r}; valid {noun}s are {listed}; {hint}"
            self.add(node, field, msg)
            return INVALID
        return value

    def sequence(self, node, field, read):
        """Read a list with `read(item, field)` per item, or one item as a list.

        Returns the valid items; problems with the others are recorded.
        """
        if not isinstance(node, yaml.SequenceNode):
            value = read(node, field)
            return [] if value is INVALID else [value]
        if not node.value:
            self.add(node, field, "the list is empty; give at least one value")
        items = (read(item, f"{field}[{i}]") for i, item in enumerate(node.value))
        return [item for item in items if item is not INVALID]

    def choices(self, node, field, valid, noun):
        """Read one choice or a list of distinct choices, as a list."""
        values = self.sequence(node, field, lambda n, f: self.choice(n, f, valid, noun))
        for i, value in enumerate(values):
            if value in values[:i]:
                self.add(node, field, f"{value!r} is listed twice; keep one")
        return values

    def number_values(self, node, field):
        """Read a number, a list of numbers, or {logspace|linspace: [lo, hi, n]}.

        Returns a list of (value, node, field) with float values, so that a
        problem found later names the line that produced the value.
        """
        if isinstance(node, yaml.MappingNode):
            return self._number_range(node, field)
        items = self.sequence(node, field, lambda n, f: (self.number(n, f), n, f))
        return [(float(v), n, f) for v, n, f in items if v is not INVALID]

    def _number_range(self, node, field):
        values = self.mapping(node, field, _RANGE_KEYS)
        if values is INVALID:
            return []
        if len(values) != 1:
            # With no known key, the unknown ones are already recorded.
            if len(values) > 1 or not node.value:
                fix = "give one of logspace: [lo, hi, n] or linspace: [lo, hi, n]"
                self.add(node, field, f"expected one range; {fix}")
            return []
        kind, seq = next(iter(values.items()))
        sub = join(field, kind)
        if not isinstance(seq, yaml.SequenceNode) or len(seq.value) != 3:
            fix = f"write {kind}: [0.1, 100, 5]"
            self.add(seq, sub, f"expected [lo, hi, n], got {describe(seq)}; {fix}")
            return []
        lo_node, hi_node, n_node = seq.value
        lo = self.number(lo_node, f"{sub}[0]")
        hi = self.number(hi_node, f"{sub}[1]")
        n = self.integer(n_node, f"{sub}[2]", minimum=1)
        if any(v is INVALID for v in (lo, hi, n)):
            return []
        if n > MAX_RANGE_POINTS:
            msg = (f"{n} points is more than {MAX_RANGE_POINTS}; split the "
                   f"sweep into several specs or use fewer points")
            self.add(n_node, f"{sub}[2]", msg)
            return []
        if kind == "logspace" and (lo <= 0 or hi <= 0):
            fix = "use linspace for a range through 0"
            msg = f"logspace bounds must be > 0, got [{lo:g}, {hi:g}]; {fix}"
            self.add(seq, sub, msg)
            return []
        # geomspace and linspace set both ends exactly, unlike 10 ** logspace.
        space = np.geomspace if kind == "logspace" else np.linspace
        return [(float(v), seq, sub) for v in space(lo, hi, n)]
