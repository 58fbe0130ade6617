"""Config-steps per second with and without `record: [state]`, per task.

    python bench/record_cost.py [--tasks sin_regression,quadratic_1d] [--steps 200]

Recording the state adds the norms of x, m and sqrt(v) at every step; this
prints the rate both ways (best of three, one thread) and their ratio.
"""

import argparse
import dataclasses
import time

import torch

from pipeline.config import Config
from pipeline.engine import train_pack
from tasks import get_task


def rate(task, problem, config, width, record):
    configs = [config] * width
    started = time.perf_counter()
    train_pack(task, problem, configs, width, record)
    return width * config.steps / (time.perf_counter() - started)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", default="sin_regression,quadratic,quadratic_1d")
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--width", type=int, default=1)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    print("| task | width | without state steps/s | with state steps/s | ratio |")
    print("|---|---|---|---|---|")
    for name in args.tasks.split(","):
        task = get_task(name)
        problem = task.build(0, "cpu", task.default_dtype)
        dtype = str(task.default_dtype).removeprefix("torch.")
        config = Config(name, "rmsprop", 1e-3, 10.0, None, 0, args.steps, 10,
                        dtype=dtype)
        train_pack(task, problem, [dataclasses.replace(config, steps=3)], 1)
        plain = max(rate(task, problem, config, args.width, ()) for _ in range(3))
        state = max(rate(task, problem, config, args.width, ("state",))
                    for _ in range(3))
        print(f"| {name} | {args.width} | {plain:.0f} | {state:.0f} | "
              f"{state / plain:.2f} |")


if __name__ == "__main__":
    main()
