r"""The mixture kind of the fold ([`empirical.fold_spec.DataKind`][empirical.fold_spec.DataKind]): exact draws of the law, the reward and labels of
its Bayes posterior, its exact curated trajectory and the measures of `empirical.mixture.measure`;
`run_mixture_loop` runs the curated loop on it and `exact_sampler_steps` measures the sampler alone."""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from simtheory import predict
from simtheory.diffusion.lowrank import LowRankMixture
from simtheory.runs import RunFolder

from ..fold import Sampler, run_fold
from ..images.measure import save_grid
from ..samples import SAMPLES_KEY, write_npz
from ..seeds import sample_seeds, stream_seed
from .config import MixtureLoopConfig
from .inputs import chunk_rows, draw_law, law_draws, log_posteriors, resolve, reward_of_posterior
from .measure import (against_law, curated_weights, denoiser_error, display_uint8, exact_samples, frechet_reference,
                      frechet_to)


class MixtureData:
    """The mixture kind of the fold ([`empirical.fold.run_fold`][empirical.fold.run_fold]): exact draws, the Bayes posterior's reward and
    labels, the exact curated trajectory and the measures of the package docstring. Pass a config completed by
    `empirical.mixture.inputs.resolve` and its law."""

    def __init__(self, cfg: MixtureLoopConfig, law: LowRankMixture, progress: bool = False):
        if cfg.law_sha1 is None or cfg.classes is None:
            raise ValueError("pass a config completed by empirical.mixture.resolve (law_sha1 and classes set)")
        self.cfg, self.mixture, self.progress = cfg, law, progress
        self.classes = list(cfg.classes)
        self.n_classes = law.K
        self.target = self.classes.index(cfg.target) if cfg.reward == "class" else 0
        assert cfg.train.unet is not None         # a MixtureLoopConfig trains the U-Net (checked when it is made)
        self.shape = (cfg.train.unet.in_channels, cfg.resolution, cfg.resolution)
        self.devices: tuple[str, ...] = (cfg.device,)
        self.log_fields: dict = {"law_sha1": cfg.law_sha1}
        self.law: dict | None = None
        self.refs: list[dict] = []
        self.floors: list[tuple[float, float]] = []
        self.data_ref: dict | None = None
        self.data_floor: tuple[float, float] | None = None

    # ---------------------------------------------------------------------------- the fold's interface
    def real(self) -> tuple[np.ndarray, np.ndarray]:
        """The run's real samples: n_real exact draws of the law (stream 'data'), float64 (n, C, H, W), and their
        components."""
        x, y = draw_law(self.mixture, self.cfg.n_real, stream_seed(self.cfg.seed, "data"))
        return x.reshape((-1,) + self.shape), y

    def score(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(rewards, labels): the posterior reward and the Bayes classifier's argmax of the clean law."""
        lp = log_posteriors(self.mixture, x)
        c = self.cfg
        return reward_of_posterior(lp, c.reward, self.target, c.gamma, c.temperature), lp.argmax(axis=1)

    def start(self, rf: RunFolder) -> None:
        """The exact curated trajectory of the law (``law``) and its moments: the data law's exact ones and p_t's
        from the trajectory's weights on the first n_moments draws, each with the Frechet distance's noise floor
        (`_floor_draws`)."""
        cfg, law = self.cfg, self.mixture
        seed = stream_seed(cfg.seed, "law")
        r = np.empty(cfg.n_law)
        y = np.empty(cfg.n_law, np.int64)
        for sl, x, _ in law_draws(law, cfg.n_law, seed):
            r[sl], y[sl] = self.score(x)
        self.law = predict.law_trajectory(r, y, cfg.K, cfg.generations, lam=cfg.lam, scheme=cfg.scheme,
                                          n_real=cfg.n_samples, n_synthetic=cfg.n_synthetic, n_classes=law.K)
        W = curated_weights(r, cfg.K, cfg.generations, cfg.lam, cfg.scheme)
        m = cfg.n_moments or cfg.n_law
        Wm = W[:, :m] / W[:, :m].sum(axis=1, keepdims=True)
        T1, d = W.shape[0], law.d
        s1, s2 = np.zeros((T1, d)), np.zeros((T1, d, d))
        for sl, x, _ in law_draws(law, m, seed):
            s1 += Wm[:, sl] @ x
            for t in range(T1):
                s2[t] += (x * Wm[t, sl, None]).T @ x
        self.refs = [frechet_reference(s1[t], s2[t] - np.outer(s1[t], s1[t])) for t in range(T1)]
        self.data_ref = frechet_reference(law.mean(), law.covariance())
        rng = np.random.default_rng(stream_seed(cfg.seed, "floor"))
        order = np.argsort(r, kind="stable")
        self.floors = []
        for t in range(T1):
            draws = self._floor_draws(r[order], cfg.n_law * W[t, order], rng)
            v = [frechet_to(s, self.refs[t]) for s in draws]
            self.floors.append((float(np.mean(v)), float(np.std(v, ddof=1))))
            if t == 0:                  # exact draws of the law against its exact moments
                v = [frechet_to(s, self.data_ref) for s in draws]
                self.data_floor = (float(np.mean(v)), float(np.std(v, ddof=1)))

    def _floor_draws(self, r_sorted: np.ndarray, g_sorted: np.ndarray, rng: np.random.Generator) -> list:
        r"""fd_floor_reps sets of n_eval exact draws of p_t, independent of the atoms its moments come from: p_t
        has density p_0(x) g_t(r(x)) (curation reweights by a function of the reward, and mixing with p_0 keeps that
        form), g_t read off the atoms (M times their weight, interpolated in r), so fresh draws of the law accepted
        with probability g_t(r) / max g_t are draws of p_t (rejection sampling): what a model that is exactly p_t
        would be measured on."""
        cfg, law = self.cfg, self.mixture
        need = cfg.n_eval * cfg.fd_floor_reps
        gmax = float(g_sorted.max())
        rows = chunk_rows(law)
        got: list = []
        have = drawn = 0
        while have < need:
            if drawn > 1000 * need:
                raise ValueError(f"the floor's rejection sampler accepted {have} of {drawn} draws: p_t is too far from "
                                 "the law for it (lower K or the generations)")
            x = law.sample(rows, rng)
            g = np.interp(self.score(x)[0], r_sorted, g_sorted)
            keep = x[rng.random(rows) * gmax < g]
            got.append(keep)
            have += len(keep)
            drawn += rows
        x = np.concatenate(got)[:need]
        return [x[i * cfg.n_eval:(i + 1) * cfg.n_eval] for i in range(cfg.fd_floor_reps)]

    def measure(self, t: int, D, samples: np.ndarray, seeds: np.ndarray, folder: Path, sample: Sampler) -> dict:
        """The Frechet distances of generation t's evaluation samples to the data law and to p_t, with their noise
        floors; at t = 0 the denoiser's error against the exact one; a grid of the samples (<folder>/samples.png,
        display only: [-1, 1] mapped to 8 bits) and the samples themselves (<folder>/samples.npz, float32)."""
        cfg = self.cfg
        if self.data_ref is None or self.data_floor is None:
            raise RuntimeError("MixtureData.measure needs the law's moments: call start() first")
        rec = {"fd_law": frechet_to(samples, self.data_ref), "fd_law_floor": self.data_floor[0],
               "fd_law_floor_sd": self.data_floor[1], "fd_curated": frechet_to(samples, self.refs[t]),
               "fd_curated_floor": self.floors[t][0], "fd_curated_floor_sd": self.floors[t][1],
               "fd_n": int(len(samples)), "fd_floor_reps": cfg.fd_floor_reps}
        if t == 0:
            rec.update(denoiser_error(D, self.mixture, cfg.denoiser_sigmas, cfg.n_denoiser,
                                      stream_seed(cfg.seed, "denoiser"), cfg.device))
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        save_grid(display_uint8(samples), folder / "samples.png")
        write_npz(folder / "samples.npz", **{SAMPLES_KEY: np.asarray(samples, np.float32)}, seeds=seeds)
        return rec

    def exact_sampler(self) -> dict:
        """The sampler's own error: the exact denoiser (float64 behind the sampler's float32 boundary) through the
        loop's Heun sampler at the run's steps, on generation 0's first n_sampler evaluation latents (the latents
        model 0 was measured on), against the law's E[r] and class shares (its exact draws)."""
        if self.law is None:
            raise RuntimeError("MixtureData.exact_sampler needs the law's trajectory: call start() first")
        cfg = self.cfg
        n = min(cfg.n_sampler, cfg.n_eval)
        seeds = sample_seeds("eval", cfg.seed, 0, n)
        x = exact_samples(self.mixture, seeds, cfg.num_steps, self.shape, cfg.device)
        r, y = self.score(x)
        rec = against_law(r, y, self.law, self.n_classes, "exact_sampler")
        rec.update(exact_sampler_steps=cfg.num_steps, n_exact_sampler=n)
        return rec


def run_mixture_loop(config: MixtureLoopConfig, out, progress: bool = True) -> RunFolder | None:
    """Run (or resume) the curated loop on the config's mixture into ``out``; returns the run folder. A missing law
    (or CIFAR-10 for a law to fit) fails before the folder exists."""
    cfg, law = resolve(config)
    return run_fold(cfg, MixtureData(cfg, law, progress), out, progress)


def exact_sampler_steps(config: MixtureLoopConfig, steps, n: int, ref_steps: int, seed: int = 0) -> dict:
    """The sampler's share of the mixture's error: the exact denoiser through the loop's Heun sampler at each of
    ``steps`` on n latents (the 'heldout' seed block of ``seed``), against the law's E[r] and class shares (n_law
    exact draws) and, paired on the same latents, against ``ref_steps`` steps. Returns {"rows": [...], ...}."""
    steps = [int(s) for s in steps]
    if not steps or min(steps + [ref_steps]) < 2:
        raise ValueError(f"steps and ref_steps must be >= 2 (the Heun schedule needs two noise levels), got "
                         f"{steps} and {ref_steps}")
    if n < 2:
        raise ValueError(f"n must be >= 2 (a standard error), got {n}")
    cfg, law = resolve(config)
    kind = MixtureData(cfg, law)
    lseed = stream_seed(cfg.seed, "law")
    r = np.empty(cfg.n_law)
    y = np.empty(cfg.n_law, np.int64)
    for sl, x, _ in law_draws(law, cfg.n_law, lseed):
        r[sl], y[sl] = kind.score(x)
    lawt = predict.law_trajectory(r, y, 1, 0, n_real=cfg.n_samples, n_synthetic=cfg.n_synthetic, n_classes=law.K)
    seeds = sample_seeds("heldout", seed, 0, n)
    got = {s: kind.score(exact_samples(law, seeds, s, kind.shape, cfg.device)) for s in dict.fromkeys(
        [*steps, ref_steps])}
    rr, ry = got[ref_steps]
    rows = []
    eye = np.eye(law.K)
    for s in steps:
        rs, ys = got[s]
        rec = {"steps": s, "mean_reward": float(rs.mean()), **against_law(rs, ys, lawt, law.K, "law")}
        dr = rs - rr
        dq = eye[ys] - eye[ry]
        rec.update(paired_error=float(dr.mean()), paired_error_se=float(dr.std(ddof=1) / math.sqrt(n)),
                   paired_class_share_error=dq.mean(axis=0).tolist(),
                   paired_class_share_error_se=(dq.std(axis=0, ddof=1) / math.sqrt(n)).tolist())
        rows.append(rec)
    return {"n": n, "ref_steps": ref_steps, "law_mean_reward": float(lawt["mean_reward"][0]),
            "law_mean_reward_se": float(lawt["mean_reward_se"][0]), "law_reward_sd": float(r.std(ddof=1)),
            "n_law": cfg.n_law, "law_class_proportions": np.asarray(lawt["class_proportions"][0]).tolist(),
            "reward": cfg.reward, "target": cfg.target, "resolution": cfg.resolution, "rows": rows}
