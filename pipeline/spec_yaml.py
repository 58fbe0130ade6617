"""Strict reading of a YAML node tree that keeps every value's line.

PyYAML's constructors follow YAML 1.1, which reads `1e-3` as a string and `off`
as a boolean. A sweep spec is instead composed into nodes (`yaml.compose` with
the SafeLoader), and each plain scalar is resolved here:

- integer: `-2`, `0`, `3000` (no leading zeros, no underscores);
- float: `1.0e-3`, `1e-3`, `3E-4`, `1e2`, `.5`, `2.`;
- boolean: `true`, `false`, in any case;
- null: `null`, `~` or an empty value;
- `yes`, `no`, `on` and `off`, in any case: a word that YAML 1.1 reads as a
  boolean, so it is rejected where a string, choice, number or boolean is read;
- anything else: a string.

Quoted and block scalars, and plain scalars tagged `!!str`, are strings. Other
explicit tags are rejected.

Problems found while reading are collected as Problem records and raised
together as one SpecError (see pipeline.spec_reader).
"""

import difflib
import re
from dataclasses import dataclass

import yaml

INT_PATTERN = re.compile(r"[-+]?(0|[1-9][0-9]*)")
_FLOAT = re.compile(
    r"[-+]?([0-9]+\.[0-9]*|\.[0-9]+)([eE][-+]?[0-9]+)?|[-+]?[0-9]+[eE][-+]?[0-9]+"
)
_BOOLEAN_WORDS = ("yes", "no", "on", "off")
_STR_TAG = "tag:yaml.org,2002:str"
_RESOLVER = yaml.resolver.Resolver()


class _Invalid:
    def __repr__(self):
        return "INVALID"


# Returned by NodeReader's read methods when the node held no valid value.
INVALID = _Invalid()


@dataclass(frozen=True)
class Problem:
    """One problem in a spec file: where it is and what is wrong."""

    path: str
    line: int
    field: str
    message: str

    def __str__(self):
        return f"{self.path}:{self.line}: {self.field}: {self.message}"


class SpecError(ValueError):
    """An invalid sweep spec. `problems` lists every Problem found, by line."""

    def __init__(self, problems):
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


def line_of(node):
    """Return the 1-based line on which `node` starts."""
    return node.start_mark.line + 1


def join(field, key):
    """Return the dotted field name of `key` inside `field`."""
    return f"{field}.{key}" if field else key


def resolve(node):
    """Return (kind, value) of a node under the rules in the module docstring.

    kind is one of int, float, bool, null, word (yes, no, on, off), str,
    quoted, tagged, list and mapping.
    """
    if isinstance(node, yaml.SequenceNode):
        return "list", node.value
    if isinstance(node, yaml.MappingNode):
        return "mapping", node.value
    text = node.value
    if node.style is not None:
        return ("quoted", text) if node.tag == _STR_TAG else ("tagged", text)
    if node.tag != _RESOLVER.resolve(yaml.ScalarNode, text, (True, False)):
        # An explicit tag: honor !!str as a quoted string, reject the others.
        return ("quoted", text) if node.tag == _STR_TAG else ("tagged", text)
    if INT_PATTERN.fullmatch(text):
        return "int", int(text)
    if _FLOAT.fullmatch(text):
        return "float", float(text)
    lower = text.lower()
    if lower in ("true", "false"):
        return "bool", lower == "true"
    if lower in ("null", "~", ""):
        return "null", None
    if lower in _BOOLEAN_WORDS:
        return "word", text
    return "str", text


def describe(node):
    """Return how an error message names the value of `node`."""
    kind, value = resolve(node)
    if kind == "list":
        return "a list"
    if kind == "mapping":
        return "a mapping"
    if kind == "null":
        return "null (an empty value)"
    if kind == "quoted":
        return f"the quoted string {value!r}"
    if kind == "word":
        return f"{value}, which YAML 1.1 reads as a boolean"
    if kind == "tagged":
        return f"{node.value!r} with the YAML tag {node.tag}"
    if kind == "str":
        return repr(value)
    return node.value


def quote_hint(node, field):
    """Return how to write the scalar of `node` as a quoted string."""
    key = field.rsplit(".", 1)[-1]
    if key.endswith("]"):
        return f'quote it: "{node.value}"'
    return f'quote it: {key}: "{node.value}"'


def suggest(word, valid):
    """Return a hint naming the closest of `valid` to `word`, or all of them."""
    close = difflib.get_close_matches(str(word), list(valid), n=1)
    if close:
        return f"did you mean {close[0]!r}?"
    return "valid ones are " + ", ".join(valid)


def is_number(text):
    """Return whether `text` reads as a number under the rules above."""
    return bool(INT_PATTERN.fullmatch(text) or _FLOAT.fullmatch(text))
