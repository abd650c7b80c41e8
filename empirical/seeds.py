r"""Every seed block and random stream of the empirical half, in one place.

Two kinds of randomness drive a run:

- **Sampler seeds**, one integer per sample: sample i is drawn from its own generator seeded by its seed
  ([`empirical.edm.latents_for_seeds`][empirical.edm.sampler.latents_for_seeds]), so it depends on nothing else. Seeds
  come in blocks, laid out in decimal so that a seed reads as its coordinates,
  $\mathrm{seed} = \mathrm{kind} \cdot 10^{18} + \mathrm{owner} \cdot 10^{12} + \mathrm{generation} \cdot 10^{9} + i$,
  with kind < 9 ([`BLOCKS`][empirical.seeds.BLOCKS]), owner < 10^6 (a run's seed, an auxiliary's seed or a sweep's seed
  set),
  generation < 1000 and i < 10^9. Every field is checked against its cap
  ([`sample_seeds`][empirical.seeds.sample_seeds]), so two blocks
  never share a seed and every seed is below 2^63 (an int64, and a valid torch seed).
- **Streams**: one 32-bit seed per (run seed, purpose, generation) for the numpy and torch generators of the data
  order, training, curation and the like ([`stream_seed`][empirical.seeds.stream_seed], from numpy's SeedSequence), and
  one per training
  step and process for the batch, the noise and dropout ([`step_seed`][empirical.seeds.step_seed]), so that a killed and
  resumed run draws exactly what an uninterrupted one draws.
"""
from __future__ import annotations

import numpy as np

from simtheory.fold import seed32

BLOCKS = {
    "candidates": 0,      # generation t's K m candidates (samples of model t - 1); block T + 1: the last model's
    "eval": 1,            # generation t's evaluation draws (fresh per generation and per run)
    "sims_aux": 2,        # a SIMS auxiliary's synthetic set (owner: the auxiliary's seed)
    "sweep": 3,           # a SIMS sweep's evaluation seed set (owner: the set's index)
    "sims_loop": 4,       # the synthetic set of loop generation t's SIMS auxiliary (owner: the run's seed)
    "heldout": 5,         # draws a study makes beside a run (e.g. a sampler check on a finished run)
}
"""Name -> kind digit of every block of sampler seeds."""

KIND_STRIDE = 10**18
OWNER_STRIDE = 10**12
GENERATION_STRIDE = 10**9
MAX_OWNER = KIND_STRIDE // OWNER_STRIDE                 # owners 0 .. 10^6 - 1
MAX_GENERATION = OWNER_STRIDE // GENERATION_STRIDE      # generations 0 .. 999
BLOCK_SIZE = GENERATION_STRIDE                          # seeds per block
MAX_SEED = MAX_OWNER                                    # a run's seed must be below this

STREAMS = {"data": 1, "classifier": 2, "train": 3, "finetune": 4, "curation": 5, "judge": 6, "split": 7, "sims": 8,
           "law": 9, "denoiser": 10, "floor": 11}
"""Name -> id of every random stream of a run (numpy / torch generators seeded by [`stream_seed`][empirical.seeds.stream_seed])."""


def _check_int(value, name: str, cap: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    v = int(value)
    if not 0 <= v < cap:
        raise ValueError(f"{name} must be in [0, {cap}), got {v}")
    return v


def check_run_seed(seed, name: str = "seed") -> int:
    """A run's seed as an int in [0, MAX_SEED): the owner field of its seed blocks."""
    return _check_int(seed, name, MAX_SEED)


def block_start(block: str, owner: int, generation: int = 0) -> int:
    """The first seed of block (``block``, ``owner``, ``generation``); a field out of its range is a ValueError
    naming it."""
    if block not in BLOCKS:
        raise ValueError(f"unknown seed block {block!r}; blocks are {sorted(BLOCKS)}")
    o = _check_int(owner, f"{block} seed owner", MAX_OWNER)
    g = _check_int(generation, f"{block} generation", MAX_GENERATION)
    return BLOCKS[block] * KIND_STRIDE + o * OWNER_STRIDE + g * GENERATION_STRIDE


def sample_seeds(block: str, owner: int, generation: int, n: int, start: int = 0) -> np.ndarray:
    """Seeds start .. start + n - 1 of one block (int64): disjoint from every other block's for any owner and
    generation within the caps, which are checked (a block holds `BLOCK_SIZE` seeds)."""
    n = _check_int(n, f"the number of {block} seeds", BLOCK_SIZE + 1)
    start = _check_int(start, f"the first {block} seed index", BLOCK_SIZE + 1)
    if start + n > BLOCK_SIZE:
        raise ValueError(f"{block} seeds {start} .. {start + n - 1} run past the block's {BLOCK_SIZE} seeds")
    return block_start(block, owner, generation) + start + np.arange(n, dtype=np.int64)


def seed_coordinates(seed: int) -> tuple[str, int, int, int]:
    """(block, owner, generation, index) of a sampler seed: the inverse of [`sample_seeds`][empirical.seeds.sample_seeds]."""
    s = _check_int(seed, "seed", max(BLOCKS.values()) * KIND_STRIDE + KIND_STRIDE)
    kind, rest = divmod(s, KIND_STRIDE)
    owner, rest = divmod(rest, OWNER_STRIDE)
    generation, index = divmod(rest, GENERATION_STRIDE)
    names = {v: k for k, v in BLOCKS.items()}
    if kind not in names or owner >= MAX_OWNER:
        raise ValueError(f"{seed} is not a sampler seed of any block")
    return names[kind], owner, generation, index


def stream_seed(seed: int, stream: str, t: int = 0) -> int:
    """The 32-bit seed of one random stream of a run (``stream`` in [`STREAMS`][empirical.seeds.STREAMS], generation ``t``), from the
    run's seed: [`simtheory.fold.seed32`][simtheory.fold.seed32] (seed, t, stream id), so streams are independent and
    two runs' streams differ when their seeds do."""
    if stream not in STREAMS:
        raise ValueError(f"unknown stream {stream!r}; streams are {sorted(STREAMS)}")
    return seed32(seed, t, STREAMS[stream])


def step_seed(seed: int, step: int, rank: int | None = None) -> int:
    """The 32-bit seed of training step ``step`` of a training run seeded ``seed``: the step's sequence (key
    (step,)) for what every process draws alike (the global batch's indices and noise), and its child (step, rank)
    for what each process draws on its own (dropout masks), so neither depends on where a run was resumed."""
    return seed32(seed, step) if rank is None else seed32(seed, step, rank)
