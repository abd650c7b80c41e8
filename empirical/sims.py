r"""SIMS (Alemohammad et al. 2024): self-improving negative guidance from an auxiliary model.

1. A base EDM model (a loop's gen_000 or a ``train`` run) draws a synthetic set S of n_s images with fixed seeds.
2. A copy of the base, from the base's weights and with the base's hyperparameters (lr overridable), is fine-tuned
   on S for B images seen: the auxiliary model.
3. Sampling uses D = D_base + w (D_base - D_aux), w >= 0, inside the Heun sampler (the score mix
   s = (1 + w) s_base - w s_aux written for denoisers; autoguidance with g = 1 + w).

Distribution shifting composes S with chosen class proportions (by the reward classifier's labels), see
:func:`auxiliary_proportions`. Words as in the theory half: w, n_s, B (``images``), aux.
"""
from __future__ import annotations

import copy
import hashlib
import json
import math
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from collections.abc import Callable

import numpy as np
import torch
from torch import nn

from simtheory import validate
from simtheory.runs import RunFolder

from .edm import Denoiser, generate, guided
from .train import TrainConfig, finetune_config, load_network, train

SYN_SEED0 = 3 * 10**9          # synthetic-set seeds: disjoint from the loop's (< 10^9 + ...) and evaluation seeds
SEED_STRIDE = 10**7            # seed * SEED_STRIDE + i: one block of seeds per auxiliary seed


def check_w(w) -> float:
    """The guidance weight as a float; NaN, infinite or negative w is a ValueError naming w."""
    try:
        w = float(w)
    except (TypeError, ValueError):
        raise ValueError(f"guidance weight w must be a number >= 0, got {w!r}") from None
    if not math.isfinite(w) or w < 0:
        raise ValueError(f"guidance weight w must be finite and >= 0, got {w}")
    return w


def check_same_architecture(D_base: nn.Module, D_aux: nn.Module) -> None:
    """A ValueError naming the difference unless the two denoisers have the same architecture (SIMS's auxiliary
    is a fine-tuned copy of the base)."""
    cb, ca = getattr(D_base, "cfg", None), getattr(D_aux, "cfg", None)
    if cb != ca:
        diff = [f"{k}: {getattr(cb, k, None)!r} (base) vs {getattr(ca, k, None)!r} (aux)"
                for k in (cb.to_dict() if cb is not None else {}) if getattr(cb, k, None) != getattr(ca, k, None)]
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

        def call(p, b, x, sigma):
            return torch.func.functional_call(skeleton, (p, b), (x, sigma))
        self._call = torch.func.vmap(call, in_dims=(0, 0, None, None))

    @torch.no_grad()
    def __call__(self, x: torch.Tensor, sigma: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        out = self._call(self.params, self.buffers, x, sigma)
        return out[0], out[1]


def default_batched(device) -> bool:
    """Whether the one-call (vmapped) evaluation is the faster one on ``device``: on CUDA yes; on a CPU the vmapped
    convolutions become grouped convolutions, measured 1.5x slower than two plain calls (benchmarks/bench_sims.py)."""
    return torch.device(device).type == "cuda"


def guided_denoiser(D_base: nn.Module, D_aux: nn.Module | None, w: float, batched: bool | None = None) -> Callable:
    """denoise(x, sigma) = D_base + w (D_base - D_aux); ``batched`` evaluates both networks in one vmapped call,
    otherwise two calls (:func:`empirical.edm.guided`, the reference); None picks by the base's device."""
    w = check_w(w)
    if D_aux is None or w == 0:
        return guided(D_base)
    check_same_architecture(D_base, D_aux)
    if batched is None:
        batched = default_batched(next(D_base.parameters()).device)
    if not batched:
        return guided(D_base, D_aux, w)
    pair = PairedDenoiser(D_base, D_aux)

    def f(x, sigma):
        base, aux = pair(x, sigma)
        return base + w * (base - aux)
    return f


@torch.no_grad()
def guided_generate(D_base: nn.Module, D_aux: nn.Module | None, w: float, seeds, device, num_steps: int = 18,
                    batch: int = 256, batched: bool | None = None, progress: bool = False) -> np.ndarray:
    """uint8 NCHW images, one per seed, from the Heun sampler with SIMS guidance D_base + w (D_base - D_aux).
    w = 0 (or no auxiliary) runs exactly the base sampler :func:`empirical.edm.generate`, bit for bit."""
    w = check_w(w)
    validate.count(num_steps, "num_steps", minimum=1)
    if D_aux is None or w == 0:
        return generate(D_base, seeds, device, num_steps, batch=batch, progress=progress)
    return generate(D_base, seeds, device, num_steps, batch=batch, progress=progress,
                    denoise=guided_denoiser(D_base, D_aux, w, batched))


def sha1_array(a: np.ndarray) -> str:
    return hashlib.sha1(np.ascontiguousarray(a).tobytes()).hexdigest()


def _file_sha1(path: Path) -> str:
    return hashlib.sha1(Path(path).read_bytes()).hexdigest()


def base_folder(base_run) -> Path:
    """The folder holding the base's network.pt (a run folder or the network.pt itself); a missing base is a
    ValueError naming the path."""
    p = Path(base_run)
    if p.is_file() and p.name == "network.pt":
        p = p.parent
    if not (p / "network.pt").exists():
        raise ValueError(f"base run not found: no network.pt in {p} (pass a loop's gen_000 folder or a `train` run)")
    return p


def base_train_config(base_run) -> TrainConfig:
    """The hyperparameters the base was trained with (its training-state checkpoint's config)."""
    p = base_folder(base_run)
    f = p / "training-state.json"
    if not f.exists():
        raise ValueError(f"base run {p} has no training-state.json: its hyperparameters are unknown")
    d = json.loads(f.read_text())
    return TrainConfig(**{k: v for k, v in d.items() if k in TrainConfig.__dataclass_fields__})


def auxiliary_proportions(target, base, w: float) -> np.ndarray:
    r"""Class proportions of the auxiliary's synthetic set that make negative guidance aim at ``target``.

    Derivation (a heuristic, the product form of guidance): the guided score (1 + w) s_base - w s_aux is the score
    of p_w ~ p_base^(1+w) / p_aux^w. Applied to class masses (each class treated as one atom),
    pi_w(c) ~ pi_base(c)^(1+w) / pi_aux(c)^w. Setting pi_w = target and solving for pi_aux:

        pi_aux(c) ~ (pi_base(c)^(1+w) / target(c))^(1/w) = pi_base(c)^((1+w)/w) target(c)^(-1/w),

    normalised to sum to 1. With target = pi_base this gives pi_aux = pi_base (an unshifted auxiliary). The
    auxiliary model's class masses follow its set's proportions only approximately (it is fine-tuned from the
    base for B images), so the achieved proportions are measured, never assumed. Requires w > 0 and strictly
    positive target and base proportions.
    """
    w = check_w(w)
    if w == 0:
        raise ValueError("distribution shifting needs w > 0 (w = 0 ignores the auxiliary)")
    t = validate.probability(target, "target proportions")
    b = validate.probability(base, "base proportions")
    if t.shape != b.shape:
        raise ValueError(f"target has {t.size} classes, base has {b.size}")
    if np.any(t <= 0) or np.any(b <= 0):
        raise ValueError("target and base proportions must be > 0 for every class")
    log_a = (1 + w) / w * np.log(b) - np.log(t) / w
    a = np.exp(log_a - log_a.max())
    return a / a.sum()


def guided_class_proportions(base, aux, w: float) -> np.ndarray:
    """The forward map of :func:`auxiliary_proportions`: pi_w ~ pi_base^(1+w) / pi_aux^w (normalised)."""
    w = check_w(w)
    b, a = validate.probability(base, "base proportions"), validate.probability(aux, "aux proportions")
    log_p = (1 + w) * np.log(b) - w * np.log(a)
    p = np.exp(log_p - log_p.max())
    return p / p.sum()


def class_quotas(proportions: np.ndarray, n: int) -> np.ndarray:
    """Integer counts summing to n, closest to n * proportions (largest remainders)."""
    raw = np.asarray(proportions, float) * n
    q = np.floor(raw).astype(int)
    q[np.argsort(-(raw - q), kind="stable")[: n - q.sum()]] += 1
    return q


def compose_by_class(D: nn.Module, label_fn: Callable[[np.ndarray], np.ndarray], proportions, n_s: int,
                     seed0: int, device, num_steps: int, chunk: int = 1024,
                     max_draws: int | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """n_s base samples with class counts from ``proportions`` (labels by ``label_fn``, e.g. the classifier's
    argmax): candidates are drawn in seed order and each is kept while its class still has room.
    Returns (images, labels, seeds); a quota that cannot be filled within ``max_draws`` is a ValueError."""
    quota = class_quotas(validate.probability(proportions, "auxiliary proportions"), n_s)
    max_draws = max_draws or 50 * n_s
    imgs, labs, seeds, drawn = [], [], [], 0
    have = np.zeros_like(quota)
    while np.any(have < quota):
        if drawn >= max_draws:
            raise ValueError(f"after {drawn} candidates the class quotas {quota.tolist()} are not met "
                             f"(have {have.tolist()}): a target this far from the base needs more draws or a larger w")
        s = seed0 + drawn + np.arange(chunk)
        x = generate(D, s, device, num_steps)
        y = np.asarray(label_fn(x))
        for i in range(len(x)):
            if have[y[i]] < quota[y[i]]:
                have[y[i]] += 1
                imgs.append(x[i])
                labs.append(y[i])
                seeds.append(s[i])
        drawn += chunk
    return np.stack(imgs), np.array(labs), np.array(seeds, dtype=np.int64)


def finetune_auxiliary(base_run, out, n_s: int, images: int, lr: float | None = None, seed: int = 0, *,
                       num_steps: int = 8, device: str | None = None, class_proportions=None,
                       label_fn: Callable | None = None, progress: bool = False) -> Denoiser:
    """Build (or resume) the SIMS auxiliary of ``base_run`` in the run folder ``out``; returns it (EMA weights).

    Draws n_s images from the base with seeds SYN_SEED0 + seed * SEED_STRIDE + i (or, with ``class_proportions``
    and ``label_fn``, a set with those class proportions, :func:`compose_by_class`), then fine-tunes a copy of the
    base from its weights with the base's hyperparameters (:func:`empirical.train.finetune_config`: no warm-up,
    lr overridable) for ``images`` images seen (B). Folder: config.json (n_s, B, lr, seed, base network sha1),
    synthetic.npz, network.pt, training-state.pt, metrics.jsonl. A rerun resumes; another config is refused
    with the differing keys (simtheory.runs.ConfigMismatch, a ValueError).
    """
    n_s = validate.count(n_s, "n_s", minimum=1)
    images = validate.count(images, "images (B)", minimum=1)
    if lr is not None and not (math.isfinite(float(lr)) and float(lr) > 0):
        raise ValueError(f"lr must be > 0, got {lr}")
    bf = base_folder(base_run)
    base_cfg = base_train_config(bf)
    dev = device or base_cfg.device
    if base_cfg.conditional:
        raise ValueError("SIMS here is unconditional: the base run is class-conditional")
    ft = finetune_config(replace(base_cfg, device=dev), images, seed, lr)
    props = None if class_proportions is None else validate.probability(class_proportions, "class_proportions").tolist()
    if props is not None and label_fn is None:
        raise ValueError("class_proportions needs label_fn (the classifier's labels)")
    config = {"kind": "sims_auxiliary", "base": str(base_run), "base_network_sha1": _file_sha1(bf / "network.pt"),
              "n_s": n_s, "images": images, "lr": ft.lr, "seed": int(seed), "num_steps": int(num_steps),
              "class_proportions": props, "train": ft.to_dict()}
    rf = RunFolder.open(out, config)
    D_base = load_network(bf / "network.pt", dev)
    syn = rf.load_arrays("synthetic")
    t0 = time.perf_counter()
    if syn is None:
        seed0 = SYN_SEED0 + int(seed) * SEED_STRIDE
        if props is None:
            s = seed0 + np.arange(n_s)
            syn = {"images": generate(D_base, s, dev, num_steps, progress=progress), "seeds": s}
        else:
            x, y, s = compose_by_class(D_base, label_fn, props, n_s, seed0, dev, num_steps)
            syn = {"images": x, "labels": y, "seeds": s}
        rf.save_arrays("synthetic", **syn)
    aux = train(ft, syn["images"], None, rf.path, init=D_base.state_dict(), progress=progress)
    if not rf.metrics():
        rec = {"stage": "auxiliary", "n_s": n_s, "images": images, "lr": ft.lr, "seed": int(seed),
               "synthetic_sha1": sha1_array(syn["images"]), "seconds": time.perf_counter() - t0}
        if "labels" in syn:
            rec["synthetic_class_counts"] = np.bincount(syn["labels"], minlength=len(props)).tolist()
        rf.append(rec)
    return aux.eval()


def load_auxiliary(aux_run, D_base: nn.Module | None = None, device="cpu") -> Denoiser:
    """The auxiliary network of a :func:`finetune_auxiliary` folder; with ``D_base``, checked to share its
    architecture."""
    p = Path(aux_run)
    if not (p / "network.pt").exists():
        raise ValueError(f"no auxiliary network in {p}: run `python -m empirical sims` first")
    aux = load_network(p / "network.pt", device)
    if D_base is not None:
        check_same_architecture(D_base, aux)
    return aux


@dataclass(frozen=True)
class SimsSampling:
    """The SIMS option of a loop generation: its model D samples with D + w (D - D_aux), where D_aux is D fine-tuned
    on n_s of D's own samples for ``images`` images (lr None: D's training lr). w = 0 samples plainly."""

    w: float = 1.0
    n_s: int = 2500
    images: int = 25_000
    lr: float | None = None

    def __post_init__(self):
        object.__setattr__(self, "w", check_w(self.w))
        object.__setattr__(self, "n_s", validate.count(self.n_s, "sims n_s", 1))
        object.__setattr__(self, "images", validate.count(self.images, "sims images (B)", 1))
        if self.lr is not None and not (math.isfinite(float(self.lr)) and float(self.lr) > 0):
            raise ValueError(f"sims lr must be > 0, got {self.lr}")

    def to_dict(self) -> dict:
        return asdict(self)


def generation_sampler(D: nn.Module, gen_folder, sims: SimsSampling | None, device, num_steps: int, seed: int,
                       progress: bool = False) -> Callable[[np.ndarray], np.ndarray]:
    """seeds -> uint8 images of one loop generation: plain Heun sampling, or, with ``sims`` (w > 0), guidance from
    the generation's own auxiliary, built (or resumed) in <gen_folder>/sims-aux from <gen_folder>/network.pt."""
    if sims is None or sims.w == 0:
        return lambda seeds: generate(D, seeds, device, num_steps, progress=progress)
    aux = finetune_auxiliary(gen_folder, Path(gen_folder) / "sims-aux", sims.n_s, sims.images, sims.lr, seed,
                             num_steps=num_steps, device=str(device))
    return lambda seeds: guided_generate(D, aux, sims.w, seeds, device, num_steps, progress=progress)
