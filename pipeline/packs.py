"""Split a sweep's configs into packs, one Ray Tune trial each.

A pack contains configs with the same task, task options, seed, optimizer, dtype
and step count, so that they share one data set and one set of initial
weights and can step as one computation. Pack size, when not given, comes
from the number of trials the cluster runs at once: each slot gets about two
packs, which balances the load (a diverged config ends early) while keeping
the per-trial cost (about 1 s of Ray Tune time on a 2-core machine) to a
few trials per slot.
"""

import math
from dataclasses import dataclass

from pipeline.config import Config

PACKS_PER_SLOT = 2
# A pack never contains more configs than this, whatever the sweep's size: it
# bounds the memory of a stacked pack and the work lost if a trial fails.
MAX_PACK_SIZE = 1024


@dataclass
class Pack:
    """Configs that one trial trains, with how it trains them."""

    pack_id: int
    configs: list[Config]
    mode: str = "auto"


def group_configs(configs):
    """Group configs by pack key, keeping the sweep's order inside a group."""
    groups = {}
    for config in configs:
        groups.setdefault(config.pack_key(), []).append(config)
    return list(groups.values())


def auto_pack_size(configs, slots):
    """Pack size that gives each of `slots` parallel trials about two packs."""
    groups = group_configs(configs)
    target_packs = max(1, slots * PACKS_PER_SLOT)
    # Packs never span groups, so each group contributes at least one pack.
    size = math.ceil(len(configs) / max(target_packs, 1))
    size = max(1, min(size, MAX_PACK_SIZE))
    largest = max(len(g) for g in groups)
    return min(size, largest)


def make_packs(configs, pack_size, mode="auto"):
    """Split configs into packs of at most `pack_size` configs each."""
    packs = []
    for group in group_configs(configs):
        for start in range(0, len(group), pack_size):
            chunk = group[start : start + pack_size]
            packs.append(Pack(pack_id=len(packs), configs=chunk, mode=mode))
    return packs


def concurrent_slots(resources, cluster):
    """Return how many trials with `resources` fit at once on `cluster`.

    0 means that not even one fits: Ray Tune would wait for it forever.
    """
    fits = []
    for key, ray_key in (("cpu", "CPU"), ("gpu", "GPU")):
        need = resources.get(key, 0)
        if need:
            fits.append(int(cluster.get(ray_key, 0) // need))
    return min(fits) if fits else 1
