"""empirical: EDM-style diffusion on CIFAR-10 (GPU, or small on a CPU) and on low-dimensional points, curated
retraining loops with real data, SIMS, and offline FID. torch lives here only; the loop's words, curation
semantics and run folders come from simtheory."""
from . import _moved

_moved.install()
