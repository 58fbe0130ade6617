"""A 1024-config sweep on the 10-D quadratic: stacked packs against one
config per trial, both through `python -m pipeline submit`.

    python bench/quadratic_sweep.py [--out DIR] [--per-trial-configs 128]

The one-config-per-trial way runs a 128-config slice of the same grid
(running all 1024 as separate trials costs about 10 minutes here), and the
comparison is per config: seconds of wall time per config for each way.
"""

import argparse
from pathlib import Path

from bench.common import submit, tune_wall

SPEC = """\
name: bench_quadratic_{n}
task: quadratic
optimizer: adam
lr: 1.0e-3
a: {{logspace: [0.1, 100, {na}]}}
b: {{logspace: [0.1, 100, {nb}]}}
steps: 2000
late_window: 500
pack: {{size: {size}, mode: {mode}}}

"""


def _spec(folder, na, nb, size, mode):
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "spec.yaml"
    path.write_text(SPEC.format(n=na * nb, na=na, nb=nb, size=size, mode=mode))
    return path


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="/tmp/bench_quadratic")
    parser.add_argument("--per-trial-configs", type=int, default=128,
                        choices=(128, 256, 512, 1024))
    args = parser.parse_args(argv)
    out = Path(args.out)

    rows = []
    stacked = _spec(out / "stacked", 32, 32, "auto", "stacked")
    wall, summary = submit(stacked, out / "stacked")
    rows.append(("stacked packs (auto size)", 1024, wall, tune_wall(summary)))
    n = args.per_trial_configs
    single = _spec(out / "single", 32, n // 32, 1, "sequential")
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
