"""sweep_specs/bench_sin_8x8.yaml end to end, three ways, in one run.

    python -m bench.end_to_end [--out /tmp/bench_e2e] [--hand-rows 8]

(i) by hand: one Ray Tune trial per config, a plain torch loop with
torch.optim.Adam, `mlflow.log_metric` at every step (what a user writes
without this pipeline); (ii) this pipeline with pack size 1; (iii) this
pipeline with automatic packs. Prints wall time, config-steps/s and the
share of the wall time spent outside training for each. The hand-written
way costs about 10x the others here, so `--hand-rows` runs only that many
rows of a (8 configs each) and its rate is per config-step of that slice.
"""

import argparse
import time
from pathlib import Path

from bench.common import REPO, outside_share, submit, tune_wall

SPEC = REPO / "sweep_specs" / "bench_sin_8x8.yaml"


def hand_trainable(config):
    import mlflow
    import torch
    from ray import tune

    from tasks import get_task

    torch.set_num_threads(1)
    started = time.perf_counter()
    mlflow.set_tracking_uri(config["uri"])
    mlflow.set_experiment("bench_hand")
    task = get_task("sin_regression")
    problem = task.build(0)
    x, y = problem.data["x"], problem.data["y"]
    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Linear(5, 100), torch.nn.ReLU(), torch.nn.Linear(100, 100),
        torch.nn.ReLU(), torch.nn.Linear(100, 1))
    lr = 1e-3
    betas = (1 - config["b"] * lr, 1 - config["a"] * lr)
    opt = torch.optim.Adam(model.parameters(), lr=lr, betas=betas)
    train = 0.0
    with mlflow.start_run():
        mlflow.log_params({"a": config["a"], "b": config["b"], "lr": lr})
        for step in range(config["steps"]):
            t0 = time.perf_counter()
            opt.zero_grad()
            loss = torch.mean((model(x) - y) ** 2)
            loss.backward()
            opt.step()
            value = loss.item()
            train += time.perf_counter() - t0
            mlflow.log_metric("loss", value, step=step)
    tune.report({"train_seconds": train,
                 "trial_seconds": time.perf_counter() - started})


def run_by_hand(workdir, rows, steps=2000):
    import numpy as np
    import ray
    from ray import tune

    workdir.mkdir(parents=True, exist_ok=True)
    uri = f"sqlite:///{workdir / 'mlflow.db'}"
    import mlflow

    mlflow.set_tracking_uri(uri)
    mlflow.set_experiment("bench_hand")
    grid = [float(v) for v in np.geomspace(0.1, 100, 8)]
    a_values = grid[:rows]
    ray.init(include_dashboard=False)
    started = time.perf_counter()
    tuner = tune.Tuner(
        tune.with_resources(hand_trainable, {"cpu": 1}),
        param_space={"a": tune.grid_search(a_values),
                     "b": tune.grid_search(grid),
                     "steps": steps, "uri": uri},
        run_config=tune.RunConfig(storage_path=str(workdir / "ray_results"),
                                  verbose=0))
    results = tuner.fit()
    wall = time.perf_counter() - started
    ray.shutdown()
    train = sum(r.metrics["train_seconds"] for r in results)
    return wall, 1 - train / (2 * wall), len(a_values) * len(grid) * steps


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="/tmp/bench_e2e")
    parser.add_argument("--hand-rows", type=int, default=8, choices=range(0, 9),
                        help="rows of a the hand-written way runs (0 skips it)")
    args = parser.parse_args(argv)
    out = Path(args.out)
    config_steps = 64 * 2000
    rows = []
    if args.hand_rows:
        wall, outside, steps = run_by_hand(out / "hand", args.hand_rows)
        rows.append(("(i) by hand: trial per config, log_metric per step",
                     steps, wall, wall, round(100 * outside)))
    for label, flags, folder in (
        ("(ii) pipeline, pack size 1", ["--pack-size", "1"], "pack1"),
        ("(iii) pipeline, automatic packs", [], "auto"),
    ):
        wall, summary = submit(SPEC, out / folder, *flags)
        rows.append((label, config_steps, wall, tune_wall(summary),
                     outside_share(summary)))
        print(summary, flush=True)

    print("| way | configs | wall s (whole command) | wall s (Tune phase) "
          "| config-steps/s (whole) | outside training % (Tune phase) |")
    print("|---|---|---|---|---|---|")
    for label, steps, wall, tune_s, outside in rows:
        print(f"| {label} | {steps // 2000} | {wall:.1f} | {tune_s:.1f} | "
              f"{steps / wall:.0f} | {outside} |")


if __name__ == "__main__":
    main()
