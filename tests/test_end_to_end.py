"""smoke.yaml through `python -m pipeline submit`: a real local Ray, SQLite MLflow."""

import csv
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from mlflow.tracking import MlflowClient

REPO = Path(__file__).resolve().parents[1]
SPEC = REPO / "sweep_specs" / "smoke.yaml"

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("smoke")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env.pop("RAY_ADDRESS", None)
    env.pop("MLFLOW_TRACKING_URI", None)
    proc = subprocess.run(
        [sys.executable, "-m", "pipeline", "submit", str(SPEC)],
        cwd=workdir, env=env, capture_output=True, text=True, timeout=600)
    return workdir, proc


def test_submit_exits_cleanly(smoke_run):
    _, proc = smoke_run
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "tracking URI: sqlite:///" in proc.stdout
    assert "experiment:   smoke" in proc.stdout


def _runs(workdir):
    client = MlflowClient(tracking_uri=f"sqlite:///{workdir / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("smoke")
    return client, client.search_runs([experiment.experiment_id])


def test_one_finished_run_per_config(smoke_run):
    workdir, _ = smoke_run
    _, runs = _runs(workdir)
    points = sorted((float(r.data.params["a"]), float(r.data.params["b"]))
                    for r in runs)
    assert points == [(1.0, 1.0), (1.0, 100.0), (100.0, 1.0), (100.0, 100.0)]
    assert {r.info.status for r in runs} == {"FINISHED"}


def test_runs_carry_params_tags_metrics(smoke_run):
    workdir, _ = smoke_run
    _, runs = _runs(workdir)
    run = next(r for r in runs if r.data.params["a"] == "100.0"
               and r.data.params["b"] == "1.0")
    params = run.data.params
    assert params["task"] == "sin_regression"
    assert params["optimizer"] == "adam"
    assert params["lr"] == "0.001"
    assert params["beta1"] == repr(1 - 1.0 * 1e-3)
    assert params["beta2"] == repr(1 - 100.0 * 1e-3)
    assert params["steps"] == "200"
    assert run.data.tags["spec_file"] == "smoke.yaml"
    assert len(run.data.tags["spec_hash"]) == 64
    assert run.data.tags["pack_mode"] in ("stacked", "sequential")
    for name in ("late_loss", "final_loss", "min_loss"):
        assert name in run.data.metrics


def test_curve_artifact_has_every_step(smoke_run, tmp_path):
    workdir, _ = smoke_run
    client, runs = _runs(workdir)
    for run in runs:
        path = client.download_artifacts(run.info.run_id, "curve.npz", str(tmp_path))
        curve = np.load(path)
        assert list(curve["step"][:3]) == [0, 1, 2]
        assert len(curve["loss"]) == 200
        history = client.get_metric_history(run.info.run_id, "loss")
        assert len(history) == 200
        late = curve["loss"][-50:].mean()
        assert run.data.metrics["late_loss"] == pytest.approx(late, rel=1e-6)


def test_cells_csv_lists_every_config(smoke_run):
    workdir, _ = smoke_run
    _, runs = _runs(workdir)
    with open(workdir / "figures" / "smoke" / "cells.csv") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == ["a", "b", "lr", "task", "seed", "late_loss",
                             "regime", "run_id"]
    assert sorted(r["run_id"] for r in rows) == sorted(r.info.run_id for r in runs)
    assert (workdir / "figures" / "smoke" / "regime_map.png").stat().st_size > 1000
    assert (workdir / "figures" / "smoke" / "heatmap.png").stat().st_size > 1000
