r"""``python -m empirical gpu-check --out DIR``: the `gpu` preset's pipeline on one GPU in a fixed time budget (default
540 s), written as a few small files that come back from a lent device machine.

Steps, each timed and logged; summary.json is rewritten after every step, so a run cut short keeps what finished:

1. data: CIFAR-10 at the preset's resolution, and the FID statistics of all training images (Inception rate
   measured here);
2. throughput: training steps of the preset's U-Net per second, fp32 eager and then bf16 autocast + torch.compile +
   channels_last, on the same batch; the ratio is printed;
3. classifier: the preset's reward classifier (fewer epochs), for the curated generation;
4. base: the preset's base model (bf16, compiled, as the preset trains it) for as many images as the remaining budget
   allows after reserving the later steps (planned from the rates measured in steps 1 and 2);
5. fid: 10,000 samples (the preset's Heun steps) and their FID against the training-set statistics; a sample grid;
6. curated: one curated generation (K = 4 candidates per kept image, softmax of the class reward), the base
   fine-tuned on the kept images; mean reward and class share before and after on the same seeds;
7. sims: one SIMS auxiliary (empirical.sims.finetune_auxiliary) and FID of a w = 0 / w = 1 pair on the same seeds;
8. mixture: one curated generation of the U-Net on the 32 x 32 CIFAR-10 law (`empirical.mixture`: the gpu
   preset's U-Net on exact draws, a shorter base, the law fitted in step 1 or read from its cache), with the law,
   fit and selection errors of [`empirical.compare.compare_run`][empirical.compare.compare_run] and the Frechet distance
   to the law beside its floor.

Files in DIR: summary.json, gpu-check.log, grid.png (rows: base samples, the curated model's and the SIMS w = 1
samples of the same seeds). Networks and caches go to the work folder (``--work``), which is not meant to come back.
``--device cpu --smoke`` runs every step at a tiny size (8x8, a few hundred images; compile with the 'eager' Dynamo
backend, the base trained without compile) in well under a minute, which the tests do.
"""
from __future__ import annotations

import json
import math
import platform
import time
import traceback
from dataclasses import dataclass, replace
from pathlib import Path
from typing import cast

import numpy as np
import torch
from torch import nn

from simtheory.runs import RunFolder, atomic_write

FILES = ("summary.json", "gpu-check.log", "grid.png")


@dataclass(frozen=True)
class CheckSizes:
    """How big each step is; ``FULL`` for one GPU, ``SMOKE`` for a CPU test."""

    preset: str = "gpu"
    throughput_batch: int = 256
    throughput_steps: int = 20
    compile_backend: str = "inductor"
    classifier_epochs: int = 5
    base_compile: bool = True
    min_base_images: int = 100_000
    max_base_images: int = 5_000_000
    fid_n: int = 10_000
    fid_ref_n: int | None = None        # None: every training image
    num_steps: int = 18
    n_kept: int = 2_500
    K: int = 4
    curated_images: int = 100_000
    n_eval: int = 2_000
    n_s: int = 2_500
    sims_images: int = 50_000
    n_pair: int = 5_000
    batch: int = 512                    # sampling batch
    margin_s: float = 30.0              # budget kept free for what the plan cannot see
    mixture_preset: str = "gpu"         # the mixture step (empirical.mixture): preset, N, base and fine-tune samples,
    mixture_n: int = 2_500              # evaluation draws, the law's draws and moments
    mixture_base_samples: int = 200_000
    mixture_finetune: int = 100_000
    mixture_n_eval: int = 2_000
    mixture_n_law: int = 32_768
    mixture_n_moments: int = 4_096


FULL = CheckSizes()
SMOKE = CheckSizes(preset="tiny", throughput_batch=16, throughput_steps=3, compile_backend="eager",
                   classifier_epochs=1, base_compile=False, min_base_images=512, max_base_images=1024, fid_n=16,
                   fid_ref_n=8, num_steps=6, n_kept=16, K=4, curated_images=128, n_eval=16, n_s=16,
                   sims_images=128, n_pair=6, batch=64, margin_s=0.0, mixture_preset="tiny", mixture_n=32,
                   mixture_base_samples=512, mixture_finetune=128, mixture_n_eval=16, mixture_n_law=4096,
                   mixture_n_moments=4096)


class Report:
    """summary.json and gpu-check.log in ``out``: every step's record, written as soon as it is known."""

    def __init__(self, out: Path, budget_s: float):
        self.out, self.t0, self.budget_s = Path(out), time.perf_counter(), budget_s
        self.folder = RunFolder.hold(self.out)      # one writer at a time (FolderInUse), held while the report lives
        self.summary: dict = {"budget_s": budget_s, "steps": {}}
        self._log = open(self.out / "gpu-check.log", "a")

    def elapsed(self) -> float:
        return time.perf_counter() - self.t0

    def log(self, msg: str) -> None:
        line = f"[{self.elapsed():7.1f} s] {msg}"
        print(line, flush=True)
        self._log.write(line + "\n")
        self._log.flush()

    def step(self, name: str, rec: dict) -> None:
        self.summary["steps"][name] = {**rec, "finished_at_s": round(self.elapsed(), 2)}
        self.summary["elapsed_s"] = round(self.elapsed(), 2)
        self.log(f"{name}: " + json.dumps(rec, default=float))
        self.write()

    def write(self) -> None:
        atomic_write(self.out / "summary.json", (json.dumps(self.summary, indent=2, default=float) + "\n").encode())

    def close(self) -> None:
        self._log.close()


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def training_throughput(unet, batch: int, steps: int, device, fast: bool, backend: str = "inductor") -> dict:
    """Training steps of a fresh Denoiser(unet) per second on one fixed random batch (EDM loss, Adam): fp32 eager, or
    with ``fast`` bf16 autocast + torch.compile(backend) + channels_last. The first step (compilation) is timed
    apart; then two warm-up steps and ``steps`` timed ones."""
    from .edm import draw_noise, edm_loss
    from .networks.unet import Denoiser
    device = torch.device(device)
    with torch.random.fork_rng(devices=[]):       # fixed weights, the caller's generator untouched
        torch.manual_seed(0)
        D = Denoiser(unet).to(device)
    g = torch.Generator().manual_seed(0)
    shape = (unet.in_channels, unet.img_resolution, unet.img_resolution)
    x = (torch.rand((batch,) + shape, generator=g) * 2 - 1).to(device)
    model: nn.Module = D
    if fast:
        D = D.to(memory_format=torch.channels_last)  # type: ignore[call-overload]  # torch's stub omits memory_format
        x = x.contiguous(memory_format=torch.channels_last)
        model = cast(nn.Module, torch.compile(D, backend=backend))   # an OptimizedModule: torch's stub says Callable
    opt = torch.optim.Adam(D.parameters(), lr=1e-4)

    def step():
        sigma, noise = draw_noise(g, batch, shape)
        if fast:
            noise = noise.contiguous(memory_format=torch.channels_last)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=fast):
            loss = edm_loss(model, x, None, sigma, noise).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return loss
    t = time.perf_counter()
    step()
    _sync(device)
    first = time.perf_counter() - t
    for _ in range(2):
        step()
    _sync(device)
    t = time.perf_counter()
    for _ in range(steps):
        loss = step()
    _sync(device)
    dt = time.perf_counter() - t
    return {"images_per_s": batch * steps / dt, "first_step_s": first, "batch": batch, "steps": steps,
            "final_loss": float(loss.detach()), "parameters": sum(p.numel() for p in D.parameters())}


def _plan_base_images(sizes: CheckSizes, report: Report, rates: dict) -> int:
    """Images for the base: the budget left after what the later steps are expected to take at the measured rates
    (sampling from the eager training rate: a sampler evaluation costs about a third of a training step per image),
    clipped to [min_base_images, max_base_images] and to a whole number of batches."""
    steps = 2 * sizes.num_steps - 1
    sample_rate = 3 * rates["eager"] / steps
    train_rate = rates["fast"]
    samples = (sizes.fid_n + sizes.n_kept * sizes.K + sizes.n_eval + sizes.n_s + 2 * sizes.n_pair
               + 2 * sizes.mixture_n * sizes.K + 2 * sizes.mixture_n_eval)
    inception = sizes.fid_n + sizes.n_pair               # the pair's w = 0 half reuses the FID features
    trained = sizes.curated_images + sizes.sims_images + sizes.mixture_base_samples + sizes.mixture_finetune
    reserve = (samples / sample_rate + trained / train_rate
               + inception / rates["inception"] + 3 * rates["compile_s"] + sizes.margin_s)
    left = report.budget_s - report.elapsed() - reserve
    images = int(max(0.0, left - rates["compile_s"]) * train_rate)
    images = min(max(images, sizes.min_base_images), sizes.max_base_images)
    report.summary["plan"] = {"reserve_s": reserve, "train_s": left, "sample_rate": sample_rate,
                              "train_rate": train_rate, "base_images": images}
    return images


def run_check(out, device: str = "cuda", smoke: bool = False, budget_s: float = 540.0, work=None, data=None,
              seed: int = 0) -> dict:
    """Run every step (see the module docstring) and return the summary; files go to ``out`` (at most FILES)."""
    from simtheory.fold import keep_one_of_k

    from . import fid as fidmod
    from .edm import generate
    from .edm.guidance import guided_generate
    from .images import cifar10 as cifar
    from .images.config import preset
    from .images.inputs import classifier_data, real_images
    from .images.measure import save_grid
    from .images.score import rewards_of
    from .networks.classifier import train_classifier
    from .seeds import sample_seeds, stream_seed
    from .sims.auxiliary import AUX_EMA, finetune_auxiliary
    from .train import finetune_config, train

    sizes = SMOKE if smoke else FULL
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError("no CUDA device here: the full check needs a GPU (for a CPU run of every step at a tiny "
                         "size pass --device cpu --smoke)")
    if dev.type != "cuda" and not smoke:
        raise ValueError(f"the full check needs a GPU; on {device} pass --smoke (every step at a tiny size)")
    if not (math.isfinite(budget_s) and budget_s > 0):
        raise ValueError(f"--budget-s must be > 0, got {budget_s}")
    out = Path(out)
    work = Path(work) if work is not None else out.parent / f"{out.name}-work"
    cfg = preset(sizes.preset, device=str(dev), seed=seed, **({"data": data} if data else {}))
    cfg = replace(cfg, classifier=replace(cfg.classifier, epochs=sizes.classifier_epochs))
    fidmod.detector_path()                          # the FID network must be there before minutes are spent
    report = Report(out, budget_s)
    s = report.summary
    s.update({"command": "python -m empirical gpu-check", "smoke": smoke, "device": str(dev), "seed": seed,
              "torch": torch.__version__, "python": platform.python_version(), "sizes": sizes.__dict__,
              "torch_threads": torch.get_num_threads()})
    if dev.type == "cuda":
        p = torch.cuda.get_device_properties(dev)
        s["gpu"] = {"name": p.name, "memory_gib": round(p.total_memory / 2**30, 1),
                    "capability": f"{p.major}.{p.minor}", "cuda": torch.version.cuda}
    report.write()
    rates: dict = {}
    try:
        # 1. data and the training-set FID statistics
        t = time.perf_counter()
        x, _ = real_images(cfg)
        xtr, _ = cifar.dataset("train", cfg.resolution, cfg.classes, None, 0, cfg.data)
        if sizes.fid_ref_n is not None:
            xtr = xtr[: sizes.fid_ref_n]
        t_data = time.perf_counter() - t
        t = time.perf_counter()
        from .mixture.inputs import resolve
        mix_cfg, _ = resolve(_mixture_config(sizes, str(dev), seed, data))   # the 32 x 32 law: fitted once, cached
        t_law = time.perf_counter() - t
        t = time.perf_counter()
        ref = fidmod.reference_statistics(xtr, work / f"fid-ref-train-{cfg.resolution}.npz", device=str(dev))
        t_ref = time.perf_counter() - t
        rates["inception"] = len(xtr) / max(t_ref, 1e-9)
        report.step("data", {"resolution": cfg.resolution, "classes": list(cfg.class_names), "train_images": len(x),
                             "fid_reference_n": int(ref["n"]), "data_s": t_data, "fid_reference_s": t_ref,
                             "mixture_law_s": t_law, "mixture_law_sha1": mix_cfg.law_sha1})

        # 2. training throughput: fp32 eager, then bf16 + compile + channels_last
        unet = cfg.train.unet
        eager = training_throughput(unet, sizes.throughput_batch, sizes.throughput_steps, dev, fast=False)
        fast = training_throughput(unet, sizes.throughput_batch, sizes.throughput_steps, dev, fast=True,
                                   backend=sizes.compile_backend)
        rates.update(eager=eager["images_per_s"], fast=fast["images_per_s"], compile_s=fast["first_step_s"])
        ratio = fast["images_per_s"] / eager["images_per_s"]
        report.step("throughput", {"fp32_eager": eager, "bf16_compile_channels_last": fast, "ratio": ratio,
                                   "compile_backend": sizes.compile_backend})
        report.log(f"training throughput: fp32 eager {eager['images_per_s']:.0f} img/s, bf16 + compile + "
                   f"channels_last {fast['images_per_s']:.0f} img/s: {ratio:.2f}x")
        if dev.type == "cuda":
            torch.cuda.empty_cache()

        # 3. the reward classifier (for the curated generation)
        t = time.perf_counter()
        xc, yc = classifier_data(cfg, "classifier")
        xt, yt = cifar.dataset("test", cfg.resolution, cfg.classes, None, 0, cfg.data)
        clf, acc = train_classifier(cfg.classifier, xc, yc, xt, yt, work / "classifier")
        report.step("classifier", {"test_accuracy": acc, "epochs": cfg.classifier.epochs, "images": len(xc),
                                   "seconds": time.perf_counter() - t})

        # 4. the base, for the images the budget allows
        images = _plan_base_images(sizes, report, rates)
        tc = replace(cfg.train, total_samples=images, checkpoint_samples=images, compile=sizes.base_compile,
                     warmup_samples=min(cfg.train.warmup_samples, images // 10), device=str(dev))
        t = time.perf_counter()
        D = train(tc, x[: cfg.n_samples], None, work / "base")
        t_base = time.perf_counter() - t
        report.step("base", {"images": images, "seconds": t_base, "images_per_s": images / t_base,
                             "bf16": tc.bf16, "compile": tc.compile, "real_images": cfg.n_samples,
                             "preset_total_images": cfg.train.total_samples})

        # 5. samples and their FID against the training statistics
        seeds = sample_seeds("eval", seed, 0, sizes.fid_n)
        t = time.perf_counter()
        base_imgs = generate(D, seeds, str(dev), sizes.num_steps, batch=sizes.batch)
        t_sample = time.perf_counter() - t
        t = time.perf_counter()
        base_feats = fidmod.inception_features(base_imgs, device=str(dev))
        f = _fid(base_feats, ref, seeds)
        report.step("fid", {**f, "num_steps": sizes.num_steps, "sample_s": t_sample,
                            "samples_per_s": len(seeds) / t_sample, "fid_s": time.perf_counter() - t})

        # 6. one curated generation
        t = time.perf_counter()
        cseeds = sample_seeds("candidates", seed, 1, sizes.n_kept * sizes.K)
        cand = generate(D, cseeds, str(dev), sizes.num_steps, batch=sizes.batch)
        r, _ = rewards_of(cfg, clf, cand)
        rng = np.random.default_rng(stream_seed(seed, "curation", 1))
        kept = keep_one_of_k(r, sizes.K, rng)
        ft = finetune_config(tc, sizes.curated_images, stream_seed(seed, "finetune", 1), cfg.finetune_lr)
        D1 = train(ft, cand[kept], None, work / "curated", init=D.state_dict())
        ev = seeds[: sizes.n_eval]
        cur_imgs = generate(D1, ev, str(dev), sizes.num_steps, batch=sizes.batch)
        tgt = cfg.class_names.index(cfg.target)
        rec = {"K": sizes.K, "candidates": len(cand), "kept": len(kept), "finetune_images": sizes.curated_images,
               "target": cfg.target, "candidate_mean_reward": float(r.mean()), "kept_mean_reward": float(r[kept].mean()),
               "n_eval": len(ev)}
        for name, imgs in (("base", base_imgs[: len(ev)]), ("curated", cur_imgs)):
            re, probs = rewards_of(cfg, clf, imgs)
            share = float((probs.argmax(1) == tgt).mean())
            rec[name] = {"mean_reward": float(re.mean()), "reward_se": float(re.std(ddof=1) / math.sqrt(len(re))),
                         "target_share": share, "target_share_se": math.sqrt(share * (1 - share) / len(re))}
        rec["seconds"] = time.perf_counter() - t
        report.step("curated", rec)

        # 7. one SIMS auxiliary and a w = 0 / w = 1 pair on the same seeds
        t = time.perf_counter()
        aux = finetune_auxiliary(work / "base", work / "sims-aux", sizes.n_s, sizes.sims_images, None, 0,
                                 num_steps=sizes.num_steps, device=str(dev), ema=AUX_EMA)
        t_aux = time.perf_counter() - t
        pseeds = seeds[: sizes.n_pair]
        t = time.perf_counter()
        sims_imgs = guided_generate(D, aux, 1.0, pseeds, str(dev), sizes.num_steps, batch=sizes.batch)
        t_guided = time.perf_counter() - t
        f0 = _fid(base_feats[: sizes.n_pair], ref, pseeds)
        f1 = _fid(fidmod.inception_features(sims_imgs, device=str(dev)), ref, pseeds)
        acfg = json.loads((work / "sims-aux" / "config.json").read_text())
        report.step("sims", {"n_s": sizes.n_s, "images": sizes.sims_images, "lr": acfg["lr"], "ema": AUX_EMA,
                             "weight_distance": acfg.get("measured", {}).get("weight_distance"),
                             "fid_w0": f0["fid"], "fid_w1": f1["fid"], "fid_n": sizes.n_pair,
                             "auxiliary_s": t_aux, "guided_sample_s": t_guided})

        # 8. one curated generation on the exact law
        t = time.perf_counter()
        rec = _mixture_step(mix_cfg, work / "mixture")
        report.step("mixture", {**rec, "seconds": time.perf_counter() - t})

        k = 8
        grid = np.concatenate([base_imgs[: 2 * k], cur_imgs[: 2 * k], sims_imgs[: 2 * k]])
        save_grid(grid, out / "grid.png", ncol=k)
        s["grid"] = "rows 1-2: base samples; 3-4: the curated model, same seeds; 5-6: SIMS w = 1, same seeds"
        s["finished"] = True
    except Exception as e:          # keep what finished; say what failed and where
        s["error"] = f"{type(e).__name__}: {e}"
        report.log("FAILED: " + s["error"] + "\n" + traceback.format_exc())
        s["finished"] = False
    s["elapsed_s"] = round(report.elapsed(), 2)
    s["within_budget"] = report.elapsed() <= budget_s
    report.write()
    report.log(f"done in {report.elapsed():.1f} s (budget {budget_s:.0f} s); files in {out}: "
               f"{', '.join(p.name for p in sorted(out.iterdir()))}")
    report.close()
    _check_files(out)
    return s


def _mixture_config(sizes: CheckSizes, device: str, seed: int, data):
    """The mixture step's loop: the sizes' preset for one curated generation, its base budget shortened, no sampler
    check (the exact sampler's error is recorded at generation 0)."""
    from .mixture.config import mixture_preset
    cfg = mixture_preset(sizes.mixture_preset, device=device, seed=seed, generations=1, K=sizes.K,
                         n_samples=sizes.mixture_n, finetune_samples=sizes.mixture_finetune,
                         n_eval=sizes.mixture_n_eval, n_law=sizes.mixture_n_law, n_moments=sizes.mixture_n_moments,
                         num_steps=sizes.num_steps, sampler_ref_steps=0, n_sampler=min(sizes.mixture_n_eval, 500),
                         fd_floor_reps=2, data=data)
    b = sizes.mixture_base_samples
    tc = replace(cfg.train, total_samples=b, checkpoint_samples=b, warmup_samples=min(cfg.train.warmup_samples, b // 10),
                 compile=sizes.base_compile)
    return replace(cfg, train=tc)


def _mixture_step(cfg, folder: Path) -> dict:
    """Run the mixture loop of ``cfg`` into ``folder`` and return its errors: per generation the law and fit errors
    with SEs and z, the Frechet distance to the law and its floor; the selection check's z of the curated generation;
    the exact sampler's error and the base's RMS error against the exact denoiser."""
    from .compare import compare_run
    from .mixture.kind import run_mixture_loop
    rf = run_mixture_loop(cfg, folder, progress=False)
    if rf is None:
        raise RuntimeError("the GPU check runs in one process, not under torchrun")
    rows = rf.metrics()
    res = compare_run(rf.path)
    rec: dict = {"resolution": cfg.resolution, "n_samples": cfg.n_samples, "K": cfg.K,
                 "base_samples": cfg.train.total_samples, "finetune_samples": cfg.finetune_samples,
                 "generations": []}
    for r in rows:
        g = {k: r.get(k) for k in ("generation", "mean_reward", "reward_se", "law_mean_reward", "law_error",
                                   "law_error_se", "fit_error", "fit_error_se", "fd_law", "fd_law_floor",
                                   "fd_law_floor_sd", "n_measured")}
        for key in ("law", "fit"):
            se = r.get(f"{key}_error_se")
            g[f"{key}_z"] = r[f"{key}_error"] / se if se else None
        rec["generations"].append(g)
    sel = [c for c in res["checks"] if c["check"] == "selection"]
    rec["selection_z"] = sel[0]["value"] if sel else None
    rec["checks"] = {f"{c['check']}_{c['generation']}": c["holds"] for c in res["checks"]
                     if c["check"] in ("fit", "law", "selection")}
    rec.update({k: rows[0].get(k) for k in ("exact_sampler_error", "exact_sampler_error_se", "denoiser_sigmas",
                                            "denoiser_rmse", "denoiser_mmse_rms")})
    return rec


def _fid(features: np.ndarray, ref: dict, seeds) -> dict:
    """empirical.fid.fid's record from Inception features already computed (the pair's w = 0 half reuses them)."""
    from . import fid as fidmod
    mu, sigma = fidmod.statistics(features)
    return {"fid": fidmod.frechet_distance(mu, sigma, ref["mu"], ref["sigma"]), "fid_n": int(len(features)),
            "fid_ref_n": int(ref["n"]), "fid_ref_sha1": str(ref.get("sha1", ref["images_sha1"])),
            "fid_detector_sha1": fidmod.detector_id(), "fid_seeds": [int(np.min(seeds)), int(np.max(seeds))]}


def _check_files(out: Path, max_files: int = 8, max_bytes: int = 16 * 2**20) -> None:
    """The output folder must come back from a device machine: at most 8 plain files of at most 16 MiB."""
    files = [p for p in Path(out).iterdir()]
    big = [p.name for p in files if p.stat().st_size > max_bytes]
    if len(files) > max_files or big or any(not p.is_file() for p in files):
        raise ValueError(f"{out} holds {len(files)} entries (at most {max_files} plain files of 16 MiB): {big}")
