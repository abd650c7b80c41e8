r"""Guidance in the torch sampler: D = D_base + w (D_base - D_aux), w >= 0 (SIMS negative guidance, Alemohammad et
al. 2024; autoguidance with g = 1 + w), optionally only for noise levels inside a guidance interval [sigma_lo,
sigma_hi] (Kynkaanniemi et al. 2024), and with the same class labels for both networks when the base is
conditional. One path for every sampler of the project: [`GuidedDenoiser`][empirical.edm.guidance.GuidedDenoiser] has
the signature of every denoiser,
D(x, sigma, class_labels), and [`guided_generate`][empirical.edm.guidance.guided_generate] hands it to
[`empirical.edm.sampler.generate`][empirical.edm.sampler.generate]; w = 0 (or
no guide) is the base's own sampler, bit for bit. The guide may be any module with the base's signature and output
shape (its architecture need not be the base's).
"""
from __future__ import annotations

import copy
import math
from collections.abc import Callable

import numpy as np
import torch
from torch import nn

from simtheory import validate
from simtheory.diffusion.sampler import check_w

from .precond import Preconditioned
from .sampler import generate


def check_interval(interval) -> tuple[float, float] | None:
    """The guidance interval (sigma_lo, sigma_hi) as floats with 0 <= sigma_lo < sigma_hi (sigma_hi may be inf);
    None: guidance at every noise level."""
    if interval is None:
        return None
    try:
        lo, hi = (float(v) for v in interval)
    except (TypeError, ValueError):
        raise ValueError(f"guidance interval must be two numbers (sigma_lo, sigma_hi), got {interval!r}") from None
    if math.isnan(lo) or math.isnan(hi) or not 0 <= lo < hi:
        raise ValueError(f"guidance interval needs 0 <= sigma_lo < sigma_hi, got ({lo}, {hi})")
    return lo, hi


def same_architecture(D_base: nn.Module, D_aux: nn.Module) -> bool:
    """Whether the two modules have the same config (where they carry one) and the same parameter names and shapes:
    the condition for evaluating both in one vmapped call."""
    if getattr(D_base, "cfg", None) != getattr(D_aux, "cfg", None):
        return False
    sb, sa = D_base.state_dict(), D_aux.state_dict()
    return sb.keys() == sa.keys() and all(sa[k].shape == sb[k].shape for k in sb)


def check_same_architecture(D_base: nn.Module, D_aux: nn.Module) -> None:
    """A ValueError naming the difference unless the two denoisers have the same architecture (needed by
    [`PairedDenoiser`][empirical.edm.guidance.PairedDenoiser]; guidance itself takes a guide of any architecture)."""
    cb, ca = getattr(D_base, "cfg", None), getattr(D_aux, "cfg", None)
    if cb != ca:
        keys = cb.to_dict() if cb is not None and hasattr(cb, "to_dict") else {}
        diff = [f"{k}: {getattr(cb, k, None)!r} (base) vs {getattr(ca, k, None)!r} (aux)"
                for k in keys if getattr(cb, k, None) != getattr(ca, k, None)]
        raise ValueError("base and auxiliary networks have different architectures: " + ("; ".join(diff) or "configs differ"))
    sb, sa = D_base.state_dict(), D_aux.state_dict()
    bad = [k for k in sb if k not in sa or sa[k].shape != sb[k].shape] + [k for k in sa if k not in sb]
    if bad:
        raise ValueError(f"base and auxiliary networks have different architectures: parameters {bad[:5]} differ")


class PairedDenoiser:
    """Both denoisers in one batched call: torch.func.functional_call vmapped over their stacked parameters
    (the same input goes to both). Returns (D_base(x), D_aux(x))."""

    def __init__(self, D_base: nn.Module, D_aux: nn.Module):
        check_same_architecture(D_base, D_aux)
        self.params, self.buffers = torch.func.stack_module_state([D_base.eval(), D_aux.eval()])
        skeleton = copy.deepcopy(D_base).to("meta")

        def call(p, b, x, sigma, labels):
            return torch.func.functional_call(skeleton, (p, b), (x, sigma, labels))
        self._call = torch.func.vmap(call, in_dims=(0, 0, None, None, None))

    @torch.no_grad()
    def __call__(self, x: torch.Tensor, sigma: torch.Tensor, class_labels: torch.Tensor | None = None
                 ) -> tuple[torch.Tensor, torch.Tensor]:
        out = self._call(self.params, self.buffers, x, sigma, class_labels)
        return out[0], out[1]


def default_batched(device) -> bool:
    """Whether the one-call (vmapped) evaluation is the faster one on ``device``: on CUDA yes; on a CPU the vmapped
    convolutions become grouped convolutions, measured 1.5x slower than two plain calls (benchmarks/bench_sims.py)."""
    return torch.device(device).type == "cuda"


class GuidedDenoiser:
    r"""D(x; sigma, c) = D_base + w (D_base - D_aux) where sigma lies in the guidance interval, D_base elsewhere.

    The guide ``D_aux`` is any module (or callable) with the base's signature (x, sigma, class_labels) and output
    shape; its output shape is checked on the first guided call. ``batched`` evaluates both in one vmapped call
    (same architecture only; None: on CUDA when the architectures match), otherwise two calls, the reference.
    """

    def __init__(self, D_base: nn.Module, D_aux, w: float, batched: bool | None = None, interval=None):
        self.D_base, self.D_aux, self.w = D_base, D_aux, check_w(w)
        self.interval = check_interval(interval)
        if batched is None:
            batched = (isinstance(D_aux, nn.Module) and same_architecture(D_base, D_aux)
                       and default_batched(next(D_base.parameters()).device))
        self.pair = PairedDenoiser(D_base, D_aux) if batched else None
        self._checked = False

    def _inside(self, sigma: torch.Tensor) -> torch.Tensor | None:
        """Per-row mask of the rows whose sigma is in the interval (None: every row)."""
        if self.interval is None:
            return None
        lo, hi = self.interval
        return (sigma >= lo) & (sigma <= hi)

    def _guided(self, x, sigma, class_labels):
        if self.pair is not None:
            base, aux = self.pair(x, sigma, class_labels)
        else:
            base, aux = self.D_base(x, sigma, class_labels), self.D_aux(x, sigma, class_labels)
        if not self._checked:
            if aux.shape != base.shape:
                raise ValueError(f"the guide's output has shape {tuple(aux.shape)}, the base's {tuple(base.shape)}: "
                                 "a guide needs the base's signature D(x, sigma, class_labels) and output shape")
            self._checked = True
        return base + self.w * (base - aux)

    @torch.no_grad()
    def __call__(self, x: torch.Tensor, sigma: torch.Tensor, class_labels: torch.Tensor | None = None):
        if self.D_aux is None or self.w == 0:
            return self.D_base(x, sigma, class_labels)
        inside = self._inside(sigma)
        if inside is None or bool(inside.all()):
            return self._guided(x, sigma, class_labels)
        if not bool(inside.any()):
            return self.D_base(x, sigma, class_labels)
        mask = inside.reshape((-1,) + (1,) * (x.ndim - 1))
        return torch.where(mask, self._guided(x, sigma, class_labels), self.D_base(x, sigma, class_labels))


def guided_denoiser(D_base: nn.Module, D_aux, w: float, batched: bool | None = None, interval=None,
                    class_labels: torch.Tensor | None = None) -> Callable:
    """denoise(x, sigma) of [`GuidedDenoiser`][empirical.edm.guidance.GuidedDenoiser] with fixed ``class_labels`` (one-hot rows, or None)."""
    g = GuidedDenoiser(D_base, D_aux, w, batched, interval)
    return lambda x, sigma: g(x, sigma, class_labels)


def num_classes(D: nn.Module) -> int:
    """Classes of a class-conditional network (its config's ``num_classes``); 0 for an unconditional one."""
    return int(getattr(getattr(D, "cfg", None), "num_classes", 0) or 0)


def seed_labels(seeds, n_classes: int) -> np.ndarray:
    """The default class of each seed for a conditional network: seed mod n_classes (balanced over consecutive
    seeds, and a sample's class depends on its seed alone)."""
    return np.asarray([int(s) % n_classes for s in seeds], dtype=np.int64)


def one_hot(labels, n_classes: int) -> torch.Tensor:
    """Integer labels as one-hot float rows; a label outside [0, n_classes) is a ValueError."""
    y = np.asarray(labels, dtype=np.int64).ravel()
    if y.size and (y.min() < 0 or y.max() >= n_classes):
        raise ValueError(f"class labels must lie in [0, {n_classes}), got {y.min()}..{y.max()}")
    return nn.functional.one_hot(torch.as_tensor(y), n_classes).float()


def _labels_of(D_base: nn.Module, seeds: list, labels) -> torch.Tensor | None:
    """One-hot class labels for a conditional base (``labels``, default [`seed_labels`][empirical.edm.guidance.seed_labels]); None for an
    unconditional one, which refuses labels."""
    c = num_classes(D_base)
    if c == 0:
        if labels is not None:
            raise ValueError("the base network is unconditional: it takes no class labels")
        return None
    y = seed_labels(seeds, c) if labels is None else np.asarray(labels, dtype=np.int64)
    if y.shape != (len(seeds),):
        raise ValueError(f"pass one class label per seed: {len(seeds)} seeds, labels of shape {y.shape}")
    return one_hot(y, c)


@torch.no_grad()
def guided_generate(D_base: Preconditioned, D_aux, w: float, seeds, device, num_steps: int = 18, batch: int = 256,
                    batched: bool | None = None, progress: bool = False, interval=None, labels=None) -> np.ndarray:
    """Samples, one per seed, from the Heun sampler with SIMS guidance D_base + w (D_base - D_aux) (uint8 NCHW for
    an image base).

    ``interval`` (sigma_lo, sigma_hi): guide only at noise levels inside it. ``labels``: one class per seed for a
    conditional base (default [`seed_labels`][empirical.edm.guidance.seed_labels]), given to both networks. w = 0 (or no
    guide) runs exactly the
    base sampler [`empirical.edm.sampler.generate`][empirical.edm.sampler.generate], bit for bit; otherwise ``generate``
    samples with the
    [`GuidedDenoiser`][empirical.edm.guidance.GuidedDenoiser] in the base's place, so the output depends on nothing but
    the seeds (and labels).
    """
    w = check_w(w)
    interval = check_interval(interval)
    validate.count(num_steps, "num_steps", minimum=1)
    seeds = [int(s) for s in seeds]
    onehot = _labels_of(D_base, seeds, labels)
    if D_aux is None or w == 0:
        return generate(D_base, seeds, device, num_steps, batch=batch, class_labels=onehot, progress=progress)
    return generate(D_base, seeds, device, num_steps, batch=batch, class_labels=onehot,
                    denoiser=GuidedDenoiser(D_base, D_aux, w, batched, interval), progress=progress,
                    desc=f"sample (w = {w:g})")
