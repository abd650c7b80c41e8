r"""SIMS experiments on one base model: the w sweep (optionally over B and n_s) with a pick-on-one-seed-set,
report-on-the-others protocol, and distribution shifting toward a target class proportion.

Seed sets: set j uses the seeds of block ('sweep', j) of :mod:`empirical.seeds`; every setting uses the same n and
the same seeds. Set 0 picks (n_s, B, w) by the selection metric (FD in classifier features by default, the cheap
stand-in for FID at CPU scale); sets 1.. report every metric for all settings, and FID with precision/recall
in Inception features for w = 0 and the picked setting (``inception_n`` images each). Files in the run folder:
config.json, metrics.jsonl (one line per setting and seed set), aux-*/ (auxiliary run folders),
table.md, sweep.png.
"""
from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np

from simtheory import validate
from simtheory.runs import RunFolder, atomic_write

from . import checkpoints
from . import data as cifar
from . import metrics as mt
from .seeds import BLOCK_SIZE, MAX_SEED, sample_seeds
from simtheory.diffusion.sampler import check_w
from simtheory.diffusion.shifting import aux_weights_for_target, product_form_masses

from .edm.guidance import check_interval, guided_generate, num_classes, seed_labels
from .sims.auxiliary import (AUX_EMA, base_folder, base_train_config, finetune_auxiliary, load_auxiliary, load_base)

METRICS_LOWER_BETTER = {"fd_classifier": True, "fid": True, "precision": False, "recall": False}


@dataclass(frozen=True)
class SimsConfig:
    """One SIMS experiment on a base model. loop: the image-loop preset whose data, classes, classifier and
    reward the metrics use (a base that records its own loop config must match it); n_s, images (B), lr, ema: the
    auxiliary (lr None: the base's; ema: :func:`empirical.sims.finetune_auxiliary`); ws: the guidance grid;
    interval: the guidance interval in sigma (None: every noise level); num_steps: Heun steps of every sampling.
    ``data`` (where CIFAR-10 lies) and ``device`` are where, not what: neither enters the compared config."""

    loop: str = "cpu"
    n_s: tuple = (2500,)
    images: tuple = (10_000,)
    lr: float | None = None
    ema: float = AUX_EMA
    ws: tuple = (0.0, 0.25, 0.5, 1.0, 1.5, 2.0)
    interval: tuple | None = None
    n: int = 1000                      # images per seed set and setting (classifier metrics)
    n_sets: int = 3
    select: str = "fd_classifier"
    inception_n: int = 200             # images of each report set that get FID and P/R (w = 0 and the pick)
    inception_ref_n: int = 500         # real test images behind FID and the real P/R manifold
    num_steps: int = 8
    shift_class: str = "airplane"
    shift_share: float = 0.3
    shift_w: float = 1.0
    seed: int = 0
    device: str | None = None          # None: the loop preset's
    data: str | None = None            # None: the default CIFAR-10 source ($CIFAR10_SOURCE)

    def __post_init__(self):
        object.__setattr__(self, "n_s", tuple(validate.count(v, "n_s", 1) for v in np.atleast_1d(self.n_s)))
        object.__setattr__(self, "images", tuple(validate.count(v, "images (B)", 1) for v in np.atleast_1d(self.images)))
        object.__setattr__(self, "ws", tuple(check_w(w) for w in np.atleast_1d(self.ws)))
        if 0.0 not in self.ws:
            raise ValueError("the w grid must include 0 (the base, the reference line)")
        if len(set(self.ws)) != len(self.ws) or len(set(self.n_s)) != len(self.n_s) or \
                len(set(self.images)) != len(self.images):
            raise ValueError(f"repeated values in the grid: ws {self.ws}, n_s {self.n_s}, images {self.images}")
        validate.count(self.n, "n", 2)
        validate.count(self.n_sets, "n_sets", 2)
        validate.count(self.num_steps, "num_steps", 2)
        if self.n > BLOCK_SIZE:
            raise ValueError(f"n must be at most {BLOCK_SIZE} (one block of seeds per seed set), got {self.n}")
        if not (math.isfinite(float(self.ema)) and float(self.ema) >= 0):
            raise ValueError(f"ema (the auxiliary's EMA half-life as a fraction of B; 0: raw weights) must be >= 0, "
                             f"got {self.ema}")
        object.__setattr__(self, "ema", float(self.ema))
        iv = check_interval(self.interval)
        object.__setattr__(self, "interval", None if iv is None else tuple(iv))
        if self.select not in METRICS_LOWER_BETTER:
            raise ValueError(f"select must be one of {sorted(METRICS_LOWER_BETTER)}, got {self.select!r}")
        if self.select in ("fid", "precision", "recall"):
            raise ValueError("the pick runs on every setting; choose fd_classifier (Inception metrics run only "
                             "for w = 0 and the pick)")
        if not 0 < self.shift_share < 1:
            raise ValueError(f"shift_share must be in (0, 1), got {self.shift_share}")
        if self.inception_n > self.n:
            raise ValueError(f"inception_n {self.inception_n} exceeds n {self.n}")
        if self.inception_n and self.inception_ref_n < 2:
            raise ValueError(f"inception_ref_n must be >= 2 when inception_n > 0, got {self.inception_ref_n}")
        check_w(self.shift_w)
        seed = validate.count(self.seed, "seed", 0)
        if seed >= MAX_SEED:
            raise ValueError(f"seed must be below {MAX_SEED}, got {seed}")

    def loop_config(self):
        from .configs import preset
        over = {"device": self.device} if self.device else {}
        return preset(self.loop, **over, **({"data": self.data} if self.data else {}))

    def to_dict(self) -> dict:
        d = {"kind": "sims", **asdict(self)}
        d.pop("data")
        d["interval"] = None if self.interval is None else list(self.interval)
        return d


PRESETS = {
    # 18 Heun steps, as the tiny loop preset: at 4 the tiny classifier called 98% of the tiny base's samples airplane
    # (0.47 of the real test images; docs/empirical/sims.md)
    "tiny": SimsConfig(loop="tiny", n_s=(64,), images=(256,), ws=(0.0, 1.0), n=32, n_sets=3, inception_n=0,
                       inception_ref_n=0, num_steps=18, shift_class="airplane", shift_share=0.7, shift_w=1.0),
    # lr: the base's (1e-3), picked over 2e-4 on seed set 0 (results/cpu-sims/explore); w picked by the sweep
    "cpu": SimsConfig(loop="cpu", n_s=(2500,), images=(10_000,), ws=(0.0, 0.5, 1.0, 1.5, 2.0, 3.0), n=1000,
                      inception_n=1000, inception_ref_n=1000, num_steps=8),
    "gpu": SimsConfig(loop="gpu", n_s=(10_000,), images=(500_000,), lr=1e-4, ws=(0.0, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0),
                      n=5000, inception_n=5000, inception_ref_n=10_000, num_steps=18),
}


def sims_preset(name: str, **overrides) -> SimsConfig:
    """A named SIMS preset with fields replaced."""
    if name not in PRESETS:
        raise ValueError(f"unknown SIMS config {name!r}; presets are {sorted(PRESETS)}")
    return replace(PRESETS[name], **overrides) if overrides else PRESETS[name]


def seed_set(j: int, n: int) -> np.ndarray:
    """Seeds of seed set j (disjoint blocks)."""
    return sample_seeds("sweep", j, 0, n)


def _loop_from_dict(d: dict):
    """An ImageLoopConfig from a stored config.json dict (its SIMS option, irrelevant to measuring a base, left out)."""
    from .configs import ImageLoopConfig
    fields = ImageLoopConfig.__dataclass_fields__
    return ImageLoopConfig(**{k: v for k, v in d.items() if k in fields and k != "sims"})


def recorded_loop_config(base_run):
    """(the image-loop config the base was trained under, where it is recorded) or (None, None): a loop
    generation's run folder config.json, or a ``train`` run's config.json (written by the train command)."""
    bf = base_folder(base_run)
    for path, kind in ((bf / "config.json", "image_train"), (bf.parent / "config.json", "image_loop")):
        if path.exists():
            d = checkpoints.read_json(path)
            if d.get("kind") == kind:
                try:
                    return _loop_from_dict(d["image_loop"] if kind == "image_train" else d), path
                except (KeyError, TypeError, ValueError) as e:
                    raise ValueError(f"{path} does not hold a usable image-loop config ({e})") from None
    return None, None


def _describe(lc) -> str:
    return f"{len(lc.class_names)} classes ({', '.join(lc.class_names)}) at {lc.resolution}x{lc.resolution}"


def _matching_presets(base_run, recorded) -> list[str]:
    """SIMS presets whose loop preset has the base's classes and resolution (and, when nothing is recorded, the
    base's network)."""
    unet = base_train_config(base_run).unet
    out = []
    for name, sc in PRESETS.items():
        lc = sc.loop_config()
        if recorded is not None:
            if (lc.resolution, lc.class_names) == (recorded.resolution, recorded.class_names):
                out.append(name)
        elif lc.train.unet == unet:
            out.append(name)
    return out


def resolve(name: str | None, base_run, **overrides) -> tuple[SimsConfig, object]:
    """The SIMS preset (``name``, or None: the one matching the base) with ``overrides``, and the image-loop config
    its metrics use: the base's recorded one when there is one (:func:`recorded_loop_config`), else the preset's.

    A preset whose classes or resolution differ from the base's recorded ones, or (when nothing is recorded) whose
    network differs from the base's, is a ValueError naming both: measuring a two-class base against ten classes
    labels its samples with classes it never saw."""
    bf = base_folder(base_run)
    recorded, where = recorded_loop_config(bf)
    if name is None:
        names = _matching_presets(bf, recorded)
        if len(names) != 1:
            what = _describe(recorded) if recorded is not None else f"a network {base_train_config(bf).unet}"
            raise ValueError(f"the base {bf} has {what}; {'no preset matches it' if not names else f'presets {names} match it'}"
                             ": pass --config")
        name = names[0]
    cfg = sims_preset(name, **overrides)
    lc = cfg.loop_config()
    if recorded is not None:
        if (recorded.resolution, recorded.class_names) != (lc.resolution, lc.class_names):
            match = _matching_presets(bf, recorded)
            raise ValueError(f"--config {name} measures {_describe(lc)}, but the base {bf} was trained on "
                             f"{_describe(recorded)} (recorded in {where})"
                             + (f": pass --config {match[0]}, or omit --config" if match else ""))
        dev = cfg.device or lc.train.device
        lc = replace(recorded, data=cfg.data, train=replace(recorded.train, device=dev),
                     classifier=replace(recorded.classifier, device=dev), judge=replace(recorded.judge, device=dev))
    else:
        unet = base_train_config(bf).unet
        if unet != lc.train.unet:
            match = _matching_presets(bf, None)
            raise ValueError(f"--config {name} is for the network {lc.train.unet} on {_describe(lc)}, but the base {bf} "
                             f"has the network {unet} and records no data config (classes, resolution)"
                             + (f": pass --config {match[0]}, the preset with its network" if match else ""))
    return cfg, lc


def classifier_for(lc, base_run, folder: Path, progress: bool = False):
    """The reward classifier: the loop's, when the base is a loop generation; else trained into ``folder`` as the
    loop trains it (:func:`empirical.loop.classifier_data`: the same images for the same loop config and seed)."""
    from .networks.classifier import load_classifier, train_classifier
    from .loop import classifier_data
    bf = base_folder(base_run)
    paths = [folder / "classifier.pt"]
    loop_cfg = bf.parent / "config.json"
    if loop_cfg.exists() and checkpoints.read_json(loop_cfg).get("kind") == "image_loop":
        paths.insert(0, bf.parent / "classifier" / "classifier.pt")
    for p in paths:
        if p.exists():
            clf, meta = load_classifier(p, lc.classifier.device)
            if meta.get("num_classes") != len(lc.class_names):
                raise ValueError(f"the classifier {p} has {meta.get('num_classes')} classes, the experiment "
                                 f"{len(lc.class_names)}")
            return clf
    x, y = classifier_data(lc, "classifier")
    xt, yt = cifar.dataset("test", lc.resolution, lc.classes, None, 0, lc.data)
    return train_classifier(lc.classifier, x, y, xt, yt, folder, progress)[0]


class Context:
    """What every measurement of one experiment shares: loop config, base, classifier, reference arrays."""

    def __init__(self, cfg: SimsConfig, lc, base_run, rf: RunFolder, progress: bool = False, inception: bool = True):
        self.cfg, self.lc, self.rf, self.progress = cfg, lc, rf, progress
        self.device = self.lc.train.device
        self.base_run = base_run
        self.D = load_base(base_run, self.device)
        self.clf = classifier_for(lc, base_run, rf.path / "classifier", progress)
        self.ref = self._reference(cfg, progress, inception and cfg.inception_n > 0)

    def _reference(self, cfg: SimsConfig, progress: bool, inception: bool) -> dict:
        """Reference arrays of the real test images (shuffled with seed 0), cached in the data cache under a key
        of the images, the classifier's weights and inception_ref_n (0 without Inception metrics), so that every
        experiment shares them."""
        import hashlib
        import io
        xt, _ = cifar.dataset("test", self.lc.resolution, self.lc.classes, None, 0, self.lc.data)
        xt = xt[np.random.default_rng(0).permutation(len(xt))]
        h = hashlib.sha1(np.ascontiguousarray(xt).tobytes())
        for v in self.clf.state_dict().values():
            h.update(v.detach().cpu().numpy().tobytes())
        ref_n = cfg.inception_ref_n if inception else 0
        h.update(str(ref_n).encode())
        path = cifar.CACHE / f"sims-reference-{h.hexdigest()[:16]}.npz"
        if path.exists():
            with np.load(path) as z:
                return {k: z[k] for k in z.files}
        ref = mt.reference(xt, self.clf, self.device, ref_n, progress)
        path.parent.mkdir(parents=True, exist_ok=True)
        buf = io.BytesIO()
        np.savez(buf, **ref)
        atomic_write(path, buf.getvalue())
        return ref

    def label_fn(self, images: np.ndarray) -> np.ndarray:
        from .networks.classifier import predict_proba
        return predict_proba(self.clf, images, self.device).argmax(1)

    def measure(self, aux, w: float, seeds: np.ndarray, inception_n: int = 0) -> dict:
        labels = seed_labels(seeds, num_classes(self.D)) if num_classes(self.D) else None
        imgs = guided_generate(self.D, aux, w, seeds, self.device, self.cfg.num_steps, progress=self.progress,
                               interval=self.cfg.interval, labels=labels)
        return mt.sample_set_metrics(imgs, seeds, self.clf, self.ref, self.lc.class_names, self.lc.reward,
                                     self.lc.target, self.lc.gamma, inception_n, device=self.device)

    def auxiliary(self, n_s: int, images: int, name: str | None = None, **kw):
        out = self.rf.path / (name or f"aux-ns{n_s}-B{images}")
        kw = {"ema": self.cfg.ema, **kw}
        return finetune_auxiliary(self.base_run, out, n_s, images, self.cfg.lr, self.cfg.seed,
                                  num_steps=self.cfg.num_steps, device=self.device, progress=self.progress, **kw)


def _key(r: dict) -> tuple:
    return (r.get("stage"), r.get("n_s"), r.get("images"), r.get("w"), r.get("set"), r.get("inception", False))


def _lc_of(cfg: SimsConfig, base_run, lc):
    """The image-loop config of an experiment: ``lc`` if given, else :func:`resolve` (checked against the base)."""
    return lc if lc is not None else resolve(cfg.loop, base_run, **{k: getattr(cfg, k) for k in
                                                                    SimsConfig.__dataclass_fields__ if k != "loop"})[1]


def run_sweep(cfg: SimsConfig, base_run, out, progress: bool = False, lc=None) -> RunFolder:
    """Run (or resume) the sweep into ``out``: every (n_s, B, w) on every seed set, the pick on set 0, Inception
    metrics on the report sets for w = 0 and the pick; then table.md and sweep.png. ``lc``: the image-loop config
    of the metrics (default: :func:`resolve`, which checks ``cfg.loop`` against the base)."""
    lc = _lc_of(cfg, base_run, lc)
    with RunFolder.open(out, {**cfg.to_dict(), "base": str(base_run)}) as rf:      # held until the run ends
        ctx = Context(cfg, lc, base_run, rf, progress)
        done = {_key(r): r for r in rf.metrics()}

        def row(stage, n_s, B, w, j, aux, inception=False):
            k = (stage, n_s, B, w, j, inception)
            if k not in done:
                rec = ctx.measure(aux, w, seed_set(j, cfg.n), cfg.inception_n if inception else 0)
                rec = {"stage": stage, "n_s": n_s, "images": B, "w": w, "set": j, "inception": inception, **rec}
                rf.append(rec)
                done[k] = rec
            return done[k]

        for j in range(cfg.n_sets):
            row("sweep", None, None, 0.0, j, None)
        for n_s in cfg.n_s:
            first = None                              # every B of one n_s fine-tunes on the same synthetic set
            for B in cfg.images:
                aux = ctx.auxiliary(n_s, B, synthetic_from=first)
                first = first or rf.path / f"aux-ns{n_s}-B{B}"
                for w in cfg.ws:
                    if w > 0:
                        for j in range(cfg.n_sets):
                            row("sweep", n_s, B, w, j, aux)
        pick = pick_setting(rf.metrics(), cfg.select)
        if cfg.inception_n:
            aux = None if pick["w"] == 0 else load_auxiliary(
                rf.path / f"aux-ns{pick['n_s']}-B{pick['images']}", ctx.D, ctx.device)
            for j in range(1, cfg.n_sets):
                row("sweep", None, None, 0.0, j, None, inception=True)
                if pick["w"] > 0:
                    row("sweep", pick["n_s"], pick["images"], pick["w"], j, aux, inception=True)
        write_table(rf, cfg)
        plot_sweep(rf, cfg)
    return rf


def sweep_rows(rows: list[dict], inception: bool = False) -> list[dict]:
    return [r for r in rows if r.get("stage") == "sweep" and r.get("inception", False) == inception]


def pick_setting(rows: list[dict], metric: str = "fd_classifier") -> dict:
    """The (n_s, B, w) with the best ``metric`` on seed set 0 (never on a report set)."""
    cand = [r for r in sweep_rows(rows) if r["set"] == 0]
    if not cand:
        raise ValueError("no sweep rows on seed set 0")
    sign = 1 if METRICS_LOWER_BETTER[metric] else -1
    best = min(cand, key=lambda r: (sign * r[metric], r["w"]))
    return {"n_s": best["n_s"], "images": best["images"], "w": best["w"], metric: best[metric]}


def _settings(rows):
    return sorted({(r["n_s"] or 0, r["images"] or 0, r["w"]) for r in rows}, key=lambda s: (s[0], s[1], s[2]))


def summary(rows: list[dict], metric: str, sets) -> dict:
    """{(n_s, B, w): (mean, sd, values)} of ``metric`` over the seed sets ``sets``."""
    out = {}
    for s in _settings(rows):
        v = [r[metric] for r in rows if (r["n_s"] or 0, r["images"] or 0, r["w"]) == s and r["set"] in sets
             and metric in r]
        if v:
            out[s] = (float(np.mean(v)), float(np.std(v, ddof=1)) if len(v) > 1 else float("nan"), v)
    return out


def sweep_verdict(rows: list[dict], n_sets: int, metric: str = "fd_classifier", inception: bool = False) -> dict:
    """The pick (on set 0) against w = 0 on the report sets: per-set paired differences, and the spread of the
    w = 0 metric over all seed sets (max - min), the tolerance of the SIMS claim."""
    pick = pick_setting(rows, "fd_classifier")
    sub = sweep_rows(rows, inception)
    rep = range(1, n_sets)
    w0 = {r["set"]: r[metric] for r in sub if r["w"] == 0 and metric in r}
    pk = {r["set"]: r[metric] for r in sub if (r["n_s"], r["images"], r["w"]) == (pick["n_s"], pick["images"], pick["w"])
          and metric in r}
    diffs = [pk[j] - w0[j] for j in rep if j in pk and j in w0]
    spread_sets = sorted(w0)
    spread = float(max(w0.values()) - min(w0.values())) if len(w0) > 1 else float("nan")
    return {"pick": pick, "metric": metric, "w0": [w0.get(j) for j in rep], "picked": [pk.get(j) for j in rep],
            "diffs": diffs, "spread_w0": spread, "spread_sets": spread_sets}


def write_table(rf: RunFolder, cfg: SimsConfig) -> None:
    """table.md: every setting's metrics on the pick set and the report sets (mean +- sd), the pick, and the
    Inception metrics."""
    rows = rf.metrics()
    sub = sweep_rows(rows)
    pick = pick_setting(rows, cfg.select)
    rep = list(range(1, cfg.n_sets))
    lines = [f"# SIMS sweep ({cfg.n} images per seed set, {cfg.n_sets} seed sets: seed block ('sweep', j))", "",
             f"Pick on seed set 0 by {cfg.select}: n_s = {pick['n_s']}, B = {pick['images']}, w = {pick['w']}. "
             f"Report sets: {rep} (mean +- sd over them).", "",
             "| n_s | B | w | FD classifier (set 0) | FD classifier (report) | mean reward (report) | "
             "max class share (report) |", "|---|---|---|---|---|---|---|"]
    fd0 = summary(sub, "fd_classifier", [0])
    fdr = summary(sub, "fd_classifier", rep)
    rw = summary(sub, "mean_reward", rep)
    mx = summary([{**r, "max_share": max(r["class_proportions"])} for r in sub], "max_share", rep)
    for s in _settings(sub):
        lines.append(f"| {s[0] or '-'} | {s[1] or '-'} | {s[2]:g} | {fd0[s][0]:.4f} | {fdr[s][0]:.4f} +- "
                     f"{fdr[s][1]:.4f} | {rw[s][0]:.4f} +- {rw[s][1]:.4f} | {mx[s][0]:.3f} |")
    inc = sweep_rows(rows, True)
    if inc:
        lines += ["", f"Inception metrics ({cfg.inception_n} images of each report set; FID reference: "
                      f"{cfg.inception_ref_n} real test images):", "",
                  "| n_s | B | w | set | FID | precision | recall |", "|---|---|---|---|---|---|---|"]
        for r in sorted(inc, key=lambda r: (r["w"], r["set"])):
            lines.append(f"| {r['n_s'] or '-'} | {r['images'] or '-'} | {r['w']:g} | {r['set']} | {r['fid']:.2f} | "
                         f"{r['precision']:.3f} | {r['recall']:.3f} |")
    atomic_write(rf.path / "table.md", ("\n".join(lines) + "\n").encode())


def plot_sweep(rf: RunFolder, cfg: SimsConfig) -> Path:
    """sweep.png: each metric against w per seed set, the w = 0 value of each set as a dashed reference line."""
    from simtheory.plots import new_figure
    rows = sweep_rows(rf.metrics())
    mets = [("fd_classifier", "FD (classifier features)"), ("mean_reward", "mean reward"),
            ("max_share", "largest class share")]
    rows = [{**r, "max_share": max(r["class_proportions"])} for r in rows]
    combos = sorted({(r["n_s"], r["images"]) for r in rows if r["w"] > 0})
    fig, axes = new_figure(1, len(mets), figsize=(4 * len(mets), 3.2))
    for ax, (m, label) in zip(axes, mets):
        for j in range(cfg.n_sets):
            base = [r for r in rows if r["w"] == 0 and r["set"] == j]
            if base:
                ax.axhline(base[0][m], color=f"C{j}", ls="--", lw=0.8)
            for ci, (n_s, B) in enumerate(combos):
                pts = sorted(([(0.0, base[0][m])] if base else [])
                             + [(r["w"], r[m]) for r in rows if (r["n_s"], r["images"]) == (n_s, B) and r["set"] == j])
                ax.plot(*zip(*pts), marker="o^sD"[ci % 4], color=f"C{j}", ms=3,
                        label=f"set {j}{' (pick)' if j == 0 else ''}" + (f", n_s={n_s}, B={B}" if len(combos) > 1 else ""))
        ax.set_xlabel("w")
        ax.set_title(label)
    axes[0].legend()
    fig.suptitle(f"SIMS sweep: {cfg.n} images per seed set; dashed: w = 0 (base) per set", fontsize=9)
    fig.tight_layout()
    path = rf.path / "sweep.png"
    import io
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    atomic_write(path, buf.getvalue())
    return path


def base_estimate(proportions, n: int) -> np.ndarray:
    """The base's class proportions from n labelled samples with add-one (Laplace) smoothing,
    (count + 1) / (n + C): the derivation needs every class > 0, and a class unseen in n draws is rare, not absent."""
    counts = np.rint(np.asarray(proportions, float) * n)
    return (counts + 1) / (counts.sum() + len(counts))


def shift_target(class_names, base_props: np.ndarray, cls: str, share: float) -> np.ndarray:
    """Target proportions: ``share`` on class ``cls``, the rest split among the others in their base proportions."""
    names = list(class_names)
    if cls not in names:
        raise ValueError(f"shift class {cls!r} is not among {names}")
    i = names.index(cls)
    b = np.asarray(base_props, float)
    t = b * (1 - share) / (1 - b[i])
    t[i] = share
    return t


def run_shift(cfg: SimsConfig, base_run, out, progress: bool = False, lc=None) -> RunFolder:
    """Distribution shifting: base proportions measured on seed set 0 (:func:`base_estimate`), the auxiliary's set composed with
    :func:`simtheory.diffusion.shifting.aux_weights_for_target` for the target (``shift_class`` at ``shift_share``) and
    ``shift_w``, then achieved proportions (classifier) on the report sets against the target and the base.
    Needs one n_s and one B, and an unconditional base (a conditional one samples chosen classes directly)."""
    if len(cfg.n_s) != 1 or len(cfg.images) != 1:
        raise ValueError(f"distribution shifting builds one auxiliary: pass one n_s and one B, got n_s {list(cfg.n_s)}, "
                         f"B {list(cfg.images)}")
    if cfg.shift_w == 0:
        raise ValueError("distribution shifting needs shift_w > 0 (w = 0 ignores the auxiliary)")
    lc = _lc_of(cfg, base_run, lc)
    if cfg.shift_class not in lc.class_names:
        raise ValueError(f"shift class {cfg.shift_class!r} is not among the base's classes {list(lc.class_names)}")
    if num_classes(load_base(base_run)):
        raise ValueError("distribution shifting is for an unconditional base: a class-conditional base samples the "
                         "classes it is given")
    # the folder is held until the run ends
    with RunFolder.open(out, {**cfg.to_dict(), "kind": "sims_shift", "base": str(base_run)}) as rf:
        ctx = Context(cfg, lc, base_run, rf, progress, inception=False)
        done = {(r["stage"], r.get("set")): r for r in rf.metrics()}
        n_s, B, w = cfg.n_s[0], cfg.images[0], cfg.shift_w
        if ("base", 0) not in done:
            done["base", 0] = {"stage": "base", "set": 0, "w": 0.0, **ctx.measure(None, 0.0, seed_set(0, cfg.n))}
            rf.append(done["base", 0])
        base_p = base_estimate(done["base", 0]["class_proportions"], cfg.n)
        target = shift_target(ctx.lc.class_names, base_p, cfg.shift_class, cfg.shift_share)
        aux_p = aux_weights_for_target(base_p, target, w)
        aux = ctx.auxiliary(n_s, B, name=f"aux-shift-ns{n_s}-B{B}", class_proportions=aux_p, label_fn=ctx.label_fn)
        plain_aux = ctx.auxiliary(n_s, B)
        for j in range(1, cfg.n_sets):
            for stage, a, ww in (("base", None, 0.0), ("sims", plain_aux, w), ("shift", aux, w)):
                if (stage, j) not in done:
                    rec = {"stage": stage, "set": j, "w": ww, **ctx.measure(a, ww, seed_set(j, cfg.n))}
                    if stage == "shift":
                        rec.update({"target": target.tolist(), "aux_proportions": aux_p.tolist(),
                                    "predicted_product_form": product_form_masses(base_p, aux_p, w).tolist()})
                    rf.append(rec)
                    done[stage, j] = rec
        write_shift_summary(rf, cfg, target, aux_p)
    return rf


def shift_summary(rows: list[dict], class_name: str, target) -> dict:
    """Target-class share and TV distance to the target, per stage (base, sims, shift), over the report sets."""
    t = np.asarray(target)
    out = {}
    for stage in ("base", "sims", "shift"):
        rs = [r for r in rows if r["stage"] == stage and r["set"] > 0]
        if not rs:
            continue
        i = rs[0]["classes"].index(class_name)
        share = [r["class_proportions"][i] for r in rs]
        tv = [0.5 * float(np.abs(np.asarray(r["class_proportions"]) - t).sum()) for r in rs]
        out[stage] = {"share": share, "tv_to_target": tv, "n": rs[0]["n"], "sets": [r["set"] for r in rs]}
    return out


def write_shift_summary(rf: RunFolder, cfg: SimsConfig, target, aux_p) -> None:
    s = shift_summary(rf.metrics(), cfg.shift_class, target)
    i = rf.metrics()[0]["classes"].index(cfg.shift_class)
    lines = [f"# SIMS distribution shifting: target {cfg.shift_class} = {cfg.shift_share}, w = {cfg.shift_w}", "",
             f"Auxiliary set proportions (product-form derivation): {np.round(aux_p, 4).tolist()}", "",
             f"Target: {np.round(np.asarray(target), 4).tolist()}", "",
             f"| stage | {cfg.shift_class} share per report set | TV to target per set |", "|---|---|---|"]
    for stage, v in s.items():
        lines.append(f"| {stage} | {', '.join(f'{x:.3f}' for x in v['share'])} | "
                     f"{', '.join(f'{x:.3f}' for x in v['tv_to_target'])} |")
    lines += ["", f"n = {cfg.n} images per set (classifier labels); target-class index {i}."]
    atomic_write(rf.path / "shift.md", ("\n".join(lines) + "\n").encode())
    atomic_write(rf.path / "shift.json", json.dumps({"target": list(map(float, target)),
                                                      "aux_proportions": list(map(float, aux_p)),
                                                      "summary": s}, indent=2).encode())


def explore_hyperparameters(cfg: SimsConfig, base_run, out, lrs, emas=None, progress: bool = False,
                            lc=None) -> RunFolder:
    """Hyperparameter search on seed set 0 only (the pick set): every lr x ema x n_s x B x w > 0 of ``cfg`` plus
    w = 0, one metrics line each; the report sets are never touched here. ``emas``: the auxiliary's EMA half-lives
    as fractions of B (0: raw weights; default: cfg.ema). Auxiliaries live in lr-<lr>-ema-<ema>/aux-*; all of one n_s fine-tune on
    the same synthetic set (drawn once). Writes table.md."""
    lrs = tuple(float(v) for v in lrs)
    emas = (cfg.ema,) if emas is None else tuple(float(v) for v in emas)
    if not lrs or not emas or len(set(lrs)) != len(lrs) or len(set(emas)) != len(emas):
        raise ValueError(f"lrs and emas must be non-empty without repeats, got {list(lrs)}, {list(emas)}")
    for v in lrs:
        if not (math.isfinite(v) and v > 0):
            raise ValueError(f"every lr must be > 0, got {v}")
    for v in emas:
        if not (math.isfinite(v) and v >= 0):
            raise ValueError(f"every ema (a half-life as a fraction of B) must be >= 0 (0: raw weights), got {v}")
    lc = _lc_of(cfg, base_run, lc)
    with RunFolder.open(out, {**cfg.to_dict(), "kind": "sims_explore", "lrs": list(lrs), "emas": list(emas),
                             "base": str(base_run)}) as rf:      # held until the run ends
        done = {(r["lr"], r["ema"], r["n_s"], r["images"], r["w"]) for r in rf.metrics()}
        ctx = Context(cfg, lc, base_run, rf, progress, inception=False)
        seeds = seed_set(0, cfg.n)
        if (None, None, None, None, 0.0) not in done:
            rf.append({"lr": None, "ema": None, "n_s": None, "images": None, "w": 0.0, "set": 0,
                       **ctx.measure(None, 0.0, seeds)})
        first = {}
        for lr in lrs:
            for ema in emas:
                ctx.cfg = replace(cfg, lr=lr, ema=ema)
                for n_s in cfg.n_s:
                    for B in cfg.images:
                        name = f"lr-{lr:g}-ema-{ema:g}/aux-ns{n_s}-B{B}"
                        aux = ctx.auxiliary(n_s, B, name=name, synthetic_from=first.get(n_s))
                        first.setdefault(n_s, rf.path / name)
                        for w in cfg.ws:
                            if w > 0 and (lr, ema, n_s, B, w) not in done:
                                rf.append({"lr": lr, "ema": ema, "n_s": n_s, "images": B, "w": w, "set": 0,
                                           "weight_distance": _distance(rf.path / name), **ctx.measure(aux, w, seeds)})
        write_explore_table(rf)
    return rf


def _distance(folder: Path) -> float | None:
    """The auxiliary's distance from the base relative to the raw fine-tune (its config.json's measured entry)."""
    return checkpoints.read_json(Path(folder) / "config.json").get("measured", {}).get("weight_distance", {}).get("relative")


def write_explore_table(rf: RunFolder) -> None:
    """table.md of an exploration: one row per setting, and per (lr, ema, n_s, B) the best w."""
    rows = rf.metrics()
    key = lambda r: (r["lr"] or 0, r["ema"] if r["ema"] is not None else -1, r["n_s"] or 0, r["images"] or 0, r["w"])
    lines = ["| lr | aux EMA half-life / B (0: raw) | aux distance / raw | n_s | B | w | FD classifier (set 0) | "
             "mean reward |", "|---|---|---|---|---|---|---|---|"]
    for r in sorted(rows, key=key):
        d = r.get("weight_distance")
        lines.append(f"| {r['lr'] if r['lr'] is not None else '-'} | {r['ema'] if r['ema'] is not None else '-'} | "
                     f"{'-' if d is None else f'{d:.3f}'} | {r['n_s'] or '-'} | {r['images'] or '-'} | {r['w']:g} | "
                     f"{r['fd_classifier']:.4f} | {r['mean_reward']:.4f} |")
    groups = sorted({key(r)[:4] for r in rows if r["w"] > 0})
    if groups:
        lines += ["", "Best w per auxiliary (seed set 0):", "", "| lr | ema | n_s | B | best w | FD classifier |",
                  "|---|---|---|---|---|---|"]
        for g in groups:
            best = min((r for r in rows if r["w"] > 0 and key(r)[:4] == g), key=lambda r: r["fd_classifier"])
            lines.append(f"| {best['lr']} | {best['ema']} | {best['n_s']} | {best['images']} | {best['w']:g} | "
                         f"{best['fd_classifier']:.4f} |")
    atomic_write(rf.path / "table.md", ("\n".join(lines) + "\n").encode())
