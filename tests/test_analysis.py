"""Analysis against a real SQLite MLflow store written in the tracking schema."""

import csv
import json
import logging
import math
import time

import matplotlib.image
import numpy as np
import pytest
from mlflow import MlflowClient
from mlflow.entities import Metric, Param, RunTag

from analysis import curves, regime_map, runs
from analysis.regime_map import Cell, build_grids
from analysis.regimes import CONVERGED, DIVERGENCE, OSCILLATION, SPIKES

STEPS = 1000
LATE_WINDOW = 400
LR = 1e-3
TASK = "sin_regression"
GRID = (1.0, 10.0, 100.0)
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

# Regime of each (a, b) point of the main experiment, placed where Ma, Wu and E
# (2020, Section 4) find them: spikes for b > a, oscillation for a = b and
# divergence for a > b.
EXPECTED = {
    (1.0, 1.0): CONVERGED,
    (10.0, 10.0): OSCILLATION,
    (100.0, 100.0): OSCILLATION,
    (1.0, 10.0): SPIKES,
    (1.0, 100.0): SPIKES,
    (10.0, 100.0): SPIKES,
    (10.0, 1.0): DIVERGENCE,
    (100.0, 10.0): DIVERGENCE,
    (100.0, 1.0): DIVERGENCE,
}
DIVERGED_AT = 700


# Synthetic curves of STEPS steps with the loss of each regime.


def converging_curve():
    return 1e-3 + np.exp(-np.arange(STEPS) / 50.0)


def oscillating_curve(level=1e-3):
    steps = np.arange(STEPS)
    return np.exp(-steps / 50.0) + level * (1.5 + 0.5 * (-1.0) ** steps)


def spiking_curve():
    loss = 1e-4 + np.exp(-np.arange(STEPS) / 50.0)
    for start in range(300, STEPS, 150):
        loss[start : start + 40] += 0.1 * np.exp(-np.arange(40) / 5.0)
    return loss


def stalling_curve():
    return 1.0 + 0.5 * np.abs(np.sin(np.arange(STEPS) / 7.0))


def diverging_curve():
    loss = np.exp(-np.arange(DIVERGED_AT + 1) / 50.0) + 1e-3
    loss[DIVERGED_AT - 20 : DIVERGED_AT] = np.geomspace(1.0, 1e30, 20)
    loss[DIVERGED_AT] = np.inf
    return loss


def curve_for(a, b):
    regime = EXPECTED[a, b]
    if (a, b) == (100.0, 1.0):
        return diverging_curve()
    return {
        CONVERGED: converging_curve,
        OSCILLATION: oscillating_curve,
        SPIKES: spiking_curve,
        DIVERGENCE: stalling_curve,
    }[regime]()


# Runs logged exactly as the driver logs them.


def log_run(
    client,
    experiment_id,
    loss,
    *,
    optimizer="adam",
    lr=LR,
    a=None,
    b=None,
    seed=0,
    task=TASK,
    status="FINISHED",
    with_curve=True,
    tmp_path=None,
):
    """Log one config's run in the tracking schema and return its run id."""
    beta1 = "none" if b is None else repr(1.0 - b * lr)
    beta2 = "none" if a is None else repr(1.0 - a * lr)
    parts = [optimizer, f"lr={lr:g}"]
    parts += [f"a={a:g}"] if a is not None else []
    parts += [f"b={b:g}"] if b is not None else []
    label = " ".join(parts + [f"seed={seed}"])
    params = {
        "task": task,
        "task_options": json.dumps({"n_points": 64}),
        "optimizer": optimizer,
        "lr": repr(float(lr)),
        "a": "none" if a is None else repr(float(a)),
        "b": "none" if b is None else repr(float(b)),
        "beta1": beta1,
        "beta2": beta2,
        "eps": repr(1e-8),
        "seed": str(seed),
        "steps": str(STEPS),
        "late_window": str(LATE_WINDOW),
        "dtype": "float32",
    }
    tags = {
        "spec_file": "sweep_specs/test.yaml",
        "spec_hash": "0" * 64,
        "package_version": "0.1.0",
        "pack_id": f"pack-{seed}",
        "pack_mode": "stacked",
        "pack_width": "9",
        "device": "cpu",
        "torch_version": "2.14.1",
        "hostname": "test",
        "smoke": "false",
    }
    run = client.create_run(experiment_id, run_name=label)
    run_id = run.info.run_id

    now = int(time.time() * 1000)
    finite = np.isfinite(loss)
    late = loss[-LATE_WINDOW:]
    late_loss = float(np.mean(late)) if finite.all() else math.inf
    metrics = [
        Metric("loss", float(v), now, int(s))
        for s, v in enumerate(loss[::50])
        if math.isfinite(v)
    ]
    metrics += [
        Metric("late_loss", late_loss, now, 0),
        Metric("final_loss", float(loss[-1]), now, 0),
        Metric("min_loss", float(np.min(loss[finite])), now, 0),
        Metric("train_seconds", 1.5, now, 0),
    ]
    if not finite.all():
        metrics.append(Metric("diverged_at", float(np.argmin(finite)), now, 0))
    client.log_batch(
        run_id,
        metrics=metrics,
        params=[Param(k, v) for k, v in params.items()],
        tags=[RunTag(k, v) for k, v in tags.items()],
    )
    if with_curve:
        path = tmp_path / "curve.npz"
        np.savez(path, step=np.arange(loss.size, dtype=np.int64), loss=loss)
        client.log_artifact(run_id, str(path))
    if status != "RUNNING":
        client.set_terminated(run_id, status)
    return run_id


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """A SQLite store with a 3 x 3 sweep, a two-pair sweep and an empty one."""
    root = tmp_path_factory.mktemp("mlflow")
    uri = f"sqlite:///{root / 'mlflow.db'}"
    client = MlflowClient(uri)

    def new_experiment(name):
        return client.create_experiment(name, artifact_location=str(root / name))

    main_id = new_experiment("ab-grid")
    ids = {}
    for a in GRID:
        for b in GRID:
            ids[a, b, 0] = log_run(
                client, main_id, curve_for(a, b), a=a, b=b, tmp_path=root
            )
    ids[10.0, 10.0, 1] = log_run(
        client, main_id, oscillating_curve(3e-3), a=10.0, b=10.0, seed=1, tmp_path=root
    )
    failed = log_run(
        client,
        main_id,
        converging_curve(),
        a=1.0,
        b=1.0,
        seed=1,
        status="FAILED",
        tmp_path=root,
    )
    no_curve = log_run(
        client,
        main_id,
        converging_curve(),
        a=1.0,
        b=1.0,
        seed=2,
        with_curve=False,
        tmp_path=root,
    )
    rmsprop = log_run(
        client, main_id, oscillating_curve(), optimizer="rmsprop", a=10.0, tmp_path=root
    )

    pairs_id = new_experiment("two-pairs")
    for lr in (1e-3, 1e-2):
        for a, b in ((1.0, 1.0), (1.0, 10.0)):
            log_run(client, pairs_id, curve_for(a, b), lr=lr, a=a, b=b, tmp_path=root)
    new_experiment("empty")
    return {
        "uri": uri,
        "root": root,
        "ids": ids,
        "failed": failed,
        "no_curve": no_curve,
        "rmsprop": rmsprop,
    }


def read_csv(path):
    with open(path, newline="") as f:
        reader = csv.DictReader(f)
        return reader.fieldnames, list(reader)


def assert_png(path, min_bytes=20_000):
    data = path.read_bytes()
    assert data.startswith(PNG_SIGNATURE), path
    assert len(data) > min_bytes, (path, len(data))
    image = matplotlib.image.imread(path)
    assert image.shape[0] > 400, image.shape
    assert image.shape[1] > 500, image.shape
    assert image[..., :3].std() > 0.05, "image is nearly uniform"


# Loading runs.


def test_load_runs_finished_only(store, caplog):
    with caplog.at_level(logging.WARNING, logger="analysis.runs"):
        records = runs.load_runs("ab-grid", store["uri"])
    run_ids = {r.run_id for r in records}
    assert store["failed"] not in run_ids
    assert store["no_curve"] not in run_ids
    assert len(records) == len(store["ids"]) + 1
    assert store["failed"] in caplog.text
    assert "FAILED" in caplog.text
    assert store["no_curve"] in caplog.text
    assert "curve.npz" in caplog.text


def test_load_runs_parses_schema(store):
    records = {r.run_id: r for r in runs.load_runs("ab-grid", store["uri"])}
    adam = records[store["ids"][10.0, 100.0, 0]]
    assert adam.lr == LR
    assert adam.a == 10.0
    assert adam.b == 100.0
    assert adam.params["beta1"] == pytest.approx(0.9)
    assert adam.seed == 0
    assert adam.params["steps"] == STEPS
    assert adam.late_window == LATE_WINDOW
    assert adam.params["task_options"] == {"n_points": 64}
    assert adam.tags["pack_mode"] == "stacked"
    assert adam.label() == "adam lr=0.001 a=10 b=100 seed=0"
    assert adam.curve["loss"].shape == (STEPS,)
    assert adam.diverged_at is None
    rmsprop = records[store["rmsprop"]]
    assert rmsprop.b is None
    assert rmsprop.params["beta1"] is None


def test_load_runs_inf_metric(store):
    records = {r.run_id: r for r in runs.load_runs("ab-grid", store["uri"])}
    diverged = records[store["ids"][100.0, 1.0, 0]]
    assert diverged.metrics["late_loss"] == math.inf
    assert diverged.metrics["final_loss"] == math.inf
    assert diverged.diverged_at == DIVERGED_AT
    assert diverged.curve["loss"][-1] == math.inf
    finite = records[store["ids"][1.0, 1.0, 0]]
    assert math.isfinite(finite.metrics["late_loss"])


def test_parse_metric_threshold():
    assert runs.parse_metric(1.7976931348623157e308) == math.inf
    assert runs.parse_metric(1.797e308) == math.inf
    assert runs.parse_metric(-1.7976931348623157e308) == -math.inf
    assert runs.parse_metric(1.796e308) == 1.796e308


def test_load_runs_pages(store):
    paged = runs.load_runs("ab-grid", store["uri"], curves=False, page_size=3)
    whole = runs.load_runs("ab-grid", store["uri"], curves=False)
    assert sorted(r.run_id for r in paged) == sorted(r.run_id for r in whole)
    assert len(paged) == len(store["ids"]) + 2


def test_load_runs_strict_names_missing(store):
    with pytest.raises(runs.IncompleteRunsError) as excinfo:
        runs.load_runs("ab-grid", store["uri"], strict=True)
    message = str(excinfo.value)
    assert store["failed"] in message
    assert "status FAILED" in message
    assert store["no_curve"] in message


def test_unknown_experiment_lists_names(store):
    with pytest.raises(runs.ExperimentNotFoundError) as excinfo:
        runs.load_runs("ab-gird", store["uri"])
    message = str(excinfo.value)
    assert "'ab-gird' not found" in message
    for name in ("ab-grid", "two-pairs", "empty"):
        assert name in message


def test_empty_experiment_no_finished_runs(store):
    with pytest.raises(runs.NoFinishedRunsError, match="has no finished runs"):
        runs.load_runs("empty", store["uri"])


def test_missing_sqlite_file(tmp_path):
    uri = f"sqlite:///{tmp_path / 'absent.db'}"
    with pytest.raises(runs.RunsError, match="not found"):
        runs.load_runs("ab-grid", uri)
    assert not (tmp_path / "absent.db").exists()


# Regime maps.


@pytest.fixture(scope="module")
def maps(store):
    out = store["root"] / "maps"
    regime_map.main(
        ["--experiment", "ab-grid", "--tracking-uri", store["uri"], "--out", str(out)]
    )
    return out


def test_regime_map_files(maps):
    for name in ("heatmap.png", "regime_map.png", "cells.csv", "regime_grid.csv"):
        assert (maps / name).is_file(), name
    assert_png(maps / "heatmap.png")
    assert_png(maps / "regime_map.png")


def test_cells_csv_rows(store, maps):
    columns, rows = read_csv(maps / "cells.csv")
    assert columns == ["a", "b", "lr", "task", "seed", "late_loss", "regime", "run_id"]
    assert len(rows) == len(store["ids"])
    for row in rows:
        key = (float(row["a"]), float(row["b"]), int(row["seed"]))
        assert row["run_id"] == store["ids"][key]
        assert row["regime"] == EXPECTED[key[:2]], key
        assert float(row["lr"]) == LR
        assert row["task"] == TASK


def test_cells_csv_inf_late_loss(maps):
    _, rows = read_csv(maps / "cells.csv")
    by_point = {(float(r["a"]), float(r["b"]), int(r["seed"])): r for r in rows}
    assert float(by_point[100.0, 1.0, 0]["late_loss"]) == math.inf
    oscillating = float(by_point[10.0, 10.0, 0]["late_loss"])
    assert oscillating == pytest.approx(1.5e-3, rel=1e-3)


def test_regime_grid_mean_over_seeds(maps):
    _, rows = read_csv(maps / "regime_grid.csv")
    assert len(rows) == len(EXPECTED)
    row = next(r for r in rows if float(r["a"]) == 10.0 and float(r["b"]) == 10.0)
    assert int(row["seeds"]) == 2
    assert float(row["mean_late_loss"]) == pytest.approx(3e-3, rel=1e-3)
    assert row["regime"] == OSCILLATION
    assert row["regime_counts"] == "oscillation:2"


def test_label_cells_skips_rmsprop_with_info(store, caplog):
    records = runs.load_runs("ab-grid", store["uri"])
    with caplog.at_level(logging.INFO, logger="analysis.regime_map"):
        cells = regime_map.label_cells(records)
    assert "skipping 1 runs" in caplog.text
    assert "rmsprop: 1" in caplog.text
    assert store["rmsprop"] not in {c.run_id for c in cells}
    assert len(cells) == len(store["ids"])


def test_regime_map_strict_exits(store, tmp_path):
    with pytest.raises(SystemExit) as excinfo:
        regime_map.main(
            [
                "--experiment",
                "ab-grid",
                "--tracking-uri",
                store["uri"],
                "--out",
                str(tmp_path),
                "--strict",
            ]
        )
    assert store["failed"] in str(excinfo.value.code)
    assert not (tmp_path / "cells.csv").exists()


def test_draw_regime_maps_two_pairs(store, tmp_path):
    paths = regime_map.draw_regime_maps("two-pairs", store["uri"], tmp_path)
    names = [p.name for p in paths]
    for lr in ("0.001", "0.01"):
        for stem in ("heatmap", "regime_map"):
            assert f"{stem}_{TASK}_lr{lr}.png" in names
            assert_png(tmp_path / f"{stem}_{TASK}_lr{lr}.png")
        _, rows = read_csv(tmp_path / f"regime_grid_{TASK}_lr{lr}.csv")
        assert len(rows) == 2
    assert names[-1] == "cells.csv"
    assert len(paths) == 7
    assert not (tmp_path / "heatmap.png").exists()
    _, rows = read_csv(tmp_path / "cells.csv")
    assert sorted({r["lr"] for r in rows}) == ["0.001", "0.01"]
    assert len(rows) == 4


def test_default_tracking_uri(monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "sqlite:////tmp/elsewhere.db")
    assert runs.default_tracking_uri() == "sqlite:////tmp/elsewhere.db"
    monkeypatch.delenv("MLFLOW_TRACKING_URI")
    assert runs.default_tracking_uri() == "sqlite:///mlflow.db"


def test_regime_map_unknown_experiment_exits(store, tmp_path):
    with pytest.raises(SystemExit) as excinfo:
        regime_map.main(
            [
                "--experiment",
                "nope",
                "--tracking-uri",
                store["uri"],
                "--out",
                str(tmp_path),
            ]
        )
    message = str(excinfo.value.code)
    assert "Experiments in this store:" in message
    assert "ab-grid" in message


def test_regime_map_empty_experiment_exits(store, tmp_path):
    with pytest.raises(SystemExit) as excinfo:
        regime_map.main(
            [
                "--experiment",
                "empty",
                "--tracking-uri",
                store["uri"],
                "--out",
                str(tmp_path),
            ]
        )
    assert "has no finished runs" in str(excinfo.value.code)


def cell(a, b, seed, late_loss, regime):
    return Cell(
        a=a,
        b=b,
        lr=LR,
        task=TASK,
        seed=seed,
        late_loss=late_loss,
        regime=regime,
        run_id=f"r{seed}",
        late_window=LATE_WINDOW,
    )


def test_build_grids_tie_goes_to_severe():
    (grid,) = build_grids(
        [
            cell(1.0, 10.0, 0, 1e-3, OSCILLATION),
            cell(1.0, 10.0, 1, 2e-3, SPIKES),
            cell(10.0, 1.0, 0, 1e-3, OSCILLATION),
        ]
    )
    assert grid.regimes[0, 1] == SPIKES
    assert grid.mean_loss[0, 1] == pytest.approx(1.5e-3)
    assert grid.seeds[0, 1] == 2
    assert grid.regimes[0, 0] == ""
    assert np.isnan(grid.mean_loss[0, 0])
    assert grid.seeds[0, 0] == 0
    assert grid.regimes[1, 0] == OSCILLATION


def test_build_grids_inf_seed_makes_mean_inf():
    (grid,) = build_grids(
        [
            cell(1.0, 1.0, 0, 1e-3, CONVERGED),
            cell(1.0, 1.0, 1, math.inf, DIVERGENCE),
            cell(1.0, 1.0, 2, 1e-3, CONVERGED),
        ]
    )
    assert grid.mean_loss[0, 0] == math.inf
    assert grid.regimes[0, 0] == CONVERGED


# Loss curves.


def test_curves_files_and_table(store, tmp_path):
    curves.main(
        [
            "--experiment",
            "ab-grid",
            "--tracking-uri",
            store["uri"],
            "--out",
            str(tmp_path),
            "--x",
            "time",
            "--window",
            "500:1000",
        ]
    )
    assert_png(tmp_path / f"curves_{TASK}.png")
    columns, rows = read_csv(tmp_path / f"curves_{TASK}.csv")
    assert columns == ["run_id", "label", "step", "time", "loss"]
    run_ids = {r["run_id"] for r in rows}
    assert run_ids == set(store["ids"].values()) | {store["rmsprop"]}
    for row in rows[:50]:
        assert float(row["time"]) == pytest.approx(LR * int(row["step"]))
    diverged = [r for r in rows if r["run_id"] == store["ids"][100.0, 1.0, 0]]
    assert int(diverged[-1]["step"]) == DIVERGED_AT
    assert float(diverged[-1]["loss"]) == math.inf
    assert diverged[0]["label"] == "adam lr=0.001 a=100 b=1 seed=0"


def test_draw_curves_by_step(store, tmp_path):
    paths = curves.draw_curves("two-pairs", store["uri"], tmp_path)
    assert [p.name for p in paths] == [f"curves_{TASK}.png", f"curves_{TASK}.csv"]
    assert_png(paths[0])
    _, rows = read_csv(paths[1])
    assert len({r["run_id"] for r in rows}) == 4
    assert len(rows) == 4 * STEPS


@pytest.mark.parametrize("window", ["5-10", "10:5", "a:b", "1:2:3", "-1:5"])
def test_curves_bad_window_exits(store, tmp_path, capsys, window):
    with pytest.raises(SystemExit) as excinfo:
        curves.main(
            [
                "--experiment",
                "ab-grid",
                "--tracking-uri",
                store["uri"],
                "--out",
                str(tmp_path),
                f"--window={window}",
            ]
        )
    assert excinfo.value.code == 2
    assert "expected START:END" in capsys.readouterr().err


def test_downsample_keeps_spike_and_ends():
    loss = np.full(100_000, 1e-3)
    loss[54_321] = 10.0
    loss[-1] = np.inf
    indices = curves.downsample(loss, max_points=2000)
    assert indices.size <= 2002
    assert 54_321 in indices
    assert indices[0] == 0
    assert indices[-1] == loss.size - 1


def test_plotted_indices_dense_in_window():
    loss = np.linspace(1.0, 0.0, 100_000)
    step = np.arange(loss.size)
    indices = curves.plotted_indices(step, loss, window=(1000, 1500))
    assert set(range(1000, 1500)) <= set(indices.tolist())
