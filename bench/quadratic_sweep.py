"""A 1024-config sweep on the 10-D quadratic: stacked packs against one
config per trial, both through `python -m pipeline submit`.

    python bench/quadratic_sweep.py [--out DIR] [--per-trial-configs 128]

The one-config-per-trial way runs a slice of the same grid: all 32 values
of a with the first 4 values of b, 128 configs (running all 1024 as separate
trials costs about 10 minutes here). The comparison is per config: seconds
of wall time per config for each way.
"""

import argparse
from pathlib import Path

import numpy as np

from bench.common import submit, tune_wall

SPEC = """\
name: bench_quadratic_{n}
task: quadratic
optimizer: adam
lr: 1.0e-3
a: {{logspace: [0.1, 100, 32]}}
b: {b}
steps: 2000
late_window: 500
pack: {{size: {size}, mode: {mode}}}

"""


def _spec(folder, nb, size, mode):
    """Write a spec of all 32 a values and the first nb of the 32 b values."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "spec.yaml"
    # The spec's logspace is np.geomspace, so these are the grid's own values.
    b = [float(v) for v in np.geomspace(0.1, 100, 32)[:nb]]
    path.write_text(SPEC.format(n=32 * nb, b=b, size=size, mode=mode))
    return path


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="/tmp/bench_quadratic")
    parser.add_argument("--per-trial-configs", type=int, default=128,
                        choices=(128, 256, 512, 1024))
    args = parser.parse_args(argv)
    out = Path(args.out)

    rows = []
    stacked = _spec(out / "stacked", 32, "auto", "stacked")
    wall, summary = submit(stacked, out / "stacked")
    rows.append(("stacked packs (auto size)", 1024, wall, tune_wall(summary)))
    n = args.per_trial_configs
    single = _spec(out / "single", n // 32, 1, "sequential")
    wall, summary = submit(single, out / "single")
    rows.append(("one config per trial", n, wall, tune_wall(summary)))

    print("| way | configs | wall s (whole command) | wall s (Tune phase) "
          "| ms per config (Tune phase) |")
    print("|---|---|---|---|---|")
    for label, count, wall, tune_s in rows:
        print(f"| {label} | {count} | {wall:.1f} | {tune_s:.1f} | "
              f"{1000 * tune_s / count:.1f} |")
    ratio = (rows[1][3] / rows[1][1]) / (rows[0][3] / rows[0][1])
    print(f"\nper-config speed-up of stacked packs (Tune phase): {ratio:.0f}x")


if __name__ == "__main__":
    main()
