"""MLflow runs of a sweep: one per config, written in a few batched calls.

The schema (params, tags, metrics, the `curve.npz` artifact) is described in
docs/tracking.md. Curves stay in memory during training and are written once
at the end: a `log_metric` call per step costs more than a sin-task step on
SQLite. Even batched, MLflow's SQL store spends about 0.1 ms of worker CPU
per metric point, which is why the UI's copy of a curve is kept short.
"""

import io
import json
import logging
import math
import os
import tempfile
from pathlib import Path

import numpy as np
from mlflow.entities import Metric, Param, RunTag
from mlflow.tracking import MlflowClient

log = logging.getLogger(__name__)

# MLflow accepts at most 1000 metrics in one log_batch call.
BATCH_LIMIT = 1000
# Buckets of the downsampled `loss` metric: each keeps its min and its max,
# so a curve is at most 2 * LOSS_BUCKETS = 320 points. The MLflow UI's charts
# request 320 steps a run (maxResults in MLflow 3.17's UI) and thin longer
# histories evenly by step, which would drop spikes again. 320 points are
# drawn as written, and curve.npz keeps every step.
LOSS_BUCKETS = 160
# Arrays the engine records at every step with `record: [state]`.
STATE_ARRAYS = ("x_norm", "m_norm", "sqrt_v_norm")


def default_tracking_uri():
    """MLFLOW_TRACKING_URI if set, else a SQLite file in the working directory."""
    uri = os.environ.get("MLFLOW_TRACKING_URI")
    if uri:
        return uri
    return f"sqlite:///{Path.cwd() / 'mlflow.db'}"


def absolute_tracking_uri(uri):
    """Make a relative SQLite path absolute: Ray workers run in other folders."""
    prefix = "sqlite:///"
    if uri.startswith(prefix) and not uri.startswith(prefix + "/"):
        return prefix + str(Path(uri[len(prefix) :]).resolve())
    return uri


def _artifact_root(uri):
    if uri.startswith("sqlite:///"):
        db = Path(uri[len("sqlite:///") :])
        return (db.parent / "mlartifacts").resolve().as_uri()
    return None


def setup_experiment(uri, name):
    """Create the store and the experiment once; return the experiment id."""
    client = MlflowClient(tracking_uri=uri)
    experiment = client.get_experiment_by_name(name)
    if experiment is not None:
        if experiment.lifecycle_stage == "deleted":
            raise ValueError(
                f"experiment {name!r} is deleted in {uri}: restore it with "
                f"`mlflow experiments restore` or rename the sweep"
            )
        return experiment.experiment_id
    root = _artifact_root(uri)
    location = f"{root}/{name}" if root else None
    return client.create_experiment(name, artifact_location=location)


def format_param(value):
    """Write a param one fixed way: repr of floats, str of ints, `none`."""
    if value is None:
        return "none"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    return str(value)


def config_params(config):
    beta1, beta2 = config.betas
    values = {
        "task": config.task,
        "task_options": json.dumps(dict(config.task_options), sort_keys=True),
        "optimizer": config.optimizer,
        "lr": float(config.lr),
        "a": None if config.a is None else float(config.a),
        "b": None if config.b is None else float(config.b),
        "beta1": beta1,
        "beta2": beta2,
        "eps": float(config.eps),
        "seed": int(config.seed),
        "steps": int(config.steps),
        "late_window": int(config.late_window),
        "dtype": config.dtype,
    }
    return [Param(k, format_param(v)) for k, v in values.items()]


def create_runs(client, experiment_id, configs, tags):
    """Create the runs of a pack together, with params and tags; return ids."""
    run_ids = []
    for config in configs:
        run = client.create_run(experiment_id, run_name=config.label())
        client.log_batch(
            run.info.run_id,
            params=config_params(config),
            tags=[RunTag(k, str(v)) for k, v in tags.items()],
        )
        run_ids.append(run.info.run_id)
    return run_ids


def downsample(loss):
    """Keep each bucket's min and max (at their steps): spikes survive."""
    steps = np.arange(len(loss))
    finite = np.isfinite(loss)
    steps, loss = steps[finite], loss[finite]
    if len(loss) <= 2 * LOSS_BUCKETS:
        return steps, loss
    keep = []
    for chunk in np.array_split(np.arange(len(loss)), LOSS_BUCKETS):
        lo = chunk[np.argmin(loss[chunk])]
        hi = chunk[np.argmax(loss[chunk])]
        keep.extend(sorted({int(lo), int(hi)}))
    keep = np.asarray(keep)
    return steps[keep], loss[keep]


def summary(loss, late_window, diverged_at):
    """late_loss, final_loss and min_loss; inf for a diverged curve."""
    finite = loss[np.isfinite(loss)]
    out = {"min_loss": float(finite.min()) if len(finite) else math.inf}
    if diverged_at is not None:
        out.update(
            late_loss=math.inf, final_loss=math.inf, diverged_at=float(diverged_at)
        )
    else:
        out.update(
            late_loss=float(loss[-late_window:].mean()), final_loss=float(loss[-1])
        )
    return out


def _metrics(result, config, timestamp):
    metrics = [
        Metric("loss", float(v), timestamp, int(s))
        for s, v in zip(*downsample(result.loss))
    ]
    values = summary(result.loss, config.late_window, result.diverged_at)
    values["train_seconds"] = result.seconds
    metrics += [Metric(k, v, timestamp, 0) for k, v in values.items()]
    for name, series in result.arrays.items():
        if name in STATE_ARRAYS:
            # State norms are recorded at every step: log them thinned
            # evenly, since curve.npz keeps every step.
            steps = np.unique(
                np.linspace(0, len(series) - 1, 2 * LOSS_BUCKETS).astype(int)
            )
            metrics += [
                Metric(f"state/{name}", float(series[s]), timestamp, int(s))
                for s in steps
                if math.isfinite(series[s])
            ]
            continue
        steps = result.arrays.get(f"{name}_step")
        if name.endswith("_step") or steps is None:
            continue
        metrics += [
            Metric(name, float(v), timestamp, int(s))
            for s, v in zip(steps, series)
            if math.isfinite(v)
        ]
    return metrics


def log_metrics(client, run_id, config, result, timestamp):
    """Write a config's metrics in log_batch calls of at most BATCH_LIMIT."""
    metrics = _metrics(result, config, timestamp)
    for start in range(0, len(metrics), BATCH_LIMIT):
        client.log_batch(run_id, metrics=metrics[start : start + BATCH_LIMIT])


def finish_run(client, run_id, config, result, timestamp):
    """Write a config's metrics and curve.npz, then end the run FINISHED."""
    log_metrics(client, run_id, config, result, timestamp)

    buffer = io.BytesIO()
    np.savez_compressed(
        buffer, step=np.arange(len(result.loss)), loss=result.loss, **result.arrays
    )
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "curve.npz"
        path.write_bytes(buffer.getvalue())
        client.log_artifact(run_id, str(path))
    client.set_terminated(run_id, "FINISHED")


def fail_orphaned_runs(uri, experiment_id, submission):
    """End FAILED the runs of a submission still RUNNING after its trials.

    A trial whose worker process was killed (out of memory, say) cannot end
    its own runs. Returns one error message per such run.
    """
    client = MlflowClient(tracking_uri=uri)
    query = f"tags.submission = '{submission}' and attributes.status = 'RUNNING'"
    runs = client.search_runs([experiment_id], filter_string=query, max_results=50000)
    fail_runs(
        client,
        [r.info.run_id for r in runs],
        "its trial ended without finishing it (worker killed?)",
    )
    return [f"run {r.info.run_id} ({r.info.run_name}) did not finish" for r in runs]


def fail_runs(client, run_ids, error):
    """End runs FAILED, keeping what they logged, with the error as a tag."""
    for run_id in run_ids:
        try:
            client.set_tag(run_id, "error", str(error)[:5000])
            client.set_terminated(run_id, "FAILED")
        except Exception:  # noqa: BLE001 - keep failing the other runs
            log.warning("could not mark run %s as FAILED", run_id, exc_info=True)
