"""Runs written by the pipeline's tracking, read back and drawn in state space."""

import csv

import numpy as np
from mlflow.tracking import MlflowClient

from analysis.curves import draw_curves
from pipeline import tracking
from pipeline.config import Config
from pipeline.engine import ConfigResult


def test_state_space_figure_from_tracked_runs(tmp_path):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    experiment_id = tracking.setup_experiment(uri, "states")
    client = MlflowClient(uri)
    configs = [Config("sin_regression", "adam", 1e-3, a, b, 0, 400, 100)
               for a, b in ((1.0, 100.0), (10.0, 10.0))]
    run_ids = tracking.create_runs(client, experiment_id, configs, {"smoke": "false"})
    steps = np.arange(400)
    for config, run_id in zip(configs, run_ids):
        arrays = {"x_norm": 1 + 0.01 * np.sin(steps), "m_norm": np.cos(steps) ** 2,
                  "sqrt_v_norm": np.full(400, 0.5)}
        result = ConfigResult(np.exp(-steps / 100.0), None, 1.0, arrays)
        tracking.finish_run(client, run_id, config, result, timestamp=0)

    paths = draw_curves("states", uri, tmp_path / "out", window=(100, 300))
    names = sorted(p.name for p in paths)
    assert "state_sin_regression.png" in names
    assert (tmp_path / "out" / "state_sin_regression.png").stat().st_size > 5000
    with open(tmp_path / "out" / "state_sin_regression.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 2 * 200
    assert {int(r["step"]) for r in rows} == set(range(100, 300))
    # The UI's copy is thinned to 2 * LOSS_BUCKETS evenly spaced steps.
    history = client.get_metric_history(run_ids[0], "state/x_norm")
    assert len(history) == 2 * tracking.LOSS_BUCKETS
    assert {m.step for m in history} >= {0, 399}


def test_maps_use_latest_submission(tmp_path):
    from analysis.runs import load_runs

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    experiment_id = tracking.setup_experiment(uri, "again")
    client = MlflowClient(uri)
    config = Config("sin_regression", "adam", 1e-3, 1.0, 1.0, 0, 50, 10)
    steps = np.arange(50)
    for submission, count in (("first", 2), ("second", 1)):
        run_ids = tracking.create_runs(client, experiment_id, [config] * count,
                                       {"submission": submission})
        for run_id in run_ids:
            result = ConfigResult(np.exp(-steps / 10.0), None, 1.0)
            tracking.finish_run(client, run_id, config, result, timestamp=0)

    latest = load_runs("again", uri)
    assert [r.tags["submission"] for r in latest] == ["second"]
    assert len(load_runs("again", uri, submission="all")) == 3
    assert len(load_runs("again", uri, submission="first")) == 2
