"""Pick how wide a pack trains at once by timing it, not by guessing.

For a pack of K configs in `auto` mode, a few steps are timed at widths 1, 4,
16, 64, ... up to K, and the width with the most config-steps per second wins
if it beats width 1 by STACK_MARGIN (width 1 is the sequential way, width > 1
the stacked way). A width that runs out of device memory ends the search,
so the memory limit is measured rather than estimated. On a CPU a single
sin-task network already keeps a core's matmuls busy, so width 1 tends to win
there. On a GPU, and for tiny networks, stacking wins. The result is cached per
worker process for each (task, options, device, dtype, thread count, K).
"""

import dataclasses
import time

import torch

from pipeline.engine import train_pack

PROBE_STEPS = 8
WARMUP_STEPS = 2
# A probe shorter than this is repeated with twice the steps: timings of a
# few milliseconds are mostly noise on a shared machine.
MIN_PROBE_SECONDS = 0.3
# Stacking must beat one config at a time by this factor to be chosen: the
# sequential way also stops a diverged config early, which a probe of
# healthy copies cannot show.
STACK_MARGIN = 1.2
# Stop widening once throughput drops below this share of the best so far,
# twice in a row. On the machines measured, throughput against width rises,
# then falls for good.
STOP_RATIO = 0.8

# Packs of fewer steps than this train one config at a time unprobed.
MIN_STEPS_TO_PROBE = 200

_cache = {}


def _sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def candidate_widths(pack_size):
    widths, w = [], 1
    while w < pack_size:
        widths.append(w)
        w *= 4
    widths.append(pack_size)
    return widths


def measure_width(task, problem, config, width):
    """Config-steps per second of `width` copies of `config` trained at once."""
    device = next(iter(problem.params.values())).device
    warm = dataclasses.replace(config, steps=WARMUP_STEPS)
    train_pack(task, problem, [warm] * width, width)
    steps = PROBE_STEPS
    while True:
        probe = dataclasses.replace(config, steps=steps)
        _sync(device)
        started = time.perf_counter()
        train_pack(task, problem, [probe] * width, width)
        _sync(device)
        elapsed = time.perf_counter() - started
        if elapsed >= MIN_PROBE_SECONDS or steps >= config.steps:
            return width * steps / elapsed
        steps *= 2


def choose_width(task, problem, configs, mode):
    """Return (width, {width: config-steps/s measured}) for a pack."""
    size = len(configs)
    if mode == "sequential" or size == 1:
        return 1, {}
    if mode == "stacked":
        return size, {}
    config = configs[0]
    if config.steps < MIN_STEPS_TO_PROBE:
        # Probing would cost more than training a short (smoke) pack.
        return 1, {}
    device = next(iter(problem.params.values())).device
    key = (
        config.task,
        config.task_options,
        str(device),
        config.dtype,
        torch.get_num_threads(),
        size,
    )
    if key not in _cache:
        rates, drops = {}, 0
        for width in candidate_widths(size):
            try:
                rates[width] = measure_width(task, problem, config, width)
            except torch.OutOfMemoryError:
                # The device's memory sets the widest pack: stop widening.
                torch.cuda.empty_cache()
                break
            # Two widths in a row below the best end the search: one slow
            # probe on a busy machine should not.
            drops = drops + 1 if rates[width] < STOP_RATIO * max(rates.values()) else 0
            if drops == 2:
                break
        best = max(rates, key=rates.get)
        if rates[best] < STACK_MARGIN * rates[1]:
            best = 1
        _cache[key] = (best, rates)
    return _cache[key]
