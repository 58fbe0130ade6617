"""Run `python -m pipeline submit` as a user would and time it, and parse
the benchmarks' integer options."""

import argparse
import os
import re
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def submit(spec, workdir, *flags):
    """Run a sweep in `workdir`; return (wall seconds, driver's summary line)."""
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env.pop("MLFLOW_TRACKING_URI", None)
    started = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "pipeline", "submit", str(spec), *flags],
        cwd=workdir, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - started
    if proc.returncode != 0:
        raise RuntimeError(f"submit failed:\n{proc.stderr[-3000:]}")
    summary = next((line for line in proc.stdout.splitlines()
                    if "trials finished" in line), "")
    return wall, summary


def tune_wall(summary):
    """Wall seconds of the Tune phase, from the driver's summary line."""
    match = re.search(r"finished in ([\d.]+) s wall", summary)
    return float(match.group(1)) if match else float("nan")


def outside_share(summary):
    match = re.search(r"time outside training (\d+) %", summary)
    return int(match.group(1)) if match else -1


def positive_int(text):
    """Parse an option that must be an integer >= 1."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        message = f"{text!r} is invalid: expected an integer >= 1"
        raise argparse.ArgumentTypeError(message)
    return value


def positive_ints(text):
    """Parse a comma-separated list of integers >= 1."""
    return [positive_int(part) for part in text.split(",")]
