"""Worker time per MLflow run, split by call, for a 2000-step curve.

    python bench/tracking_cost.py [--runs 100] [--out DIR] [--buckets 160,500]

Creates `runs` runs in a new SQLite store (a new folder under DIR, or under
the system's temporary folder) with the pipeline's own calls
(tracking.create_runs, then tracking.finish_run), once for each number of
`loss` buckets. It prints milliseconds per run for three parts. "create"
makes a run with its params and tags. "finish" writes its metrics and
curve.npz and ends it. "metrics alone" is tracking.log_metrics only, timed
on other runs, so it estimates the metrics' share of "finish". The number
the pipeline uses is tracking.LOSS_BUCKETS, and the others are baselines
measured in the same run.
"""

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
from mlflow.tracking import MlflowClient

from bench.common import positive_int, positive_ints
from pipeline import tracking
from pipeline.config import Config
from pipeline.engine import ConfigResult


def _configs(runs, steps):
    return [
        Config("quadratic", "adam", 1e-3, 0.1 * (k + 1), 1.0, 0, steps, 500)
        for k in range(runs)
    ]


def measure(uri, buckets, runs, steps=2000):
    """Return the loss points per run and the milliseconds per run of each part."""
    default_buckets = tracking.LOSS_BUCKETS
    tracking.LOSS_BUCKETS = buckets
    try:
        return _measure(uri, buckets, runs, steps)
    finally:
        tracking.LOSS_BUCKETS = default_buckets


def _measure(uri, buckets, runs, steps):
    experiment = tracking.setup_experiment(uri, f"tracking_cost_{buckets}")
    client = MlflowClient(tracking_uri=uri)
    configs = _configs(runs, steps)
    rng = np.random.default_rng(0)
    result = ConfigResult(rng.random(steps), None, 1.0)
    tags = {"submission": "bench", "pack_id": "0"}

    started = time.perf_counter()
    run_ids = tracking.create_runs(client, experiment, configs, tags)
    parts = {"create": time.perf_counter() - started, "metrics": 0.0}
    stamp = int(time.time() * 1000)
    for config, run_id in zip(configs, run_ids):
        t0 = time.perf_counter()
        tracking.log_metrics(client, run_id, config, result, stamp)
        parts["metrics"] += time.perf_counter() - t0
    run_ids = tracking.create_runs(client, experiment, configs, tags)
    t0 = time.perf_counter()
    for config, run_id in zip(configs, run_ids):
        tracking.finish_run(client, run_id, config, result, stamp)
    parts["finish"] = time.perf_counter() - t0
    points = len(tracking.downsample(result.loss)[0])
    return points, {k: 1000 * v / runs for k, v in parts.items()}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=positive_int, default=100)
    parser.add_argument("--out", default=None, help="folder to create the store in")
    parser.add_argument(
        "--buckets",
        type=positive_ints,
        default=f"{tracking.LOSS_BUCKETS},500",
        help="comma-separated numbers of loss buckets, each >= 1",
    )
    args = parser.parse_args(argv)
    if args.out:
        Path(args.out).mkdir(parents=True, exist_ok=True)
    store = Path(tempfile.mkdtemp(prefix="tracking_cost_", dir=args.out))
    uri = f"sqlite:///{store / 'mlflow.db'}"
    print(f"store: {store}\n")

    print(
        "| loss buckets | loss points | create ms | finish ms "
        "| metrics alone ms | create + finish ms |"
    )
    print("|---|---|---|---|---|---|")
    for buckets in args.buckets:
        points, ms = measure(uri, buckets, args.runs)
        print(
            f"| {buckets} | {points} | {ms['create']:.1f} | {ms['finish']:.1f} "
            f"| {ms['metrics']:.1f} | {ms['create'] + ms['finish']:.1f} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
