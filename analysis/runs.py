"""Load the runs of one sweep from MLflow into plain records.

The schema is the one the driver writes (docs/tracking.md): one run per
config, params as strings (`repr(float)`, `str(int)` or `none`), metrics where
MLflow stores inf as the largest float, and the artifact `curve.npz` with the
loss at every step. Only runs with status FINISHED are returned. Other runs,
and finished runs without `curve.npz` or a required param, are skipped with a
warning, or raise IncompleteRunsError in strict mode.
"""

import json
import logging
import math
import os
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import mlflow.artifacts
import numpy as np
from mlflow import MlflowClient
from mlflow.entities import ViewType
from mlflow.exceptions import MlflowException

from pipeline.config import config_label

logger = logging.getLogger(__name__)

CURVE_ARTIFACT = "curve.npz"
DEFAULT_TRACKING_URI = "sqlite:///mlflow.db"
# MLflow's SQL store saves inf as +-1.7976931348623157e308, the largest float.
MLFLOW_INF = 1.797e308
PAGE_SIZE = 1000

FLOAT_PARAMS = ("lr", "a", "b", "beta1", "beta2", "eps")
INT_PARAMS = ("seed", "steps", "late_window")
JSON_PARAMS = ("task_options",)
REQUIRED_PARAMS = ("task", "optimizer", "lr", "a", "b", "seed", "late_window")


class RunsError(Exception):
    """The runs of an experiment cannot be loaded as requested."""


class ExperimentNotFoundError(RunsError, LookupError):
    """No experiment of the requested name exists in the tracking store."""


class NoFinishedRunsError(RunsError):
    """The experiment has no FINISHED run with a curve to analyse."""


class IncompleteRunsError(RunsError):
    """Strict mode found runs that are not finished or lack data."""


@dataclass
class RunRecord:
    """One config's run: parsed params and metrics, tags and its curve.

    `curve` maps the array names of curve.npz (`step`, `loss`, ...) to arrays.
    """

    run_id: str
    run_name: str
    params: dict
    metrics: dict
    tags: dict = field(default_factory=dict)
    curve: dict = field(default_factory=dict)

    @property
    def task(self):
        return self.params["task"]

    @property
    def optimizer(self):
        return self.params["optimizer"]

    @property
    def lr(self):
        return self.params["lr"]

    @property
    def a(self):
        return self.params["a"]

    @property
    def b(self):
        return self.params["b"]

    @property
    def seed(self):
        return self.params["seed"]

    @property
    def late_window(self):
        return self.params["late_window"]

    @property
    def diverged_at(self):
        """The first step with a NaN or inf loss, or None."""
        step = self.metrics.get("diverged_at")
        return None if step is None or not math.isfinite(step) else int(step)

    def label(self):
        """Return the config's label, as the driver names the run."""
        return config_label(self.optimizer, self.lr, self.a, self.b, self.seed)


def default_tracking_uri():
    """Return $MLFLOW_TRACKING_URI, else the relative URI sqlite:///mlflow.db.

    The relative SQLite path names mlflow.db in the working directory.
    """
    return os.environ.get("MLFLOW_TRACKING_URI") or DEFAULT_TRACKING_URI


def parse_param(key, value):
    """Convert one param string of the tracking schema to its Python value."""
    if value == "none":
        return None
    if key in FLOAT_PARAMS:
        return float(value)
    if key in INT_PARAMS:
        return int(value)
    if key in JSON_PARAMS:
        return json.loads(value)
    return value


def parse_metric(value):
    """Map MLflow's stand-in for inf (|value| >= 1.797e308) back to inf."""
    if value >= MLFLOW_INF:
        return math.inf
    if value <= -MLFLOW_INF:
        return -math.inf
    return value


def load_runs(
    experiment,
    tracking_uri=None,
    *,
    strict=False,
    curves=True,
    page_size=PAGE_SIZE,
    submission="latest",
):
    """Load the FINISHED runs of an experiment, with their curves.

    NOTE: every curve is held in memory at once, about 16 bytes per step per
    run (int64 step and float64 loss).

    Args:
        experiment: the experiment name (the sweep spec's `name`).
        tracking_uri: MLflow tracking URI; default_tracking_uri() if None.
        strict: raise IncompleteRunsError, naming every run that is not
            FINISHED or lacks curve.npz or a required param, instead of
            skipping those runs with a warning.
        curves: download and load each run's curve.npz.
        page_size: runs fetched per search request.
        submission: which submission's runs to keep, by the `submission` tag
            that `python -m pipeline submit` sets: "latest" (the one whose
            runs started last), "all", or a submission id. Submitting a spec
            again adds its runs to the same experiment, and a map that mixed
            them would count a rerun or a smoke run as another seed.

    Returns:
        A list of RunRecord, ordered by run start time.

    Raises:
        ExperimentNotFoundError: no experiment of that name; the message
            lists the experiments in the store.
        NoFinishedRunsError: the experiment has no usable FINISHED run.
        IncompleteRunsError: in strict mode, as described above.
    """
    tracking_uri = tracking_uri or default_tracking_uri()
    client = _open_client(tracking_uri)
    experiment_id = _find_experiment(client, experiment, tracking_uri)
    runs = _select_submission(
        _search_all_runs(client, experiment_id, page_size), submission, experiment
    )

    problems = []
    finished = []
    for run in runs:
        if run.info.status == "FINISHED":
            finished.append(run)
        else:
            problems.append(
                f"run {run.info.run_id} ({run.info.run_name}) "
                f"has status {run.info.status}"
            )

    records = []
    with tempfile.TemporaryDirectory(prefix="analysis-curves-") as tmp:
        for run in finished:
            record, problem = _load_record(run, tracking_uri, tmp, curves)
            if problem:
                problems.append(problem)
            else:
                records.append(record)

    _report_problems(experiment, problems, strict)
    if not records:
        statuses = Counter(run.info.status for run in runs)
        summary = ", ".join(f"{n} {s}" for s, n in sorted(statuses.items()))
        raise NoFinishedRunsError(
            f"experiment '{experiment}' has no finished runs with a curve "
            f"({len(runs)} runs{': ' + summary if runs else ''})"
        )
    return records


def _select_submission(runs, submission, experiment):
    if submission == "all" or not runs:
        return runs
    if submission == "latest":
        newest = max(runs, key=lambda run: run.info.start_time or 0)
        submission = newest.data.tags.get("submission")
        if submission is None:
            return runs
    kept = [run for run in runs if run.data.tags.get("submission") == submission]
    if not kept:
        known = sorted({r.data.tags.get("submission", "none") for r in runs})
        raise RunsError(
            f"experiment '{experiment}' has no runs of submission "
            f"{submission!r}; its submissions are {', '.join(known)}"
        )
    dropped = len(runs) - len(kept)
    if dropped:
        logger.info(
            "using the %d runs of submission %s; %d runs of other submissions "
            "of '%s' are left out (pass submission='all' to keep them)",
            len(kept),
            submission,
            dropped,
            experiment,
        )
    return kept


def _open_client(tracking_uri):
    # MLflow creates a missing SQLite file, which would hide a wrong path.
    prefix = "sqlite:///"
    if tracking_uri.startswith(prefix):
        path = Path(tracking_uri[len(prefix) :])
        if not path.is_file():
            raise RunsError(
                f"tracking store {tracking_uri} not found: no file {path}. "
                "Pass --tracking-uri or set MLFLOW_TRACKING_URI."
            )
    return MlflowClient(tracking_uri)


def _find_experiment(client, name, tracking_uri):
    experiment = client.get_experiment_by_name(name)
    if experiment is not None:
        return experiment.experiment_id
    names = sorted(e.name for e in _search_all_experiments(client))
    known = ", ".join(names) if names else "none"
    raise ExperimentNotFoundError(
        f"experiment '{name}' not found in {tracking_uri}. "
        f"Experiments in this store: {known}"
    )


def _search_all_experiments(client):
    experiments, token = [], None
    while True:
        page = client.search_experiments(page_token=token)
        experiments.extend(page)
        token = page.token
        if not token:
            return experiments


def _search_all_runs(client, experiment_id, page_size):
    runs, token = [], None
    while True:
        page = client.search_runs(
            [experiment_id],
            run_view_type=ViewType.ACTIVE_ONLY,
            max_results=page_size,
            order_by=["attributes.start_time ASC"],
            page_token=token,
        )
        runs.extend(page)
        token = page.token
        if not token:
            return runs


def _load_record(run, tracking_uri, tmp, curves):
    """Return (RunRecord, None), or (None, problem) for an unusable run."""
    name = f"run {run.info.run_id} ({run.info.run_name})"
    missing = [key for key in REQUIRED_PARAMS if key not in run.data.params]
    if missing:
        return None, f"{name} lacks the params {', '.join(missing)}"
    try:
        params = {k: parse_param(k, v) for k, v in run.data.params.items()}
    except ValueError as exc:
        return None, f"{name} has an invalid param: {exc}"

    record = RunRecord(
        run_id=run.info.run_id,
        run_name=run.info.run_name,
        params=params,
        metrics={k: parse_metric(v) for k, v in run.data.metrics.items()},
        tags=dict(run.data.tags),
    )
    if curves:
        try:
            record.curve = _download_curve(run, tracking_uri, tmp)
        except (OSError, ValueError, MlflowException) as exc:
            # MLflow's download errors list every file; the last line names it.
            lines = str(exc).strip().splitlines()
            reason = lines[-1] if lines else type(exc).__name__
            return None, f"{name} has no readable {CURVE_ARTIFACT}: {reason}"
    return record, None


def _download_curve(run, tracking_uri, tmp):
    dst = Path(tmp) / run.info.run_id
    dst.mkdir()
    path = mlflow.artifacts.download_artifacts(
        artifact_uri=f"{run.info.artifact_uri}/{CURVE_ARTIFACT}",
        dst_path=str(dst),
        tracking_uri=tracking_uri,
    )
    with np.load(path) as data:
        curve = {key: data[key] for key in data.files}
    if "loss" not in curve:
        raise ValueError(f"arrays {sorted(curve)} lack 'loss'")
    return curve


def _report_problems(experiment, problems, strict):
    if not problems:
        return
    if strict:
        raise IncompleteRunsError(
            f"experiment '{experiment}' is incomplete ({len(problems)} runs "
            "unusable):\n  " + "\n  ".join(problems)
        )
    listed = problems[:20]
    more = len(problems) - len(listed)
    logger.warning(
        "experiment '%s': skipping %d runs:\n  %s%s",
        experiment,
        len(problems),
        "\n  ".join(listed),
        f"\n  ... and {more} more" if more else "",
    )
