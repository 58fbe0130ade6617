"""Config-steps per second of one pack against its width K, per task.

    python bench/kernel.py [--tasks sin_regression,quadratic] [--widths 1,4,16]
        [--steps 20] [--device cpu] [--threads 1]

For each task and K it times `steps` steps of K configs trained stacked (one
computation) and sequential (one config after another), after a warm-up,
and prints a Markdown table. The baseline in the same run is a plain torch
loop: the task's loss, autograd and torch.optim.Adam on one config.
"""

import argparse
import dataclasses
import time

import torch

from pipeline.config import Config
from pipeline.engine import train_pack
from tasks import get_task

DEFAULT_TASKS = "sin_regression,quadratic,poisson_disk,digits_mlp"
# Tasks whose default sizes are too slow for a CPU benchmark get these.
SMALL = {"fashion_mnist_mlp": {"per_class": 200}, "cifar2_mlp": {"per_class": 200}}


def _sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def best_of(repeats, measure, *args):
    """Return the highest of `repeats` rates: noise on a shared machine only slows."""
    return max(measure(*args) for _ in range(repeats))


def plain_loop(task, problem, steps):
    params = [p.clone().requires_grad_(True) for p in problem.params.values()]
    names = list(problem.params)
    opt = torch.optim.Adam(params, lr=1e-3, betas=(0.99, 0.99))
    device = params[0].device
    for phase in (3, steps):
        _sync(device)
        started = time.perf_counter()
        for _ in range(phase):
            opt.zero_grad()
            loss = task.loss(dict(zip(names, params)), problem.data)
            loss.backward()
            opt.step()
        _sync(device)
    return steps / (time.perf_counter() - started)


def pack_rate(task, problem, config, width, count, steps):
    """Config-steps/s of `count` configs trained `width` at a time."""
    device = next(iter(problem.params.values())).device
    warm = dataclasses.replace(config, steps=2)
    train_pack(task, problem, [warm] * min(width, count), width)
    configs = [dataclasses.replace(config, steps=steps)] * count
    _sync(device)
    started = time.perf_counter()
    train_pack(task, problem, configs, width)
    _sync(device)
    return count * steps / (time.perf_counter() - started)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", default=DEFAULT_TASKS)
    parser.add_argument("--widths", default="1,4,16,64,256,1024")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument(
        "--repeats",
        type=int,
        default=3,
        help="measure each rate this many times, keep the best",
    )
    parser.add_argument(
        "--max-seconds",
        type=float,
        default=60.0,
        help="skip larger K once one measurement takes longer",
    )
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)

    print(
        "| task | plain loop steps/s | K | stacked config-steps/s "
        "| sequential config-steps/s | stacked / plain |"
    )
    print("|---|---|---|---|---|---|")
    for name in args.tasks.split(","):
        options = SMALL.get(name, {})
        task = get_task(name, **options)
        problem = task.build(0, device, task.default_dtype)
        dtype = str(task.default_dtype).removeprefix("torch.")
        config = Config(
            name,
            "adam",
            1e-3,
            10.0,
            10.0,
            0,
            args.steps,
            1,
            dtype=dtype,
            task_options=tuple(options.items()),
        )
        plain = best_of(args.repeats, plain_loop, task, problem, args.steps)
        for width in (int(w) for w in args.widths.split(",")):
            started = time.perf_counter()
            stacked = best_of(
                args.repeats, pack_rate, task, problem, config, width, width, args.steps
            )
            # Sequential throughput does not depend on K: time a few configs.
            sequential = best_of(
                args.repeats,
                pack_rate,
                task,
                problem,
                config,
                1,
                min(width, 4),
                args.steps,
            )
            print(
                f"| {name} | {plain:.0f} | {width} | {stacked:.0f} | "
                f"{sequential:.0f} | {stacked / plain:.2f} |",
                flush=True,
            )
            if time.perf_counter() - started > args.max_seconds:
                break


if __name__ == "__main__":
    main()
