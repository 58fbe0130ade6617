"""Every figure spec through `submit --smoke`: one local Ray, SQLite MLflow.

All specs share one Ray session, started here, and one SQLite MLflow store.
`pipeline.submit.main` runs in this process with that session in place of its
own `ray.init()`, so Ray starts once for the whole file.

The data sets are generated in their real on-disk formats by the writers of
test_data.py: CIFAR-10 python batches and Fashion-MNIST IDX files with 1000
images of every class, the per_class of the specs, because a task raises
ValueError when a class has fewer images than per_class. torchvision's CIFAR10
checks each batch against the MD5 sums in its class attributes, which
generated files never match. This process swaps those attributes as
test_data.py does, and every Ray worker does the same at start-up through
Ray's worker_process_setup_hook (`use_cifar10_md5s_in_worker`), so the
shipped loading code runs every check, against the files written here. The
data reach the driver and the workers through `--data-root` alone.

Trials train one config at a time (`--pack-mode sequential`), because pack
mode auto would first time each pack at several widths for 10 steps each,
longer than a smoke run of 1 to 20 steps. Packs are as large as one round of
trials on the local CPUs allows (`--pack-size`), so that each spec starts few
Ray actors: starting one and importing torch and MLflow there takes longer
than most smoke runs.
"""

import os
import re
from pathlib import Path
from typing import NamedTuple

import pytest
import ray
from mlflow.tracking import MlflowClient
from test_data import use_cifar10_md5s, write_cifar10, write_fashion_mnist

from pipeline import submit
from pipeline.__main__ import main
from pipeline.spec import load_spec
from pipeline.tracking import config_params
from tasks.datasets import DATA_ROOT_ENV

REPO = Path(__file__).resolve().parents[1]
SPEC_DIR = REPO / "sweep_specs"
# Cheap specs come first. fig09_resnet and fashion_mnist take most of the time.
SPECS = [
    "fig05_quadratic",
    "fig06_rmsprop_1d",
    "fig01_sin",
    "fig10_poisson_disk",
    "fig10_poisson_cube",
    "digits",
    "fig01_cifar2",
    "fig04_rmsprop",
    "fig07_states",
    "fig02_signgd_early",
    "fig03_speed",
    "fig09_resnet",
    "fashion_mnist",
]
# Images of each class in the generated sets, equal to the specs' per_class.
PER_CLASS = 1000
CIFAR10_TRAIN_BATCHES = 5
# Environment variable with the generated CIFAR-10 folder, for the hook in
# each Ray worker.
CIFAR10_FOLDER_ENV = "ADAM_REGIMES_TEST_CIFAR10_FOLDER"
REGIME_MAP_FILES = ("heatmap.png", "regime_map.png", "regime_grid.csv", "cells.csv")

pytestmark = pytest.mark.slow


class Session(NamedTuple):
    """The data root and the MLflow store that every spec's run shares."""

    data_root: Path
    tracking_uri: str


def use_cifar10_md5s_in_worker():
    """Make CIFAR10 in a Ray worker expect the MD5 sums of the generated files."""
    folder = os.environ.get(CIFAR10_FOLDER_ENV)
    if folder:
        # The worker ends with the Ray session, so nothing needs undoing.
        use_cifar10_md5s(pytest.MonkeyPatch(), Path(folder))


@pytest.fixture(scope="module")
def session(tmp_path_factory):
    """Write the data sets and start one local Ray whose workers accept them."""
    data_root = tmp_path_factory.mktemp("data")
    store = tmp_path_factory.mktemp("mlflow") / "mlflow.db"
    cifar10 = write_cifar10(
        data_root, per_class_per_batch=PER_CLASS // CIFAR10_TRAIN_BATCHES
    )
    write_fashion_mnist(data_root, per_class=PER_CLASS)
    # Workers inherit the environment of ray.init, and import this module.
    tests_dir = Path(__file__).resolve().parent
    python_path = [str(REPO), str(tests_dir), os.environ.get("PYTHONPATH", "")]
    with pytest.MonkeyPatch.context() as patch:
        for name in ("RAY_ADDRESS", "MLFLOW_TRACKING_URI", DATA_ROOT_ENV):
            patch.delenv(name, raising=False)
        patch.setenv("PYTHONPATH", os.pathsep.join(filter(None, python_path)))
        use_cifar10_md5s(patch, cifar10)
        ray.init(
            include_dashboard=False,
            runtime_env={
                "worker_process_setup_hook": (
                    f"{__name__}.{use_cifar10_md5s_in_worker.__name__}"
                ),
                "env_vars": {CIFAR10_FOLDER_ENV: str(cifar10)},
            },
        )
        patch.setattr(submit, "_start_ray", lambda: ray)
        try:
            yield Session(data_root, f"sqlite:///{store}")
        finally:
            ray.shutdown()


def expected_figures(sweep):
    """Return the names of the files that the spec's figures must write."""
    names = []
    if "regime_map" in sweep.figures:
        names += REGIME_MAP_FILES
    if "curves" in sweep.figures:
        for task in sorted({config.task for config in sweep.configs}):
            names += [f"curves_{task}.png", f"curves_{task}.csv"]
            if "state" in sweep.record:
                names += [f"state_{task}.png", f"state_{task}.csv"]
    return names


def run_key(params):
    """Return the params that tell one config of a sweep from another."""
    fields = ("task", "task_options", "optimizer", "lr", "a", "b", "seed", "steps")
    return tuple(params[field] for field in fields)


@pytest.mark.parametrize("name", SPECS)
def test_spec_smoke_run(name, session, tmp_path, monkeypatch, capsys):
    spec = SPEC_DIR / f"{name}.yaml"
    sweep = load_spec(spec, smoke=True)
    monkeypatch.chdir(tmp_path)
    cpus = int(ray.cluster_resources()["CPU"])
    pack_size = -(-len(sweep.configs) // cpus)
    argv = ["submit", str(spec), "--smoke", "--tracking-uri", session.tracking_uri]
    argv += ["--data-root", str(session.data_root)]
    argv += ["--pack-mode", "sequential", "--pack-size", str(pack_size)]
    code = main(argv)
    out, err = capsys.readouterr()
    assert code == 0, err[-3000:]

    client = MlflowClient(tracking_uri=session.tracking_uri)
    experiment = client.get_experiment_by_name(sweep.name)
    runs = client.search_runs([experiment.experiment_id], max_results=1000)
    expected = sorted(
        run_key({p.key: p.value for p in config_params(config)})
        for config in sweep.configs
    )
    assert sorted(run_key(run.data.params) for run in runs) == expected
    assert {run.info.status for run in runs} == {"FINISHED"}

    figure_dir = tmp_path / "figures" / sweep.name
    for file_name in expected_figures(sweep):
        assert (figure_dir / file_name).is_file(), file_name
    printed = re.findall(r"^output: +(.+)$", out, flags=re.MULTILINE)
    assert printed
    for path in printed:
        assert Path(path).is_file(), path
