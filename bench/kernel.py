"""Config-steps per second of one pack against its width K, per task.

    python bench/kernel.py [--tasks sin_regression,quadratic] [--widths 1,4,16]
        [--steps 20] [--device cpu] [--threads 1] [--data-root DIR] [--no-auto]

For each task and K it times `steps` steps of K configs trained stacked (one
computation) and sequential (one config after another), after a warm-up,
and prints a Markdown table. The baseline in the same run is a plain torch
loop: the task's loss, autograd and torch.optim.Adam on one config.
The data-set tasks time random images of the real shapes where their data
set is missing (bench/standins.py), and the output says so. A second table
gives, per task, the fastest width measured and the width that
`pack: {mode: auto}` picks for a pack as wide as the widest row.
"""

import argparse
import dataclasses
import time

import torch

from bench.common import positive_int, positive_ints
from bench.standins import use_standins
from pipeline.calibrate import MIN_STEPS_TO_PROBE, choose_width
from pipeline.config import Config
from pipeline.engine import train_pack
from tasks import TASKS, get_task

DEFAULT_TASKS = "sin_regression,quadratic,poisson_disk,digits_mlp"
# Sizes of the data-set tasks here: 2000 images for both MLPs (cifar2_mlp's
# default, a fifth of Fashion-MNIST's), and a tenth of the ResNet's data and
# batch, since their defaults take seconds a step on one CPU core.
SMALL = {
    "fashion_mnist_mlp": {"per_class": 200},
    "cifar2_mlp": {"per_class": 1000},
    "resnet18_half_cifar10": {"per_class": 100, "batch_size": 100},
}


def _sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _rate(value):
    # Whole numbers, except below 10 where a step takes over 0.1 s.
    return f"{value:.0f}" if value >= 10 else f"{value:.2f}"


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
        for step in range(phase):
            opt.zero_grad()
            data = task.batch(problem.data, step)
            loss = task.loss(dict(zip(names, params)), data)
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


def _task_names(text):
    names = text.split(",")
    unknown = [name for name in names if name not in TASKS]
    if unknown:
        valid = ", ".join(sorted(TASKS))
        raise argparse.ArgumentTypeError(
            f"unknown task(s) {', '.join(unknown)}: valid tasks are {valid}"
        )
    return names


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--tasks", type=_task_names, default=DEFAULT_TASKS, help="comma-separated"
    )
    parser.add_argument(
        "--widths",
        type=positive_ints,
        default="1,4,16,64,256,1024",
        help="comma-separated pack widths K, each >= 1",
    )
    parser.add_argument("--steps", type=positive_int, default=20)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=positive_int, default=1)
    parser.add_argument(
        "--data-root",
        default=None,
        help="folder of CIFAR-10 and Fashion-MNIST (default: as the tasks read it)",
    )
    parser.add_argument(
        "--no-auto",
        dest="auto",
        action="store_false",
        help="skip the table of what pack mode auto picks for each task",
    )
    parser.add_argument(
        "--repeats",
        type=positive_int,
        default=3,
        help="measure each rate this many times, keep the best",
    )
    parser.add_argument(
        "--max-seconds",
        type=float,
        default=60.0,
        help="skip a task's larger K once one row (every repeat of both ways, "
        "warm-ups included) takes longer than this many seconds",
    )
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    for name, root in use_standins(args.data_root, args.tasks):
        print(f"{name} not found under {root}: timing random images of its shape.\n")

    print(
        "| task | plain loop steps/s | K | stacked config-steps/s "
        "| sequential config-steps/s | stacked / plain |"
    )
    print("|---|---|---|---|---|---|")
    choices = []
    for name in args.tasks:
        choices.append(_task_rows(args, name, device))
    if args.auto:
        print("\n| task | pack size | fastest measured width | auto's width |")
        print("|---|---|---|---|")
        for name, size, fastest, chosen in choices:
            print(f"| {name} | {size} | {fastest} | {chosen} |")


def _task_rows(args, name, device):
    """Print a task's rows; return (task, widest K, fastest width, auto's width)."""
    options = dict(SMALL.get(name, {}))
    if args.data_root and "data_root" in TASKS[name].option_names():
        options["data_root"] = args.data_root
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
    rates = {}
    for width in args.widths:
        started = time.perf_counter()
        stacked = best_of(
            args.repeats, pack_rate, task, problem, config, width, width, args.steps
        )
        # Sequential throughput does not depend on K: time a few configs.
        sequential = best_of(
            args.repeats, pack_rate, task, problem, config, 1, min(width, 4), args.steps
        )
        # Width 1 is the sequential way: it keeps its best over all rows.
        rates[width] = stacked
        rates[1] = max(rates.get(1, 0.0), sequential)
        print(
            f"| {name} | {_rate(plain)} | {width} | {_rate(stacked)} | "
            f"{_rate(sequential)} | {stacked / plain:.2f} |",
            flush=True,
        )
        if time.perf_counter() - started > args.max_seconds:
            break
    if not args.auto:
        return name, max(rates), None, None
    # What `pack: {mode: auto}` picks for a pack as wide as the widest row,
    # probing on its own as a worker does.
    size = max(rates)
    long_run = dataclasses.replace(config, steps=max(args.steps, MIN_STEPS_TO_PROBE))
    chosen, _ = choose_width(task, problem, [long_run] * size, "auto")
    return name, size, max(rates, key=rates.get), chosen


if __name__ == "__main__":
    main()
