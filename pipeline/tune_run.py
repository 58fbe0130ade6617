"""Hand the packs to Ray Tune: one trial per pack, on the resources asked."""

from pathlib import Path

from ray import tune

from pipeline.trial import run_pack


def run_trials(sweep, packs, setup, storage_path=None):
    """Run one Tune trial per pack; return (trial metrics, error messages)."""
    trainable = tune.with_parameters(run_pack, packs=packs, setup=setup)
    resources = {
        "cpu": sweep.resources.get("cpu", 1),
        "gpu": sweep.resources.get("gpu", 0),
    }
    trainable = tune.with_resources(trainable, resources)
    storage = Path(storage_path or "ray_results").resolve()
    tuner = tune.Tuner(
        trainable,
        param_space={"pack_id": tune.grid_search(list(range(len(packs))))},
        # Reusing a worker process skips a fresh import of torch and MLflow
        # for every trial.
        tune_config=tune.TuneConfig(reuse_actors=True),
        run_config=tune.RunConfig(
            name=sweep.name, storage_path=str(storage), verbose=1
        ),
    )
    try:
        grid = tuner.fit()
    except (RuntimeError, tune.TuneError) as error:
        # Tune gives up on the whole sweep when a worker dies: report it,
        # so that the driver can still end the orphaned runs and draw.
        return [], [f"Ray Tune stopped: {error}"]
    stats, errors = [], []
    for result in grid:
        if result.error is not None:
            pack_id = (result.config or {}).get("pack_id")
            errors.append(f"pack {pack_id}: {result.error}")
        elif result.metrics:
            stats.append(result.metrics)
    return stats, errors
