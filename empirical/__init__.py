"""empirical: EDM-style diffusion on CIFAR-10 (GPU, or small on a CPU), a classifier reward, curated retraining
loops with real data, and offline FID. torch lives here only; curation semantics and run folders come from
simtheory."""
