"""`python -m pipeline submit --dry-run` on good and bad specs."""

import pytest

from pipeline.__main__ import main

GOOD = """\
name: plan
task: sin_regression
optimizer: adam
lr: 1e-3
a: {logspace: [0.1, 100, 4]}
b: [1, 10]
steps: 100
late_window: 10
"""

# (what is wrong, the spec's text, the line the message must name, a fragment)
BAD = [
    ("string for a number", GOOD.replace("lr: 1e-3", "lr: '1e-3'"), 4, "lr"),
    ("unquoted off", GOOD.replace("name: plan", "name: off"), 1, "quote"),
    ("duplicate key", GOOD + "steps: 200\n", 9, "lines 7 and 9"),
    ("unknown key", GOOD + "late_windw: 5\n", 9, "late_window"),
    ("beta out of range", GOOD.replace("b: [1, 10]", "b: [1, 2000]"), 6,
     "beta1"),
]


def test_dry_run_prints_plan(tmp_path, capsys):
    spec = tmp_path / "plan.yaml"
    spec.write_text(GOOD)
    assert main(["submit", str(spec), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "8 configs" in out
    assert "'cpu': 1" in out


@pytest.mark.parametrize("kind,text,line,fragment", BAD, ids=[b[0] for b in BAD])
def test_dry_run_rejects_bad_spec(tmp_path, capsys, kind, text, line, fragment):
    spec = tmp_path / "bad.yaml"
    spec.write_text(text)
    assert main(["submit", str(spec), "--dry-run"]) == 2
    err = capsys.readouterr().err
    assert f"bad.yaml:{line}:" in err
    assert fragment in err


def test_missing_spec_names_path(tmp_path, capsys):
    assert main(["submit", str(tmp_path / "nope.yaml"), "--dry-run"]) == 2
    assert "nope.yaml" in capsys.readouterr().err


def test_pack_size_must_be_positive(tmp_path, capsys):
    spec = tmp_path / "plan.yaml"
    spec.write_text(GOOD)
    with pytest.raises(SystemExit):
        main(["submit", str(spec), "--dry-run", "--pack-size", "0"])
    assert "invalid pack size '0'" in capsys.readouterr().err


def test_gpu_trial_on_cpu_machine_is_rejected(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    spec = tmp_path / "gpu.yaml"
    spec.write_text(GOOD + "resources: {cpu: 1, gpu: 1}\n")
    assert main(["submit", str(spec), "--dry-run"]) == 2
    err = capsys.readouterr().err
    assert "'gpu': 1" in err
    assert "lower `resources`" in err


def test_spec_folder_is_rejected(tmp_path, capsys):
    assert main(["submit", str(tmp_path), "--dry-run"]) == 2
    assert "cannot read spec" in capsys.readouterr().err
