"""A finite-sample loop run into a run folder, resumable: state.npz after each generation, then its line."""
from __future__ import annotations

from dataclasses import asdict

import numpy as np

from .. import datasets, loops, validate
from ..loops import LoopConfig, LoopState
from .folder import RunFolder, code_version, fold_steps


METRICS_LINE_BYTES = 4096     # an upper bound on one metrics.jsonl line of a loop run (parameters included)


def _save_state(rf: RunFolder, state: LoopState) -> None:
    arrays = {f"param_{k}": np.asarray(v) for k, v in state.params.items()}
    if state.synthetic is not None:
        arrays["synthetic"] = state.synthetic
    rf.save_arrays("state", generation=np.array(state.generation), **arrays)


def _load_state(rf: RunFolder) -> LoopState | None:
    z = rf.load_arrays("state")
    if z is None:
        return None
    params = {k[6:]: v for k, v in z.items() if k.startswith("param_")}
    return LoopState(int(z["generation"]), params, z.get("synthetic"))


def run_loop_folder(config: LoopConfig, dataset: str, n_real: int, out, seed: int = 0, data_seed: int = 0,
                    progress: bool = False) -> RunFolder:
    """Run (or resume) a loop on a named data set into ``out``; the config, data set and seeds are stored.
    Returns the folder (released: it reads); held for the run (FolderInUse when another process writes it)."""
    n_real = validate.count(n_real, "n_real")
    validate.fits_memory(datasets.BYTES_PER_POINT * n_real, "n_real", n_real, f"a real pool of {n_real} points")
    ds = datasets.make(dataset, n_real, data_seed)
    # before the folder exists: a refused run leaves nothing behind
    config.check_data_shape(*ds.x.shape)
    config.check_memory(ds.x.shape[1], keep_records=False)
    validate.fits_disk(METRICS_LINE_BYTES * (config.generations + 1), out, "generations", config.generations,
                       "one metrics line per generation")
    with RunFolder.open(out, {**config.to_dict(), "dataset": dataset, "n_real": n_real, "seed": seed,
                              "data_seed": data_seed}, code_version("simtheory")) as rf:    # held until the run ends
        pool = loops.RealPool(config, ds.x)        # checked, and its pool-wide quantities computed, once per run
        state = _load_state(rf)
        if state is None:
            state = loops.init(config, pool, seed)
            _save_state(rf, state)
        box = [state]

        def advance(t: int) -> None:
            box[0] = loops.step(config, box[0], pool, ds.reward, seed)
            _save_state(rf, box[0])

        def line(t: int) -> dict:
            assert box[0].generation == t, (box[0].generation, t)   # only the last state is kept
            return loops.record(config, box[0], pool, ds.reward, seed)

        fold_steps(rf, state.generation, config.generations, advance, line,
                   desc=f"loop {config.family}" if progress else None)
    return rf


def config_from_dataset(dataset: str, **options) -> LoopConfig:
    """A LoopConfig with the data set's own options (atoms, modes, components) filled in unless given."""
    ds_opts = datasets.make(dataset, 8, 0).options
    merged = {**ds_opts, **{k: v for k, v in options.items() if v is not None}}
    fields = set(asdict(LoopConfig()))
    return LoopConfig(**{k: v for k, v in merged.items() if k in fields})
