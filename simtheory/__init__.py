"""simtheory: exact and finite-sample dynamics of generative models retrained on curated samples.

Ferbach, Bertrand, Bose, Gidel 2024 (curation) and Bertrand et al. 2024 (stability). numpy, scipy, sympy
and numba only: never torch.
"""
from .curation import curated, tilt
from .dynamics import fixed_point, retrain, step
from .loops import LoopConfig, run_loop
from .selection import curated_frequencies, sample_curated, select_softmax

__all__ = ["curated", "tilt", "retrain", "step", "fixed_point", "select_softmax", "sample_curated",
           "curated_frequencies", "LoopConfig", "run_loop"]
