"""`python -m pipeline submit SPEC`: validate, plan, run with Ray Tune, draw.

The driver validates the whole spec and checks every task's data before any
trial starts. It creates the MLflow store and experiment once, then lets Ray
Tune schedule one trial per pack on a local Ray (`ray.init()`) or on the
cluster named by RAY_ADDRESS. At the end it draws the spec's figures and prints where
everything went.
"""

import argparse
import logging
import os
import subprocess
import sys
import time
import uuid
from importlib import metadata
from pathlib import Path

from analysis.files import file_part
from pipeline import tracking
from pipeline.packs import auto_pack_size, concurrent_slots, make_packs
from pipeline.spec import SpecError, load_spec
from tasks import task_for

log = logging.getLogger("pipeline")


def add_arguments(parser):
    parser.add_argument("spec", help="path of the YAML sweep spec")
    parser.add_argument(
        "--tracking-uri",
        help="MLflow tracking URI (default: $MLFLOW_TRACKING_URI, else "
        "sqlite:///mlflow.db in the working directory)",
    )
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="validate the spec and print the plan; run nothing",
    )
    parser.add_argument(
        "--smoke",
        action="store_true",
        help="train the spec's smoke steps (a few) per config",
    )
    parser.add_argument(
        "--pack-size",
        type=_positive_int,
        help="configs per trial (default: the spec's, else auto)",
    )
    parser.add_argument(
        "--pack-mode",
        choices=("auto", "stacked", "sequential"),
        help="how a trial trains its pack (default: the spec's)",
    )
    parser.add_argument(
        "--compile",
        action="store_true",
        help="torch.compile each task's loss in every worker "
        "(pays for long runs: about 20 s to compile)",
    )
    parser.add_argument(
        "--data-root",
        help="folder that contains the data sets (default: the spec's data_root)",
    )
    parser.add_argument(
        "--download",
        action="store_true",
        help="download missing data sets (needs the network)",
    )
    parser.add_argument(
        "--out", help="folder for the figures (default: figures/<sweep name>)"
    )


def _positive_int(text):
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(
            f"invalid pack size {text!r}: give an integer >= 1, or leave "
            f"--pack-size out for the automatic size"
        )
    return value


def _git_commit():
    here = Path(__file__).resolve().parent
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=here,
            capture_output=True,
            text=True,
            timeout=5,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def _package_version():
    try:
        return metadata.version("adam-regimes")
    except metadata.PackageNotFoundError:
        return "unknown"


def _check_data(sweep, download):
    """Check (or, with download, fetch) every task's files before any trial."""
    firsts = {}
    for config in sweep.configs:
        firsts.setdefault((config.task, config.task_options), config)
    for config in firsts.values():
        task_for(config, sweep.data_root).check_data(None, download)


def _cluster_resources(dry_run):
    if dry_run:
        return {"CPU": float(os.cpu_count() or 1), "GPU": 0.0}
    import ray

    return ray.cluster_resources()


def _plan(sweep, args, cluster):
    slots = concurrent_slots(sweep.resources, cluster)
    if slots == 0 and args.dry_run and os.environ.get("RAY_ADDRESS"):
        # The dry run can measure only this machine, not the cluster that will run.
        slots = 1
    if slots == 0:
        raise ValueError(
            f"a trial needs {sweep.resources} but the Ray cluster has "
            f"{ {k: v for k, v in cluster.items() if k in ('CPU', 'GPU')} }: "
            f"lower `resources` in the spec or use a larger cluster"
        )
    size = args.pack_size if args.pack_size is not None else sweep.pack_size
    if size == "auto":
        size = auto_pack_size(sweep.configs, slots)
    mode = args.pack_mode or sweep.pack_mode
    packs = make_packs(sweep.configs, size, mode)
    print(
        f"spec {sweep.path}: {len(sweep.configs)} configs in {len(packs)} "
        f"trials (pack size {size}, mode {mode}); per trial "
        f"{sweep.resources}; {slots} trials at once"
    )
    return packs, slots


def _start_ray():
    import ray

    address = os.environ.get("RAY_ADDRESS")
    if address:
        ray.init(address=address)
    else:
        ray.init(include_dashboard=False)
    return ray


def _draw(sweep, uri, out_dir):
    from analysis.curves import draw_curves
    from analysis.regime_map import draw_regime_maps

    paths = []
    if "regime_map" in sweep.figures:
        paths += draw_regime_maps(sweep.name, uri, out_dir)
    if "curves" in sweep.figures:
        paths += draw_curves(sweep.name, uri, out_dir)
    return paths


def _load(args):
    """Return the validated Sweep with the command line's overrides, or None."""
    try:
        sweep = load_spec(args.spec, smoke=args.smoke)
    except (SpecError, FileNotFoundError) as error:
        print(f"error: {error}", file=sys.stderr)
        return None
    except OSError as error:
        print(f"error: cannot read spec {args.spec}: {error.strerror}", file=sys.stderr)
        return None
    if args.data_root:
        sweep.data_root = args.data_root
    if sweep.data_root:
        # Trials run in folders of their own: pass them an absolute path.
        sweep.data_root = str(Path(sweep.data_root).expanduser().resolve())
    try:
        _check_data(sweep, args.download)
    except (FileNotFoundError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return None
    return sweep


def _out_dir(args, sweep):
    out_dir = Path(args.out) if args.out else Path("figures") / file_part(sweep.name)
    if out_dir.exists() and not out_dir.is_dir():
        raise ValueError(f"--out {out_dir} is a file: give a folder")
    return out_dir


def main(args):
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    sweep = _load(args)
    if sweep is None:
        return 2
    try:
        out_dir = _out_dir(args, sweep)
        if args.dry_run:
            _plan(sweep, args, _cluster_resources(dry_run=True))
            return 0
        uri = tracking.absolute_tracking_uri(
            args.tracking_uri or tracking.default_tracking_uri()
        )
        experiment_id = tracking.setup_experiment(uri, sweep.name)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except Exception as error:  # noqa: BLE001 - MLflow raises many kinds
        print(f"error: cannot open the MLflow store {uri}: {error}", file=sys.stderr)
        return 2

    _start_ray()
    try:
        packs, slots = _plan(sweep, args, _cluster_resources(dry_run=False))
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    submission = uuid.uuid4().hex[:12]
    setup = _setup(sweep, args, uri, experiment_id, submission)

    from pipeline.tune_run import run_trials

    started = time.perf_counter()
    stats, errors = run_trials(sweep, packs, setup)
    wall = time.perf_counter() - started
    errors += tracking.fail_orphaned_runs(uri, experiment_id, submission)
    _report(stats, errors, wall, slots)

    paths = _draw(sweep, uri, out_dir) if stats else []
    print(f"tracking URI: {uri}")
    print(f"experiment:   {sweep.name} (submission {submission})")
    for path in paths:
        print(f"output:       {path}")
    return 1 if errors else 0


def _setup(sweep, args, uri, experiment_id, submission):
    """Return what every trial needs besides its pack."""
    return {
        "tracking_uri": uri,
        "experiment_id": experiment_id,
        "resources": sweep.resources,
        "device": sweep.device,
        "data_root": sweep.data_root,
        "compile": args.compile,
        "record": tuple(sweep.record),
        "tags": {
            "spec_file": Path(sweep.path).name,
            "spec_hash": sweep.spec_hash,
            "submission": submission,
            "package_version": _package_version(),
            "git_commit": _git_commit() or "unknown",
            "smoke": str(bool(args.smoke)).lower(),
        },
    }


def _report(stats, errors, wall, slots):
    train = sum(s.get("train_seconds", 0.0) for s in stats)
    trial = sum(s.get("trial_seconds", 0.0) for s in stats)
    steps = sum(s.get("config_steps", 0) for s in stats)
    busy = min(slots, max(len(stats), 1))
    outside = 1.0 - train / (wall * busy) if wall > 0 else 0.0
    print(
        f"{len(stats)} trials finished in {wall:.1f} s wall: "
        f"{steps / wall:.0f} config-steps/s; training {train:.1f} s, "
        f"in-trial overhead {trial - train:.1f} s; time outside training "
        f"{100 * outside:.0f} % of {busy} slot(s) x wall"
    )
    for error in errors:
        print(f"error: {error}", file=sys.stderr)
