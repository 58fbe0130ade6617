"""Tests of pipeline.spec: strict reading of sweep specs and their expansion."""

import hashlib
import re
import textwrap
from dataclasses import dataclass

import pytest
import torch
import yaml

from pipeline.spec import SpecError, load_spec
from pipeline.spec_yaml import resolve
from tasks import TASKS
from tasks.base import Task

# A valid spec. Tests replace or append lines and know each line's number.
BASE = """\
name: test
task: sin_regression
optimizer: adam
lr: 1.0e-3
a: 1
b: 2
steps: 100
late_window: 10
"""


def write(tmp_path, text):
    path = tmp_path / "spec.yaml"
    path.write_text(textwrap.dedent(text))
    return path


def replace(line_number, text, base=BASE):
    """Return `base` with its 1-based line `line_number` replaced by `text`."""
    lines = base.splitlines()
    lines[line_number - 1] = text
    return "\n".join(lines) + "\n"


def problems(tmp_path, text):
    """Load `text` as a spec and return the problems of its SpecError."""
    with pytest.raises(SpecError) as info:
        load_spec(write(tmp_path, text))
    return info.value.problems


def problem_at(tmp_path, text, field):
    """Return the one problem of `text` whose field is `field`."""
    found = [p for p in problems(tmp_path, text) if p.field == field]
    assert len(found) == 1, [str(p) for p in problems(tmp_path, text)]
    return found[0]


@dataclass
class ToyOptions:
    width: int
    scale: float = 1.0
    label: str = "toy"
    flag: bool = False
    sizes: tuple[int, ...] = (4,)
    root: str | None = None


class ToyTask(Task):
    name = "toy"
    Options = ToyOptions
    default_dtype = torch.float64


@pytest.fixture
def toy_task(monkeypatch):
    monkeypatch.setitem(TASKS, "toy", ToyTask)


# Scalars


@pytest.mark.parametrize(
    "text, kind, value",
    [
        ("1e-3", "float", 1e-3),
        ("3E-4", "float", 3e-4),
        ("1e2", "float", 100.0),
        ("1.0e-3", "float", 1e-3),
        (".5", "float", 0.5),
        ("-2", "int", -2),
        ('"1e-3"', "quoted", "1e-3"),
        ("off", "word", "off"),
        ("True", "bool", True),
        ("~", "null", None),
        ("0x10", "str", "0x10"),
        ("!!str off", "quoted", "off"),
    ],
)
def test_resolve_scalars(text, kind, value):
    node = yaml.compose(f"key: {text}", Loader=yaml.SafeLoader).value[0][1]
    assert resolve(node) == (kind, value)


def test_exponent_lr_is_number(tmp_path):
    sweep = load_spec(write(tmp_path, replace(4, "lr: 1e-3")))
    assert sweep.configs[0].lr == 1e-3


@pytest.mark.parametrize("text", ["lr: abc", 'lr: "1e-3"', "lr: [1e-3, abc]"])
def test_lr_string_rejected(tmp_path, text):
    found = problems(tmp_path, replace(4, text))
    assert len(found) == 1
    assert found[0].line == 4
    assert found[0].field.startswith("lr")
    assert "expected a number" in found[0].message


def test_quoted_number_hint(tmp_path):
    problem = problem_at(tmp_path, replace(4, 'lr: "1e-3"'), "lr")
    assert "the quoted string '1e-3'; remove the quotes" in problem.message


@pytest.mark.parametrize(
    "line, text, field",
    [
        (1, "name: off", "name"),
        (2, "task: yes", "task"),
        (3, "optimizer: no", "optimizer"),
        (3, "optimizer: [adam, on]", "optimizer[1]"),
        (9, "dtype: off", "dtype"),
        (9, "device: on", "device"),
        (9, "pack: {mode: off}", "pack.mode"),
    ],
)
def test_boolean_word_rejected(tmp_path, line, text, field):
    problem = problem_at(tmp_path, replace(line, text, BASE + "\n"), field)
    assert problem.line == line
    assert "reads as a boolean" in problem.message
    assert "quote it" in problem.message


def test_boolean_word_quote_hint(tmp_path):
    problem = problem_at(tmp_path, replace(1, "name: off"), "name")
    assert problem.message.endswith('quote it: name: "off"')


@pytest.mark.parametrize("text", ['name: "off"', "name: 'off'", "name: !!str off"])
def test_quoted_word_is_string(tmp_path, text):
    assert load_spec(write(tmp_path, replace(1, text))).name == "off"


def test_number_for_string_rejected(tmp_path):
    problem = problem_at(tmp_path, replace(1, "name: 2024"), "name")
    assert problem.line == 1
    assert 'quote it: name: "2024"' in problem.message


# Keys


def test_duplicate_key_names_both_lines(tmp_path):
    problem = problem_at(tmp_path, BASE + "lr: 1.0e-4\n", "lr")
    assert problem.line == 9
    assert "lines 4 and 9" in problem.message


def test_duplicate_key_in_nested_mapping(tmp_path):
    text = BASE + "resources:\n  cpu: 1\n  cpu: 2\n"
    problem = problem_at(tmp_path, text, "resources.cpu")
    assert problem.line == 11
    assert "lines 10 and 11" in problem.message


@pytest.mark.parametrize(
    "extra, line, field, close",
    [
        ("lrr: 1", 9, "lrr", "'lr'"),
        ("grids:\n  - {optimizer: adam, seed: [1]}", 10, "grids[0].seed", "'seeds'"),
        ("resources: {cpus: 2}", 9, "resources.cpus", "'cpu'"),
        ("pack: {sise: 4}", 9, "pack.sise", "'size'"),
        ("smoke: {step: 5}", 9, "smoke.step", "'steps'"),
        ("figures: [regime_maps]", 9, "figures[0]", "'regime_map'"),
    ],
)
def test_unknown_key_suggests_closest(tmp_path, extra, line, field, close):
    problem = problem_at(tmp_path, BASE + extra + "\n", field)
    assert problem.line == line
    assert f"did you mean {close}?" in problem.message


def test_unknown_range_key(tmp_path):
    problem = problem_at(tmp_path, replace(5, "a: {logspac: [1, 10, 3]}"), "a.logspac")
    assert problem.line == 5
    assert "did you mean 'logspace'?" in problem.message


def test_unknown_task_lists_valid(tmp_path):
    problem = problem_at(tmp_path, replace(2, "task: sin_regresion"), "task")
    assert problem.line == 2
    assert "sin_regression" in problem.message
    assert "valid tasks are" in problem.message


def test_unknown_optimizer_lists_valid(tmp_path):
    problem = problem_at(tmp_path, replace(3, "optimizer: adamw"), "optimizer")
    assert problem.line == 3
    assert "valid optimizers are adam, rmsprop, signgd" in problem.message


def test_top_level_key_in_grid(tmp_path):
    text = BASE + "grids:\n  - {steps: 5}\n"
    problem = problem_at(tmp_path, text, "grids[0].steps")
    assert problem.line == 10
    assert "only at the top level" in problem.message


@pytest.mark.parametrize("key, line", [("name", 1), ("steps", 7), ("late_window", 8)])
def test_missing_required_key(tmp_path, key, line):
    # The problem names the line where the top-level mapping starts.
    text = replace(line, "# no value here")
    problem = problem_at(tmp_path, text, key)
    assert problem.line == (2 if line == 1 else 1)
    assert problem.message == f"required key is missing; add {key}"


def test_missing_grid_key(tmp_path):
    text = replace(3, "") + "grids:\n  - {lr: 1.0e-4}\n"
    problem = problem_at(tmp_path, text, "grids[0].optimizer")
    assert problem.line == 10
    assert "to this grid or to the top level" in problem.message


# Task options


def test_task_options_coerced(tmp_path, toy_task):
    text = replace(
        2, "task: {name: toy, width: 3, scale: 2, sizes: [5, 6], flag: true}"
    )
    config = load_spec(write(tmp_path, text)).configs[0]
    options = dict(config.task_options)
    assert options == {"width": 3, "scale": 2.0, "sizes": (5, 6), "flag": True}
    assert isinstance(options["scale"], float)
    assert config.task_options == tuple(sorted(options.items()))


def test_task_default_dtype(tmp_path, toy_task):
    text = replace(2, "task: {name: toy, width: 3}")
    assert load_spec(write(tmp_path, text)).configs[0].dtype == "float64"


def test_dtype_overrides_task_default(tmp_path, toy_task):
    text = replace(2, "task: {name: toy, width: 3}") + "dtype: float32\n"
    assert load_spec(write(tmp_path, text)).configs[0].dtype == "float32"


@pytest.mark.parametrize(
    "options, field, expected",
    [
        ("width: 2.0", "task.width", "expected an integer, got the float 2.0"),
        ('width: "3"', "task.width", "remove the quotes"),
        ("width: 3, scale: abc", "task.scale", "expected a number"),
        ("width: 3, flag: yes", "task.flag", "expected true or false"),
        ("width: 3, sizes: 5", "task.sizes", "expected a list, got 5"),
        ("width: 3, sizes: [5, 0.5]", "task.sizes[1]", "expected an integer"),
        ("width: 3, label: off", "task.label", "quote it"),
        ("width: 3, widht: 4", "task.widht", "did you mean 'width'?"),
        ("scale: 1", "task.width", "required option of task toy is missing"),
    ],
)
def test_task_option_rejected(tmp_path, toy_task, options, field, expected):
    text = replace(2, f"task: {{name: toy, {options}}}")
    problem = problem_at(tmp_path, text, field)
    assert problem.line == 2
    assert expected in problem.message


def test_task_option_null_for_optional(tmp_path, toy_task):
    text = replace(2, "task: {name: toy, width: 3, root: null}")
    config = load_spec(write(tmp_path, text)).configs[0]
    assert dict(config.task_options)["root"] is None


# Ranges


def test_logspace_grid(tmp_path):
    text = replace(5, "a: {logspace: [0.1, 100, 5]}")
    text = replace(6, "b: {logspace: [0.1, 100, 5]}", text)
    configs = load_spec(write(tmp_path, text)).configs
    assert len(configs) == 25
    assert configs[0].a == 0.1
    assert configs[-1].a == 100.0
    assert [c.b for c in configs[:5]] == pytest.approx(
        [0.1, 10**-0.25, 10**0.5, 10**1.25, 100]
    )
    assert configs[4].a == 0.1
    assert configs[5].a == pytest.approx(10**-0.25)
    assert all(type(c.a) is float for c in configs)


def test_linspace_values(tmp_path):
    configs = load_spec(write(tmp_path, replace(5, "a: {linspace: [1, 3, 3]}"))).configs
    assert [c.a for c in configs] == [1.0, 2.0, 3.0]


@pytest.mark.parametrize(
    "text, field, expected",
    [
        ("a: {logspace: [0.1, 100]}", "a.logspace", "expected [lo, hi, n]"),
        ("a: {logspace: [0.1, 100, 2.0]}", "a.logspace[2]", "expected an integer"),
        ("a: {logspace: [0.1, 100, 0]}", "a.logspace[2]", "give an integer >= 1"),
        ("a: {logspace: [0, 100, 5]}", "a.logspace", "bounds must be > 0"),
        ("a: {logspace: [1, 2, 2], linspace: [1, 2, 2]}", "a", "expected one range"),
        ("a: {}", "a", "expected one range"),
    ],
)
def test_bad_range_rejected(tmp_path, text, field, expected):
    problem = problem_at(tmp_path, replace(5, text), field)
    assert problem.line == 5
    assert expected in problem.message


# Points


def test_out_of_range_point_named(tmp_path):
    text = replace(5, "a: [1, 2000]")
    problem = problem_at(tmp_path, text, "a[1]")
    assert problem.line == 5
    assert "point (task=sin_regression, optimizer=adam, lr=0.001, a=2000, b=2)" in (
        problem.message
    )
    assert "gives beta2=-1, outside [0, 1)" in problem.message


def test_out_of_range_b_names_beta1(tmp_path):
    text = replace(6, "b:\n  - 1\n  - 2000")
    problem = problem_at(tmp_path, text, "b[1]")
    assert problem.line == 8
    assert "b=2000 with lr=0.001 gives beta1=-1, outside [0, 1)" in problem.message


def test_b_bound_at_one_over_lr(tmp_path):
    # b * lr = 1 gives beta1 = 0, which is allowed, but a b just above it is not.
    assert load_spec(write(tmp_path, replace(6, "b: 1000"))).configs[0].b == 1000
    problem = problem_at(tmp_path, replace(6, "b: 1001"), "b")
    assert "beta1" in problem.message


def test_out_of_range_in_logspace_names_line(tmp_path):
    text = BASE + "grids:\n  - lr: 0.1\n    a: {logspace: [1, 100, 3]}\n    b: 1\n"
    problem = problem_at(tmp_path, text, "grids[0].a.logspace")
    assert problem.line == 11
    assert "lr=0.1, a=100" in problem.message


def test_out_of_range_beta_rejected(tmp_path):
    text = replace(5, "betas: [[0.9, 0.999], [0.9, 1.0]]", replace(6, ""))
    problem = problem_at(tmp_path, text, "betas[1]")
    assert problem.line == 5
    assert "beta2=1 is outside [0, 1)" in problem.message


def test_pairs_zipped(tmp_path):
    text = replace(5, "pairs: [[1, 10], [10, 1], [1, 10]]", replace(6, ""))
    configs = load_spec(write(tmp_path, text)).configs
    assert [(c.a, c.b) for c in configs] == [(1.0, 10.0), (10.0, 1.0)]


def test_betas_converted_at_lr(tmp_path):
    text = replace(5, "betas: [[0.9, 0.999]]", replace(6, ""))
    text = replace(4, "lr: [1.0e-3, 1.0e-2]", text)
    configs = load_spec(write(tmp_path, text)).configs
    assert len(configs) == 2
    assert configs[0].a == pytest.approx(1.0, rel=1e-9)
    assert configs[0].b == pytest.approx(100.0, rel=1e-9)
    assert configs[1].a == pytest.approx(0.1, rel=1e-9)
    assert configs[1].b == pytest.approx(10.0, rel=1e-9)
    assert configs[1].betas == pytest.approx((0.9, 0.999), rel=1e-12)


def test_beta_product_a_outer(tmp_path):
    text = replace(5, "beta1: [0.9, 0.99]", replace(6, "beta2: [0.999, 0.9]"))
    configs = load_spec(write(tmp_path, text)).configs
    betas = [tuple(round(x, 9) for x in c.betas) for c in configs]
    assert betas == [(0.9, 0.999), (0.99, 0.999), (0.9, 0.9), (0.99, 0.9)]


def test_rmsprop_config_has_no_b(tmp_path):
    text = replace(3, "optimizer: [adam, rmsprop]", replace(6, "b: [2, 3]"))
    text = replace(5, "a: [1, 4]", text)
    configs = load_spec(write(tmp_path, text)).configs
    rmsprop = [c for c in configs if c.optimizer == "rmsprop"]
    assert len(configs) == 6
    assert [(c.a, c.b) for c in rmsprop] == [(1.0, None), (4.0, None)]
    assert rmsprop[0].betas == (None, 1.0 - 1.0e-3)


def test_rmsprop_alpha(tmp_path):
    text = replace(3, "optimizer: rmsprop", replace(5, "alpha: 0.99", replace(6, "")))
    config = load_spec(write(tmp_path, text)).configs[0]
    assert config.a == pytest.approx(10.0, rel=1e-9)
    assert config.b is None


@pytest.mark.parametrize(
    "optimizer, line, text, field, expected",
    [
        ("rmsprop", 6, "b: 2", "b", "rmsprop has no b; remove b"),
        ("rmsprop", 6, "beta1: 0.9", "beta1", "rmsprop has no b"),
        ("signgd", 5, "a: 1", "a", "signgd has no a; remove a"),
        ("rmsprop", 5, "pairs: [[1, 2]]", "pairs", "give a, beta2 or alpha instead"),
    ],
)
def test_unread_coordinate_rejected(tmp_path, optimizer, line, text, field, expected):
    base = replace(3, f"optimizer: {optimizer}", replace(5, "", replace(6, "")))
    problem = problem_at(tmp_path, replace(line, text, base), field)
    assert problem.line == line
    assert expected in problem.message


def test_missing_coordinate_rejected(tmp_path):
    problem = problem_at(tmp_path, replace(6, ""), "optimizer")
    assert problem.line == 3
    assert "adam needs b; give b or beta1" in problem.message


@pytest.mark.parametrize(
    "text, field, other",
    [
        ("pairs: [[1, 2]]", "pairs", "a"),
        ("beta1: 0.9", "beta1", "a"),
        ("betas: [[0.9, 0.99]]", "betas", "a"),
    ],
)
def test_point_forms_exclusive(tmp_path, text, field, other):
    problem = problem_at(tmp_path, BASE + text + "\n", field)
    assert problem.line == 9
    assert f"cannot be combined with {other}" in problem.message


# Expansion


GRIDS = """\
name: quickstart
task: sin_regression
optimizer: adam
lr: 1.0e-3
a: {logspace: [0.1, 100, 5]}
b: {logspace: [0.1, 100, 5]}
steps: 3000
late_window: 1000
grids:
  - {optimizer: signgd, lr: 1.0e-5}
  - {optimizer: adam, lr: [1.0e-3, 1.0e-4], beta1: 0.9, beta2: 0.999}
"""


def test_grids_mix_signgd_and_adam(tmp_path):
    configs = load_spec(write(tmp_path, GRIDS)).configs
    assert [(c.optimizer, c.lr) for c in configs] == [
        ("signgd", 1e-5),
        ("adam", 1e-3),
        ("adam", 1e-4),
    ]
    assert configs[0].a is None
    assert configs[0].b is None
    assert configs[2].a == pytest.approx(10.0, rel=1e-9)
    assert configs[2].b == pytest.approx(1000.0, rel=1e-9)


def test_repeats_removed_keeping_first(tmp_path):
    text = BASE + "seeds: [0, 1]\ngrids:\n  - {seeds: [1]}\n  - {}\n"
    configs = load_spec(write(tmp_path, text)).configs
    assert [c.seed for c in configs] == [1, 0]


def test_product_order(tmp_path):
    text = replace(3, "optimizer: [signgd, adam]", replace(4, "lr: [0.1, 0.01]"))
    text += "seeds: [0, 1]\n"
    configs = load_spec(write(tmp_path, text)).configs
    order = [(c.optimizer, c.lr, c.seed) for c in configs]
    assert order == [
        ("signgd", 0.1, 0),
        ("signgd", 0.1, 1),
        ("signgd", 0.01, 0),
        ("signgd", 0.01, 1),
        ("adam", 0.1, 0),
        ("adam", 0.1, 1),
        ("adam", 0.01, 0),
        ("adam", 0.01, 1),
    ]


def test_smoke_defaults(tmp_path):
    sweep = load_spec(write(tmp_path, GRIDS), smoke=True)
    assert {(c.steps, c.late_window) for c in sweep.configs} == {(20, 10)}


def test_smoke_values(tmp_path):
    text = BASE + "smoke: {steps: 50, late_window: 5}\n"
    config = load_spec(write(tmp_path, text), smoke=True).configs[0]
    assert config.steps == 50
    assert config.late_window == 5


def test_full_run_ignores_smoke(tmp_path):
    text = BASE + "smoke: {steps: 50, late_window: 5}\n"
    config = load_spec(write(tmp_path, text)).configs[0]
    assert config.steps == 100
    assert config.late_window == 10


def test_smoke_late_window_capped(tmp_path):
    problem = problem_at(
        tmp_path, BASE + "smoke: {steps: 4, late_window: 5}\n", "smoke.late_window"
    )
    assert problem.line == 9
    assert "larger than smoke.steps=4" in problem.message


def test_sweep_fields(tmp_path):
    text = BASE + textwrap.dedent("""\
        device: cpu
        resources: {cpu: 0.5, gpu: 1}
        pack: {size: 8, mode: stacked}
        figures: [regime_map, curves]
        data_root: /data
        record: [state]
        eps: 0
    """)
    path = write(tmp_path, text)
    sweep = load_spec(str(path))
    assert sweep.name == "test"
    assert sweep.path == str(path)
    assert sweep.spec_hash == hashlib.sha256(path.read_bytes()).hexdigest()
    assert sweep.device == "cpu"
    assert sweep.resources == {"cpu": 0.5, "gpu": 1}
    assert sweep.pack_size == 8
    assert sweep.pack_mode == "stacked"
    assert sweep.figures == ("regime_map", "curves")
    assert sweep.data_root == "/data"
    assert sweep.record == ("state",)
    assert sweep.configs[0].eps == 0.0


def test_sweep_defaults(tmp_path):
    sweep = load_spec(write(tmp_path, BASE))
    config = sweep.configs[0]
    assert sweep.resources == {"cpu": 1, "gpu": 0}
    assert sweep.pack_size == "auto"
    assert sweep.pack_mode == "auto"
    assert sweep.device == "auto"
    assert sweep.figures == ("regime_map",)
    assert sweep.data_root is None
    assert sweep.record == ()
    assert config.seed == 0
    assert config.eps == 1e-8
    assert config.dtype == "float32"
    assert config.steps == 100
    assert config.late_window == 10
    assert config.task_options == ()


# Other checks


@pytest.mark.parametrize(
    "line, text, field, expected",
    [
        (7, "steps: 2.0", "steps", "expected an integer, got the float 2.0"),
        (7, "steps: 0", "steps", "0 is below the minimum 1"),
        (8, "late_window: 101", "late_window", "larger than steps=100"),
        (4, "lr: 0", "lr", "the learning rate must be > 0"),
        (4, "lr: 1e999", "lr", "expected a finite number"),
        (9, "seeds: [0, -1]", "seeds[1]", "give an integer >= 0"),
        (9, "eps: -1.0e-8", "eps", "give a number >= 0"),
        (9, "resources: {gpu: -1}", "resources.gpu", "-1 is below the minimum 0"),
        (9, "pack: {size: 0}", "pack.size", "give an integer >= 1"),
        (9, "pack: {size: big}", "pack.size", "expected auto or an integer > 0"),
        (9, "device: gpu", "device", "valid devices are auto, cpu, cuda"),
        (9, "figures: [curves, curves]", "figures", "listed twice"),
        (9, "data_root: 3", "data_root", "quote it"),
        (9, "grids: []", "grids", "expected a non-empty list"),
        (9, "grids: [adam]", "grids[0]", "expected a mapping, got 'adam'"),
        (9, "grids: [<<: {lr: 1}]", "grids[0]", "merge keys (<<) are not supported"),
        (4, "lr: !!float 1", "lr", "remove the YAML tag"),
        (9, "x: <<: 1", "spec", "invalid YAML"),
    ],
)
def test_value_rejected(tmp_path, line, text, field, expected):
    problem = problem_at(tmp_path, replace(line, text, BASE + "\n"), field)
    assert problem.line == line
    assert expected in problem.message


def test_all_problems_reported(tmp_path):
    text = "name: off\ntask: sin_regression\noptimizer: adamw\nlr: abc\nsteps: 2.0\n"
    path = write(tmp_path, text)
    with pytest.raises(SpecError) as info:
        load_spec(path)
    lines = str(info.value).splitlines()
    assert [p.line for p in info.value.problems] == [1, 1, 3, 4, 5]
    assert len(lines) == 5
    for line in lines:
        assert re.fullmatch(rf"{re.escape(str(path))}:\d+: [\w.\[\]]+: .+; .+", line)


@pytest.mark.parametrize(
    "text, line, expected",
    [
        ("name: [unclosed\nsteps: 3\n", 2, "invalid YAML"),
        ("- name: x\n- steps: 3\n", 1, "the top level is a list"),
        ("just some words\n", 1, "the top level is 'just some words'"),
        ("", 1, "the file is empty"),
    ],
)
def test_not_a_spec(tmp_path, text, line, expected):
    found = problems(tmp_path, text)
    assert len(found) == 1
    assert found[0].line == line
    assert expected in found[0].message


def test_bytes_not_utf8(tmp_path):
    path = tmp_path / "spec.yaml"
    path.write_bytes(b"name: x\nsteps: 3\nlate_window: \xff\n")
    with pytest.raises(SpecError) as info:
        load_spec(path)
    assert [p.line for p in info.value.problems] == [3]
    assert "invalid YAML" in str(info.value)
    assert "\n" not in str(info.value)


def test_missing_file(tmp_path):
    path = tmp_path / "nothing.yaml"
    with pytest.raises(FileNotFoundError, match=re.escape(str(path))):
        load_spec(path)
