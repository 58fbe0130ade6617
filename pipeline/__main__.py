"""Command line: `python -m pipeline submit SPEC [options]`."""

import argparse
import sys

from pipeline import submit


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m pipeline",
        description="Run sweeps of Adam and RMSprop over (a, b) at fixed lr.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    submit.add_arguments(
        commands.add_parser(
            "submit", help="validate a sweep spec, run it with Ray Tune, draw it"
        )
    )
    args = parser.parse_args(argv)
    return submit.main(args)


if __name__ == "__main__":
    sys.exit(main())
