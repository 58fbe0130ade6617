"""A trial whose training raises ends its runs FAILED and keeps what they logged."""

import pytest
from mlflow.tracking import MlflowClient

from pipeline import tracking, trial
from pipeline.config import Config
from pipeline.packs import make_packs


def test_failed_training_marks_runs_failed(tmp_path, monkeypatch):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    experiment_id = tracking.setup_experiment(uri, "fails")
    configs = [Config("quadratic", "adam", 1e-3, a, 10.0, 0, 50, 10,
                      dtype="float64") for a in (1.0, 10.0, 100.0)]
    packs = make_packs(configs, pack_size=3, mode="sequential")
    setup = {"tracking_uri": uri, "experiment_id": experiment_id,
             "resources": {"cpu": 1}, "device": "cpu", "data_root": None,
             "record": (), "tags": {"spec_file": "fails.yaml"}}
    calls = []
    real_train = trial.train_pack

    def train_then_fail(*args, **kwargs):
        # Training the second config raises, as a real failure would.
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("device lost")
        return real_train(*args, **kwargs)

    monkeypatch.setattr(trial, "train_pack", train_then_fail)
    with pytest.raises(RuntimeError, match="device lost"):
        trial.run_pack({"pack_id": 0}, packs, setup)

    client = MlflowClient(uri)
    runs = client.search_runs([experiment_id], order_by=["attributes.start_time"])
    status = {r.data.params["a"]: r.info.status for r in runs}
    assert status == {"1.0": "FINISHED", "10.0": "FAILED", "100.0": "FAILED"}
    failed = next(r for r in runs if r.data.params["a"] == "10.0")
    assert "device lost" in failed.data.tags["error"]
    finished = next(r for r in runs if r.data.params["a"] == "1.0")
    assert "late_loss" in finished.data.metrics
