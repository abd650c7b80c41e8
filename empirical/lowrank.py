r"""The low-rank Gaussian mixture in torch, and its fit to CIFAR-10 (the ``fit-mixture`` command,
`empirical.cli.mixture`).

[`TorchLowRankMixture`][empirical.lowrank.TorchLowRankMixture] is the torch twin of
[`simtheory.diffusion.lowrank.LowRankMixture`][simtheory.diffusion.lowrank.LowRankMixture]: the same
exact posterior, log-density, EDM denoiser and score, on tensors of any device, computed in the input's dtype
(float32 or float64), with sigma a number or one value per row (as
[`empirical.edm.heun_sample`][empirical.edm.sampler.heun_sample] passes
it). Its arithmetic is chosen for float32: with r_k = x - mu_k, p_k = U_k^T r_k and the residual
e_k = r_k - U_k p_k formed explicitly, every term is a sum of positives,

    (x - mu_k)^T C_k^{-1} (x - mu_k) = |e_k|^2 / c_k + sum_j p_kj^2 / (lambda_kj + c_k),
    mu_k + S_k C_k^{-1} r_k = mu_k + (f_k / c_k) e_k + U_k ((lambda_k + f_k) / (lambda_k + c_k) * p_k),
    C_k^{-1} r_k = e_k / c_k + U_k (p_k / (lambda_k + c_k)),          c_k = f_k + sigma^2,

so float32 loses only its rounding times the quadratic form (the numpy law's expansion of |x - mu_k|^2 would cost
float32 eps (|x|^2 + |mu_k|^2) / c_k). It holds (K, n, d) intermediates: batch accordingly.
[`TorchLowRankMixture.as_denoiser`][empirical.lowrank.TorchLowRankMixture.as_denoiser] is the callable (x, sigma) -> D
that the torch Heun sampler takes, so
``heun_sample(law.as_denoiser(), latents, steps)`` samples the law in image shape (latents (n, 3, H, W)).

``python -m empirical fit-mixture`` (`empirical.cli.mixture`) fits
`simtheory.diffusion.lowrank_fit.fit_lowrank_mixture` to CIFAR-10's training split with
[`fit_cifar`][empirical.lowrank.fit_cifar].
"""
from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from simtheory.diffusion.lowrank import LowRankMixture
from simtheory.diffusion.lowrank_fit import fit_lowrank_mixture

LOG_2PI = math.log(2 * math.pi)


class TorchLowRankMixture:
    """Torch twin of a [`LowRankMixture`][simtheory.diffusion.lowrank.LowRankMixture] (module docstring for the formulas).

    x is a float32 or float64 tensor of shape (n, d) or (n, ...) with d values per row, on any device; sigma a
    number >= 0, a 0-d tensor or one value per row (n,). Results have x's dtype and device; denoiser and score
    have x's shape. Bad input is a ValueError naming the argument.
    """

    def __init__(self, law: LowRankMixture):
        if not isinstance(law, LowRankMixture):
            raise ValueError(f"law must be a LowRankMixture, got {type(law).__name__}")
        self.law = law
        self.K, self.d, self.shape = law.K, law.d, law.shape
        self._m = law._m
        self._cache: dict = {}

    def _params(self, device, dtype):
        key = (str(device), dtype)
        if key not in self._cache:
            law = self.law
            t = lambda a: torch.tensor(np.array(a), dtype=dtype, device=device)
            with np.errstate(divide="ignore"):
                logw = np.log(law.weights)
            self._cache[key] = (t(law.means), t(law._U), t(law._lam), t(law.floors), t(logw))
        return self._cache[key]

    def _check(self, x, sigma) -> tuple[torch.Tensor, torch.Tensor, tuple]:
        if not isinstance(x, torch.Tensor) or x.dtype not in (torch.float32, torch.float64):
            raise ValueError(f"x must be a float32 or float64 tensor, got {getattr(x, 'dtype', type(x).__name__)}")
        if x.ndim < 2 or x.shape[0] == 0 or math.prod(x.shape[1:]) != self.d:
            raise ValueError(f"x must have shape (n, {self.d}) or (n, ...) with {self.d} values per row and "
                             f"n >= 1, got {tuple(x.shape)}")
        n = x.shape[0]
        s = torch.as_tensor(sigma, dtype=x.dtype, device=x.device) if not isinstance(sigma, bool) else None
        if s is None or s.ndim > 1 or (s.ndim == 1 and s.shape[0] != n):
            raise ValueError(f"sigma must be a number or a tensor of shape ({n},), got {sigma!r}")
        ok = torch.stack([torch.isfinite(x).all(), torch.isfinite(s).all(), (s >= 0).all()]).tolist()
        if not ok[0]:
            raise ValueError("x holds NaN or infinite values")
        if not (ok[1] and ok[2]):
            raise ValueError("sigma must be finite and >= 0")
        return x.reshape(n, self.d), s.expand(n), tuple(x.shape)

    def _terms(self, x2: torch.Tensor, s: torch.Tensor):
        """(log-joint less a per-row constant (K, n), that constant (n,), p, e, c, lambda + c) with
        r_k = x - mu_k, p_k = U_k^T r_k (K, n, m), e_k = r_k - U_k p_k (K, n, d), c = f + sigma^2 (K, n).

        log det C_k is split as d log c_ref + (d - m) log1p((f_k - f_ref) / c_ref) + sum_j log1p((lambda_kj + f_k
        - f_ref) / c_ref) with c_ref = f_ref + sigma^2, f_ref the mean floor: the per-row constant (the large part
        at sigma = 80) cancels in the posterior instead of costing its float32 rounding there."""
        mu, U, lam, f, logw = self._params(x2.device, x2.dtype)
        s2 = s * s
        c = f[:, None] + s2[None, :]                          # (K, n)
        fref = f.mean()
        cref = fref + s2                                      # (n,)
        r = x2[None] - mu[:, None, :]
        p = torch.bmm(r, U)
        e = r - torch.bmm(p, U.transpose(1, 2))
        lc = lam[:, None, :] + c[:, :, None]                  # (K, n, m)
        q = (e * e).sum(-1) / c + (p * p / lc).sum(-1)
        df = (f - fref)[:, None]
        logdet_rel = (self.d - self._m) * torch.log1p(df / cref) \
            + torch.log1p((lam[:, None, :] + df[:, :, None]) / cref[None, :, None]).sum(-1)
        lj_rel = logw[:, None] - 0.5 * (q + logdet_rel)
        const = -0.5 * self.d * (torch.log(cref) + LOG_2PI)
        return lj_rel, const, p, e, c, lc

    def log_posterior(self, x, sigma=0.0) -> torch.Tensor:
        """log P(component k | x) under the law noised at sigma, shape (n, K)."""
        x2, s, _ = self._check(x, sigma)
        lj = self._terms(x2, s)[0]
        return (lj - torch.logsumexp(lj, dim=0, keepdim=True)).T

    def posterior(self, x, sigma=0.0) -> torch.Tensor:
        """Responsibilities gamma_k(x) (Bayes' rule under the noised law), shape (n, K)."""
        return self.log_posterior(x, sigma).exp()

    def logpdf(self, x, sigma=0.0) -> torch.Tensor:
        """log p_sigma(x), shape (n,)."""
        x2, s, _ = self._check(x, sigma)
        lj, const = self._terms(x2, s)[:2]
        return torch.logsumexp(lj, dim=0) + const

    def denoiser(self, x, sigma) -> torch.Tensor:
        """EDM's D(x; sigma) = sum_k gamma_k [mu_k + S_k C_k^{-1} (x - mu_k)] (Tweedie), x's shape."""
        x2, s, shp = self._check(x, sigma)
        lj, _, p, e, c, lc = self._terms(x2, s)
        mu, U, lam, f, _ = self._params(x2.device, x2.dtype)
        g = torch.softmax(lj, dim=0)                          # (K, n)
        inner = torch.bmm(p * ((lam[:, None, :] + f[:, None, None]) / lc), U.transpose(1, 2))
        Dk = mu[:, None, :] + (f[:, None] / c)[:, :, None] * e + inner
        return (g[:, :, None] * Dk).sum(0).reshape(shp)

    def score(self, x, sigma) -> torch.Tensor:
        """grad log p_sigma(x) = -sum_k gamma_k C_k^{-1} (x - mu_k), x's shape."""
        x2, s, shp = self._check(x, sigma)
        lj, _, p, e, c, lc = self._terms(x2, s)
        U = self._params(x2.device, x2.dtype)[1]
        g = torch.softmax(lj, dim=0)
        z = e / c[:, :, None] + torch.bmm(p / lc, U.transpose(1, 2))
        return -(g[:, :, None] * z).sum(0).reshape(shp)

    def as_denoiser(self, dtype: torch.dtype | None = None) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
        """The exact denoiser as the callable (x, sigma) -> D of [`empirical.edm.heun_sample`][empirical.edm.sampler.heun_sample] (x (n, ...),
        sigma (n,)), computed in ``dtype`` (None: x's own; torch.float64 for float64 accuracy behind the sampler's
        float32 boundary) and returned in x's dtype."""
        if dtype not in (None, torch.float32, torch.float64):
            raise ValueError(f"dtype must be None, torch.float32 or torch.float64, got {dtype!r}")

        def denoise(x: torch.Tensor, sigma) -> torch.Tensor:
            if dtype is None or x.dtype == dtype:
                return self.denoiser(x, sigma)
            s = sigma.to(dtype) if isinstance(sigma, torch.Tensor) else sigma
            return self.denoiser(x.to(dtype), s).to(x.dtype)
        return denoise


# ---------------------------------------------------------------------- the fit behind fit-mixture
def fit_cifar(resolution: int, rank: int, floor: float | None = None, source=None) -> LowRankMixture:
    """`fit_lowrank_mixture` on CIFAR-10's training split at ``resolution``
    (area downsampling, [`empirical.data.downsample`][empirical.images.cifar10.downsample]), images scaled to [-1, 1] (x
    / 127.5 - 1), one component per class in CIFAR-10's order; sample shape (3, resolution, resolution)."""
    from .images import cifar10 as cifar
    x, y = cifar.load_cifar10("train", source, cache_dir=cifar.CACHE)
    x, y = cifar.prepare(x, y, resolution)
    return fit_lowrank_mixture(x.astype(np.float64) / 127.5 - 1.0, y, rank, floor)


def load(path) -> TorchLowRankMixture:
    """The torch twin of the law stored at ``path`` ([`LowRankMixture.save`][simtheory.diffusion.lowrank.LowRankMixture.save])."""
    return TorchLowRankMixture(LowRankMixture.load(Path(path)))
