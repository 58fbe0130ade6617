"""The benchmark scripts run and print the rows they document."""

import pytest
import torch
from mlflow.tracking import MlflowClient

from bench import kernel, standins, tracking_cost
from pipeline import tracking
from tasks import datasets, get_task


@pytest.fixture(autouse=True)
def restore_loaders(monkeypatch):
    """Put the real data-set loaders back after each test.

    use_standins replaces module attributes of tasks.datasets for the rest
    of the process, which would feed random images to later tests.
    """
    for loader, *_ in standins.DATASETS.values():
        monkeypatch.setattr(datasets, loader, getattr(datasets, loader))


def test_standins_replace_missing_data_sets(tmp_path):
    tasks = ["quadratic", "cifar2_mlp", "resnet18_half_cifar10"]
    replaced = standins.use_standins(tmp_path, tasks)
    assert replaced == [("CIFAR-10", tmp_path)]

    images, labels = datasets.load_cifar10_train(tmp_path)
    assert images.shape == (50_000, 3, 32, 32)
    assert images.dtype == torch.uint8
    assert torch.bincount(labels).tolist() == [5000] * 10
    task = get_task("cifar2_mlp", per_class=3, data_root=str(tmp_path))
    problem = task.build(0)
    assert problem.data["x"].shape == (6, 3072)


def test_standins_skip_unread_data_sets(tmp_path):
    assert standins.use_standins(tmp_path, ["quadratic", "sin_regression"]) == []


def test_kernel_tables_have_task_rows(capsys):
    kernel.main(["--tasks", "quadratic", "--widths", "1,4", "--steps", "3",
                 "--repeats", "1"])
    rows = [[cell.strip() for cell in line.split("|")[1:-1]]
            for line in capsys.readouterr().out.splitlines()
            if line.startswith("| quadratic |")]
    rate_rows = [row for row in rows if len(row) == 6]
    auto_rows = [row for row in rows if len(row) == 4]
    assert [row[2] for row in rate_rows] == ["1", "4"]
    for row in rate_rows:
        assert float(row[3]) > 0
        assert float(row[4]) > 0
    # The auto table: pack size 4, and either width is a valid result.
    assert len(auto_rows) == 1
    assert auto_rows[0][1] == "4"
    assert auto_rows[0][2] in {"1", "4"}
    assert auto_rows[0][3] in {"1", "4"}


def test_kernel_rejects_bad_options(capsys):
    for argv in (["--tasks", "quadratic,nosuchtask"], ["--widths", "1,0"],
                 ["--widths", "1,,4"], ["--repeats", "0"], ["--steps", "-2"]):
        with pytest.raises(SystemExit):
            kernel.main(argv)
        err = capsys.readouterr().err
        assert "invalid" in err or "unknown task" in err, argv


def test_tracking_cost_counts_points(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(tracking, "LOSS_BUCKETS", tracking.LOSS_BUCKETS)
    default_buckets = tracking.LOSS_BUCKETS
    tracking_cost.main(["--runs", "2", "--out", str(tmp_path), "--buckets", "10,40"])
    assert tracking.LOSS_BUCKETS == default_buckets
    rows = [line.split("|") for line in capsys.readouterr().out.splitlines()
            if line.startswith("| ") and line[2].isdigit()]
    assert [(int(r[1]), int(r[2])) for r in rows] == [(10, 20), (40, 80)]

    # Each bucket count wrote 2 runs for the metrics alone and 2 finished
    # by finish_run, whose loss history has the points counted above.
    (store,) = tmp_path.glob("tracking_cost_*/mlflow.db")
    client = MlflowClient(f"sqlite:///{store}")
    for buckets, points in ((10, 20), (40, 80)):
        experiment = client.get_experiment_by_name(f"tracking_cost_{buckets}")
        runs = client.search_runs([experiment.experiment_id])
        finished = [r for r in runs if r.info.status == "FINISHED"]
        assert len(runs) == 4
        assert len(finished) == 2
        for run in finished:
            history = client.get_metric_history(run.info.run_id, "loss")
            assert len(history) == points
