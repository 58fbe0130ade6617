"""Command-line options shared by the analysis commands."""

import logging
from pathlib import Path

from analysis.runs import RunsError


def add_run_arguments(parser):
    """Add the options that choose an experiment's runs and the output folder."""
    parser.add_argument(
        "--experiment",
        required=True,
        help="MLflow experiment name (the sweep spec's name)",
    )
    parser.add_argument(
        "--tracking-uri",
        default=None,
        help="MLflow tracking URI (default: $MLFLOW_TRACKING_URI, "
        "else sqlite:///mlflow.db in the working directory)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help="output folder (default: figures/<experiment>)",
    )
    parser.add_argument(
        "--submission",
        default="latest",
        help="the submission whose runs to draw: latest (default), all, or "
        "the id that `python -m pipeline submit` printed",
    )
    parser.add_argument(
        "--strict",
        action="store_true",
        help="fail if any run is unfinished or lacks its curve "
        "or params, instead of skipping it with a warning",
    )


def draw_and_print(draw, *args, **kwargs):
    """Call a drawing function and print the paths it wrote.

    A RunsError (unknown experiment, no finished runs, ...) exits with its
    message instead of a traceback.
    """
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    try:
        paths = draw(*args, **kwargs)
    except RunsError as exc:
        raise SystemExit(f"error: {exc}") from None
    for path in paths:
        print(path)
    return 0
