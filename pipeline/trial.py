"""The Ray Tune trainable: one trial trains one pack of configs.

The trial's config carries only a pack id: the packs themselves reach the
workers once through the object store (``tune.with_parameters``), because
Tune's driver cost grows with the size of every trial's config.
"""

import logging
import socket
import time

import torch
from mlflow.tracking import MlflowClient
from ray import tune

from pipeline import tracking
from pipeline.calibrate import choose_width
from pipeline.engine import train_pack
from tasks import task_for

log = logging.getLogger(__name__)

DTYPES = {"float32": torch.float32, "float64": torch.float64}


def resolve_device(device, gpus):
    """Return the torch device of a trial: `auto` takes a GPU if the trial has one."""
    if device == "auto":
        use_cuda = gpus > 0 and torch.cuda.is_available()
        return torch.device("cuda" if use_cuda else "cpu")
    if device == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(
            "device is cuda but this worker sees no GPU: give the trial "
            "resources {gpu: 1} or set device: cpu"
        )
    return torch.device(device)


def _set_threads(cpus):
    # A worker uses as many threads as it has CPUs: two 1-thread processes
    # train faster than one 2-thread process on the same two cores.
    threads = max(1, int(cpus))
    if torch.get_num_threads() != threads:
        torch.set_num_threads(threads)
    return threads


_compiled_losses = {}


def _compiled(loss):
    """torch.compile the task's loss once per worker process and task class.

    Measured on the sin task on one CPU core: about 1.5x the eager steps/s,
    after a compilation of about 20 s, so it pays from a few thousand steps
    per worker on.
    """
    key = type(loss.__self__)
    if key not in _compiled_losses:
        _compiled_losses[key] = torch.compile(loss.__func__)
    compiled = _compiled_losses[key]
    owner = loss.__self__
    return lambda params, data: compiled(owner, params, data)


def _tags(setup, pack, device, mode, width):
    return {
        **setup["tags"],
        "pack_id": pack.pack_id,
        "pack_mode": mode,
        "pack_width": width,
        "device": str(device),
        "torch_version": torch.__version__,
        "hostname": socket.gethostname(),
        "compiled": str(bool(setup.get("compile"))).lower(),
    }


def run_pack(trial_config, packs, setup):
    """Train the pack named by trial_config["pack_id"] and log its runs."""
    started = time.perf_counter()
    pack = packs[trial_config["pack_id"]]
    configs = pack.configs
    threads = _set_threads(setup["resources"].get("cpu", 1))
    device = resolve_device(setup["device"], setup["resources"].get("gpu", 0))
    first = configs[0]
    task = task_for(first, setup["data_root"])
    if setup.get("compile"):
        task.loss = _compiled(task.loss)
    problem = task.build(first.seed, device, DTYPES[first.dtype])

    calibrated = time.perf_counter()
    width, rates = choose_width(task, problem, configs, pack.mode)
    mode = "sequential" if width == 1 else "stacked"
    calibration_seconds = time.perf_counter() - calibrated

    client = MlflowClient(tracking_uri=setup["tracking_uri"])
    tags = _tags(setup, pack, device, mode, width)
    run_ids = tracking.create_runs(client, setup["experiment_id"], configs, tags)

    train_seconds = diverged = 0
    done = 0
    try:
        for start in range(0, len(configs), width):
            chunk = configs[start : start + width]
            t0 = time.perf_counter()
            results = train_pack(task, problem, chunk, width, setup["record"])
            train_seconds += time.perf_counter() - t0
            stamp = int(time.time() * 1000)
            for config, result, run_id in zip(
                chunk, results, run_ids[start : start + width]
            ):
                tracking.finish_run(client, run_id, config, result, stamp)
                diverged += result.diverged_at is not None
            done = start + len(chunk)
    except BaseException as error:
        tracking.fail_runs(client, run_ids[done:], error)
        raise

    wall = time.perf_counter() - started
    tune.report(
        {
            "configs": len(configs),
            "diverged": diverged,
            "width": width,
            "threads": threads,
            "train_seconds": train_seconds,
            "calibration_seconds": calibration_seconds,
            "trial_seconds": wall,
            "config_steps": sum(c.steps for c in configs),
            "rates": str({k: round(v, 1) for k, v in rates.items()}),
        }
    )
