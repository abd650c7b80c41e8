"""``empirical`` (or ``python -m empirical``): sub-commands train, sample, classifier, loop, fid, compare, sims,
sims-sweep, sims-explore, gpu-check, download-cifar10, points, points-ladder, points-sims and fit-mixture. Options become
configs; the library does the work; ``--dry-run`` prints the resolved config. ``--threads N`` (or
``$CURATED_THREADS``) sets torch's and Numba's thread counts for this process; without either, Numba runs on one
thread and torch as the environment sets it (the library itself never changes them). Bad options end with one
``error:`` line and exit status 2; a command that needs torch says how to install it when torch is missing."""
from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from simtheory import argfmt
from simtheory.argfmt import (DEFAULT_THREADS, THREADS_ENV, HelpFormatter, add_version, check_out_dir, interrupted,
                              resolve_threads)
from simtheory.validate import parse_number

if TYPE_CHECKING:
    import numpy as np


def _common(p, config_default="cpu"):
    p.add_argument("--config", default=config_default, choices=["tiny", "cpu", "gpu"], help="preset")
    p.add_argument("--device", default=None, help="cpu, cuda, cuda:1, mps ... (default: the preset's)")
    _data(p)
    p.add_argument("--seed", type=int, default=None,
                   help="seed of every random draw of the run (default: the preset's, 0)")
    _threads(p)
    p.add_argument("--dry-run", action="store_true", help="print the resolved config and stop")


def _data(p):
    p.add_argument("--data", default=None, help="CIFAR-10: a cifar-10-batches-py folder or the JPEG archive "
                   "(default: $CIFAR10_SOURCE, then data/cifar-10-batches-py, then the copy beside the checkout)")


def _threads(p):
    p.add_argument("--threads", type=int, default=None,
                   help=f"CPU threads for torch and Numba (default: ${THREADS_ENV} when set; else Numba "
                        f"{DEFAULT_THREADS} and torch as the environment sets it; small networks on a busy machine "
                        "run fastest with 1)")


def set_threads(n: int | None, torch_too: bool = True) -> None:
    """Set Numba's and (``torch_too``) torch's thread counts to ``n`` (an explicit user choice; None leaves them)."""
    if n is None:
        return
    argfmt.set_threads(n)
    if torch_too:
        import torch
        torch.set_num_threads(n)


def apply_threads(option: int | None) -> None:
    """The thread counts of an ``empirical`` command: ``--threads`` or ``$CURATED_THREADS`` set torch's and
    Numba's; without either, Numba runs on DEFAULT_THREADS and torch keeps what the environment gives it."""
    import importlib.util
    import os
    if option is None and not os.environ.get(THREADS_ENV, "").strip():
        argfmt.set_threads(DEFAULT_THREADS)
        return
    set_threads(resolve_threads(option), torch_too=importlib.util.find_spec("torch") is not None)


def build_parser() -> argparse.ArgumentParser:
    fmt = HelpFormatter
    ap = argparse.ArgumentParser(prog="empirical", description=__doc__, formatter_class=fmt)
    add_version(ap)
    sub = ap.add_subparsers(dest="command", required=True)
    t = sub.add_parser("train", help="train a base EDM model on real images", formatter_class=fmt)
    _common(t)
    t.add_argument("--total-images", type=int, default=None, help="training length in images seen "
                   "(default: the preset's)")
    t.add_argument("--bf16", action="store_true", help="bf16 autocast in training")
    t.add_argument("--compile", action="store_true", help="torch.compile the training network")
    t.add_argument("--conditional", action="store_true",
                   help="class-conditional network (one-hot labels of the preset's classes)")
    t.add_argument("--out", default="runs/train", help="run folder")
    s = sub.add_parser("sample", help="generate images from a network.pt", formatter_class=fmt)
    s.add_argument("--network", required=True, help="a network.pt written by train, loop or sims")
    s.add_argument("--seeds", default="0-63", help="image seeds, a range A-B with A <= B (inclusive)")
    s.add_argument("--steps", type=int, default=18, help="Heun steps (2 steps - 1 network evaluations)")
    _guidance_options(s)
    s.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1, mps ...")
    _threads(s)
    s.add_argument("--out", default="runs/samples", help="folder for images.npz and grid.png")
    s.add_argument("--dry-run", action="store_true", help="print the resolved options and stop")
    c = sub.add_parser("classifier", help="train the reward classifier and record its accuracy", formatter_class=fmt)
    _common(c)
    c.add_argument("--epochs", type=int, default=None, help="training epochs (default: the preset's)")
    c.add_argument("--which", default="classifier", choices=["classifier", "judge"],
                   help="the reward classifier or the independent judge (other architecture, seed and data)")
    c.add_argument("--out", default="runs/classifier", help="folder for the classifier and its accuracy")
    lp = sub.add_parser("loop", help="curated retraining loop on images into a run folder", formatter_class=fmt)
    _common(lp)
    lp.add_argument("--K", type=int, default=None, help="candidates per kept image (default: the preset's, 4)")
    lp.add_argument("--lam", type=parse_number, default=None,
                    help="synthetic-to-real ratio, inf: fully synthetic (default: the preset's, inf)")
    lp.add_argument("--scheme", default=None, choices=["replace", "accumulate", "fresh"],
                    help="what happens to earlier generations' images (default: the preset's, replace)")
    lp.add_argument("--generations", type=int, default=None, help="curated generations (default: the preset's)")
    lp.add_argument("--reward", default=None, choices=["class", "confidence"],
                    help="5 P(target | x) or 5 max_c P(c | x) (default: the preset's, class)")
    lp.add_argument("--target", default=None, help="class name for the 'class' reward (default: airplane)")
    lp.add_argument("--fid-n", type=int, default=None,
                    help="images for FID each generation, 0: none (default: the preset's)")
    lp.add_argument("--steps", type=int, default=None, help="Heun steps of every sampling (default: the preset's)")
    lp.add_argument("--sampler-ref-steps", type=int, default=None, help="the sampler check: n_sampler evaluation "
                    "images drawn again at these Heun steps, 0: no check (default: the preset's)")
    lp.add_argument("--sims-w", type=parse_number, default=None, help="SIMS: every generation samples with guidance "
                    "w from its own auxiliary, 0: plain sampling (default: plain sampling)")
    lp.add_argument("--sims-n-s", type=int, default=2500, help="SIMS auxiliary's synthetic-set size n_s")
    lp.add_argument("--sims-images", type=int, default=10_000, help="SIMS auxiliary's fine-tune budget B "
                    "in images")
    lp.add_argument("--sims-lr", type=parse_number, default=1e-3,
                    help="SIMS auxiliary's lr, the same for every generation")
    lp.add_argument("--sims-ema", type=parse_number, default=None,
                    help="SIMS auxiliary's EMA half-life as a fraction of its B; 0: the raw fine-tuned weights "
                         "(default: empirical.sims.AUX_EMA)")
    lp.add_argument("--sims-interval", type=parse_number, nargs=2, default=None, metavar=("LO", "HI"),
                    help="SIMS guidance only for noise levels sigma in [LO, HI] (default: every level)")
    lp.add_argument("--bf16", action="store_true", help="bf16 autocast in training")
    lp.add_argument("--compile", action="store_true", help="torch.compile the training network")
    lp.add_argument("--out", default=None, help="run folder (default: runs/image-loop-<config>-K<K>-lam<lam>-"
                    "<scheme>-<reward>)")
    f = sub.add_parser("fid", help="FID of an image folder/npz or a network against CIFAR-10 statistics",
                       formatter_class=fmt)
    f.add_argument("--images", default=None, help=".npz with an 'images' array, uint8 NCHW (default: none; give this or --network)")
    f.add_argument("--network", default=None, help="a network.pt to sample from (default: none; give this or --images)")
    f.add_argument("--n", type=int, default=1000, help="images to compare (FID depends on n: compare at equal n)")
    f.add_argument("--steps", type=int, default=18, help="Heun steps when sampling from --network")
    _guidance_options(f)
    f.add_argument("--ref", default="test", choices=["train", "test"], help="CIFAR-10 split of the reference")
    _data(f)
    f.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1, mps ...")
    _threads(f)
    f.add_argument("--dry-run", action="store_true", help="print the resolved options and stop")
    cp = sub.add_parser("compare", help="theory against measurement (per-generation predictions) for image-loop "
                        "run folders", formatter_class=fmt)
    cp.add_argument("runs", nargs="+", help="image-loop run folders")
    cp.add_argument("--out", default=None, help="output folder (default: <run>/compare; with several runs, "
                    "<out>/<run name>)")
    _threads(cp)
    cp.add_argument("--dry-run", action="store_true", help="print where each comparison would go and stop")
    _add_sims_parsers(sub, fmt)
    g = sub.add_parser("gpu-check", help="the gpu preset's pipeline on one GPU in at most --budget-s seconds: "
                       "throughput, base, 10k-sample FID, a curated generation, a SIMS pair; a few small files",
                       formatter_class=fmt)
    g.add_argument("--out", default=None, help="folder for summary.json, gpu-check.log and grid.png, the files to "
                   "bring back (default: none; required unless --pack-detector or --dry-run)")
    g.add_argument("--device", default="cuda", help="the GPU (cpu only with --smoke)")
    g.add_argument("--smoke", action="store_true", help="every step at a tiny size (8x8, a few hundred images): a "
                   "test of the command, not a measurement")
    g.add_argument("--budget-s", type=parse_number, default=540.0, help="wall-clock budget in seconds; the base's "
                   "training images are planned to fit it")
    g.add_argument("--work", default=None, help="folder for networks and caches (default: <out>-work beside --out)")
    _data(g)
    g.add_argument("--seed", type=int, default=0, help="run seed (data subset, classifier, training, sampler seeds)")
    _threads(g)
    g.add_argument("--pack-detector", default=None, metavar="DIR",
                   help="write the FID network as a 40 MB folder (float16 weights) for a machine that cannot receive "
                        "the 87 MB original, and stop; there, set FID_DETECTOR=DIR (default: none)")
    g.add_argument("--dry-run", action="store_true", help="print the step sizes and stop")
    from . import data
    d = sub.add_parser("download-cifar10", help="download the official CIFAR-10 archive, check its md5, unpack it",
                       formatter_class=fmt, description=data.download_cifar10.__doc__.split("\n\n")[0])
    d.add_argument("--root", default="data", help="folder to unpack into, as ROOT/cifar-10-batches-py")
    d.add_argument("--url", default=data.URL, help="archive URL (for a mirror, give --md5 too)")
    d.add_argument("--md5", default=data.MD5, help="expected md5 of the archive")
    d.add_argument("--timeout", type=float, default=60.0, help="seconds to wait for the server")
    try:
        from .ladder import add_parser as add_ladder_parser
        from .points import add_parser as add_points_parser
        from .points_sims import add_parser as add_points_sims_parser
        from .lowrank import add_parser as add_mixture_parser
    except ModuleNotFoundError as e:      # their modules import torch: without it, --help and --version still work
        if not _is_torch(e):
            raise
        for name, what in NEEDS_TORCH_PARSERS.items():
            q = sub.add_parser(name, help=f"{what} (needs torch, which is not installed here)", formatter_class=fmt,
                               add_help=False)
            q.set_defaults(stand_in=True)       # its options are unknown here: main says how to install torch
    else:
        add_points_parser(sub)
        add_ladder_parser(sub)
        add_points_sims_parser(sub)
        add_mixture_parser(sub)
    return ap


NEEDS_TORCH_PARSERS = {"points": "curated retraining loop on low-dimensional points (neural EDM) into a run folder",
                       "points-ladder": "the capacity ladder of neural point loops on dask, into one results.csv",
                       "points-sims": "SIMS at the point rung: augmentation and fully synthetic loops",
                       "fit-mixture": "fit a low-rank Gaussian mixture, one component per class, to CIFAR-10"}
"""The sub-commands whose parsers live in modules that import torch: stand-ins when torch is missing."""

# the commands whose run folders resume when the same command is run again
RESUMABLE = ("train", "loop", "sims", "sims-sweep", "sims-explore", "points", "points-ladder", "points-sims")


def _is_torch(e: ModuleNotFoundError) -> bool:
    return (e.name or "").split(".")[0] == "torch"


def needs_torch(command: str) -> str:
    """The one-line error of a command that needs torch where torch is not installed."""
    return (f"`empirical {command}` needs torch, which is not installed in this Python ({sys.executable}); install "
            "it with `pip install 'curated-retraining[empirical]'` (in a checkout: `make setup`; README.md, Install, "
            "says how to choose the CPU or CUDA build)")


def _floats(text: str) -> tuple:
    return tuple(parse_number(v) for v in text.split(",") if v.strip())


def _ints(text: str) -> tuple:
    return tuple(int(parse_number(v)) for v in text.split(",") if v.strip())


def _guidance_options(p) -> None:
    """--aux, --w, --guidance-interval and --class of the sampling commands (sample, fid)."""
    p.add_argument("--aux", default=None, help="guide run folder (a `sims` auxiliary or any run with a network.pt "
                   "of the same sample shape): sample with D + w (D - D_aux) (default: none, unguided)")
    p.add_argument("--w", type=parse_number, default=None, help="guidance weight w >= 0, needs --aux; 0 is the "
                   "unguided sampler, bit for bit (default: none)")
    p.add_argument("--guidance-interval", type=parse_number, nargs=2, default=None, metavar=("LO", "HI"),
                   help="guide only at noise levels sigma in [LO, HI], needs --aux (default: every level)")
    p.add_argument("--class", dest="class_label", default=None,
                   help="class name or index of every sample, for a class-conditional network (default: seed mod "
                        "the number of classes)")


def _sims_common(p, name: str) -> None:
    p.add_argument("--base", required=True, help="base run: a loop's gen_000 folder or a `train` run folder")
    p.add_argument("--config", default=None, choices=["tiny", "cpu", "gpu"], help="SIMS preset (default: the one "
                   "whose loop preset made the base; a preset for other classes or another resolution than the "
                   "base's is refused)")
    p.add_argument("--out", required=True, help="run folder (a rerun resumes; another config there is refused)")
    one = name == "sims"
    p.add_argument("--n-s", type=_ints, default=None, help=("synthetic-set size n_s, one value" if one else
                   "synthetic-set sizes n_s, comma-separated") + " (default: the preset's)")
    p.add_argument("--images", type=_ints, default=None, help=("fine-tune budget B in images, one value" if one else
                   "fine-tune budgets B in images, comma-separated") + " (default: the preset's)")
    if name != "sims-explore":
        p.add_argument("--lr", type=parse_number, default=None, help="fine-tune lr (default: the preset's, or the "
                       "base's when the preset has none)")
        p.add_argument("--aux-ema", type=parse_number, default=None,
                       help="auxiliary weights: EMA half-life as a fraction of B, 0 for the raw fine-tuned weights "
                            "(default: the preset's, empirical.sims.AUX_EMA)")
    p.add_argument("--seed", type=int, default=None, help="auxiliary seed, 0..99: synthetic seeds 3e9 + seed * 1e7 + i "
                   "(default 0)")
    p.add_argument("--steps", type=int, default=None, help="Heun steps of every sampling (default: the preset's)")
    p.add_argument("--n", type=int, default=None, help="images per seed set and setting (default: the preset's)")
    p.add_argument("--guidance-interval", type=parse_number, nargs=2, default=None, metavar=("LO", "HI"),
                   help="guide only at noise levels sigma in [LO, HI] (default: every level)")
    _data(p)
    p.add_argument("--device", default=None, help="cpu, cuda, cuda:1, mps ... (default: the preset's)")
    _threads(p)
    p.add_argument("--dry-run", action="store_true", help="print the resolved config and stop")


def _add_sims_parsers(sub, fmt) -> None:
    """Sub-commands sims (auxiliary, distribution shifting), sims-sweep (w, B, n_s grid) and sims-explore (lr, EMA
    and B search on seed set 0)."""
    p = sub.add_parser("sims", help="SIMS auxiliary model of a base run (or, with --shift, distribution shifting)",
                       formatter_class=fmt)
    _sims_common(p, "sims")
    p.add_argument("--shift", default=None, help="distribution shifting toward CLASS=SHARE, e.g. airplane=0.3 "
                   "(default: none, build the auxiliary only)")
    p.add_argument("--shift-w", type=parse_number, default=None,
                   help="guidance weight of distribution shifting, needs --shift (default: the preset's)")
    p = sub.add_parser("sims-sweep", help="SIMS guidance sweep over w (and B, n_s) on disjoint seed sets",
                       formatter_class=fmt)
    _sims_common(p, "sims-sweep")
    p.add_argument("--w", type=_floats, default=None, help="guidance weights, comma-separated, 0 included "
                   "(default: the preset's)")
    p.add_argument("--inception-n", type=int, default=None, help="images per report set for FID and P/R "
                   "(default: the preset's)")
    p = sub.add_parser("sims-explore", help="SIMS hyperparameter search (lr x auxiliary EMA x n_s x B x w) on seed "
                       "set 0 only", formatter_class=fmt)
    _sims_common(p, "sims-explore")
    p.add_argument("--lr", type=_floats, default=None, help="learning rates, comma-separated (default: the preset's "
                   "or the base's, and a fifth of it)")
    p.add_argument("--aux-ema", type=_floats, default=None, help="auxiliary EMA half-lives as fractions of B, "
                   "comma-separated, 0 for raw weights (default: the preset's)")
    p.add_argument("--w", type=_floats, default=None, help="guidance weights, comma-separated, 0 included "
                   "(default: the preset's)")


def _sims_dispatch(args) -> int:
    from .sims import finetune_auxiliary
    from .sims_sweep import explore_hyperparameters, resolve, run_shift, run_sweep
    plain = args.command == "sims" and args.shift is None
    if plain:       # the auxiliary alone: options that only a measurement uses would be ignored
        given = [o for o, v in (("--shift-w", args.shift_w), ("--n", args.n),
                                ("--guidance-interval", args.guidance_interval)) if v is not None]
        if given:
            raise ValueError(f"{', '.join(given)} only appl{'y' if len(given) > 1 else 'ies'} with --shift: `sims` "
                             "without --shift builds the auxiliary and measures nothing")
    if args.command == "sims":
        for opt, v in (("--n-s", args.n_s), ("--images", args.images)):
            if v is not None and len(v) != 1:
                raise ValueError(f"`sims` builds one auxiliary: {opt} takes one value, got {list(v)} (sims-sweep "
                                 "takes several)")
    over = {"n_s": args.n_s, "images": args.images, "seed": args.seed, "n": args.n, "num_steps": args.steps,
            "interval": args.guidance_interval, "device": args.device, "data": args.data}
    if args.command != "sims-explore":
        over.update({"lr": args.lr, "ema": args.aux_ema})
    if args.command in ("sims-sweep", "sims-explore"):
        over["ws"] = args.w
    if args.command == "sims-sweep":
        over["inception_n"] = args.inception_n
    elif args.command == "sims" and args.shift is not None:
        cls, _, share = args.shift.partition("=")
        if not cls or not share:
            raise ValueError(f"--shift must be CLASS=SHARE, got {args.shift!r}")
        over.update({"shift_class": cls, "shift_share": parse_number(share), "shift_w": args.shift_w})
    cfg, lc = resolve(args.config, args.base, **{k: v for k, v in over.items() if v is not None})
    if args.command == "sims-explore":
        from .sims import base_train_config
        lr0 = cfg.lr or base_train_config(args.base).lr
        lrs = args.lr or (lr0, lr0 / 5)
        emas = args.aux_ema or (cfg.ema,)
    if args.dry_run:
        extra = {"lrs": list(lrs), "emas": list(emas)} if args.command == "sims-explore" else {}
        print(json.dumps({"base": args.base, "out": args.out, **cfg.to_dict(), **extra,
                          "classes": list(lc.class_names), "resolution": lc.resolution}, indent=2, default=str))
        return 0
    if args.command == "sims-sweep":
        rf = run_sweep(cfg, args.base, args.out, progress=True, lc=lc)
        print((rf.path / "table.md").read_text())
        return 0
    if args.command == "sims-explore":
        rf = explore_hyperparameters(cfg, args.base, args.out, lrs, emas, progress=True, lc=lc)
        print((rf.path / "table.md").read_text())
        return 0
    if args.shift is not None:
        rf = run_shift(cfg, args.base, args.out, progress=True, lc=lc)
        print((rf.path / "shift.md").read_text())
        return 0
    finetune_auxiliary(args.base, args.out, cfg.n_s[0], cfg.images[0], cfg.lr, cfg.seed, num_steps=cfg.num_steps,
                       device=lc.train.device, progress=True, ema=cfg.ema)
    print(Path(args.out) / "network.pt")
    return 0


def _guided_samples(args, network: str, seeds) -> np.ndarray:
    """Samples of ``network`` for ``seeds`` with the sampling commands' guidance options (:func:`_guidance_options`)
    through empirical.sims.guided_generate (no guide: exactly empirical.edm.generate)."""
    from .edm.guidance import guided_generate, num_classes
    from .sims import load_auxiliary
    from .train import load_network
    if args.aux is None and (args.w is not None or args.guidance_interval is not None):
        raise ValueError("--w and --guidance-interval need --aux (the guide network's run folder)")
    if args.aux is not None and args.w is None:
        raise ValueError("--aux needs --w (the guidance weight; 0 samples without guidance)")
    from .checkpoints import Unreadable
    try:
        D = load_network(Path(network), args.device)
    except Unreadable as e:       # an input of this command, not a run file it may recompute: say what to give
        raise ValueError(f"--network {network} is not a readable network ({e.path.name}: {e.why}); give the "
                         "network.pt of a train, loop or sims run folder (with its network.json beside it)") from None
    try:
        aux = None if args.aux is None else load_auxiliary(args.aux, D, args.device)
    except Unreadable as e:
        raise ValueError(f"--aux {args.aux} holds no readable guide network ({e.path.name}: {e.why}); give a sims "
                         "auxiliary or another run folder with a network.pt") from None
    labels = None
    if args.class_label is not None:
        c = num_classes(D)
        if c == 0:
            raise ValueError("--class needs a class-conditional network; this one is unconditional")
        from .sims_sweep import recorded_loop_config
        rec, _ = recorded_loop_config(Path(network).parent)
        names = list(rec.class_names) if rec is not None and len(rec.class_names) == c else []
        k = names.index(args.class_label) if args.class_label in names else None
        if k is None:
            try:
                k = int(args.class_label)
            except ValueError:
                raise ValueError(f"--class must be a class index 0..{c - 1}" + (f" or one of {names}" if names else "")
                                 + f", got {args.class_label!r}") from None
        labels = [k] * len(seeds)
    return guided_generate(D, aux, args.w or 0.0, seeds, args.device, args.steps, progress=True,
                           interval=args.guidance_interval, labels=labels)


def _compare(args) -> int:
    """``compare``: empirical.compare on each run folder; prints where the tables and figures went."""
    from .compare import compare_run, write
    for run in args.runs:
        out = Path(run) / "compare" if args.out is None else (
            Path(args.out) / Path(run).name if len(args.runs) > 1 else Path(args.out))
        if args.dry_run:
            print(json.dumps({"run": run, "out": str(out)}))
            continue
        for p in write(compare_run(run), out):
            print(p)
    return 0


def _loop_config(args):
    from .configs import preset
    over = {k: v for k, v in {"K": getattr(args, "K", None), "lam": getattr(args, "lam", None),
                              "scheme": getattr(args, "scheme", None), "generations": getattr(args, "generations", None),
                              "reward": getattr(args, "reward", None), "target": getattr(args, "target", None),
                              "fid_n": getattr(args, "fid_n", None), "seed": args.seed, "data": args.data,
                              "device": args.device}.items() if v is not None}
    if getattr(args, "steps", None) is not None:
        over["num_steps"] = args.steps
    if getattr(args, "sampler_ref_steps", None) is not None:
        over["sampler_ref_steps"] = args.sampler_ref_steps
    if getattr(args, "sims_w", None):
        from .sims import AUX_EMA, SimsSampling
        over["sims"] = SimsSampling(args.sims_w, args.sims_n_s, args.sims_images, args.sims_lr,
                                    AUX_EMA if args.sims_ema is None else args.sims_ema, args.sims_interval)
    elif getattr(args, "sims_ema", None) is not None or getattr(args, "sims_interval", None) is not None:
        raise ValueError("--sims-ema and --sims-interval need --sims-w > 0")
    cfg = preset(args.config, **over)
    if getattr(args, "bf16", False) or getattr(args, "compile", False):
        cfg = replace(cfg, train=replace(cfg.train, bf16=args.bf16 or cfg.train.bf16,
                                         compile=args.compile or cfg.train.compile))
    return cfg


def main(argv=None) -> int:
    parser = build_parser()
    args, unknown = parser.parse_known_args(argv)
    if unknown and not getattr(args, "stand_in", False):
        parser.error(f"unrecognized arguments: {' '.join(unknown)}")
    try:
        if getattr(args, "stand_in", False):
            raise ModuleNotFoundError("No module named 'torch'", name="torch")
        if getattr(args, "out", None):
            check_out_dir(args.out)
        return _dispatch(args)
    except ModuleNotFoundError as e:
        if not _is_torch(e):
            raise
        print(f"error: {needs_torch(args.command)}", file=sys.stderr)
        return 2
    except (ValueError, OSError) as e:    # bad options, a refused or unwritable run folder: one line, no traceback
        msg = str(e).splitlines()[0] if isinstance(e, OSError) else str(e)
        print(f"error: {msg}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        how = ("rerun the same command to resume from what was saved" if args.command in RESUMABLE
               else "nothing was saved to resume from; rerun the command to start again")
        print(interrupted(how), file=sys.stderr)
        return 130


def load_images(path, n: int) -> np.ndarray:
    """The first ``n`` images of ``--images``: an .npz with an 'images' array, uint8 (N, C, H, W). A missing,
    empty, damaged or other file is a ValueError naming it and what it must hold (no numpy warning first)."""
    import warnings
    import zipfile

    import numpy as np
    p = Path(path)
    if not p.is_file():
        raise ValueError(f"--images {p}: no such file")
    want = "an .npz with an 'images' array, uint8 (N, C, H, W)"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")           # a numpy warning about the file is its error, said once
            z = np.load(p, allow_pickle=False)
            if not isinstance(z, np.lib.npyio.NpzFile):
                raise ValueError(f"it holds a bare {type(z).__name__}")
            with z:
                if "images" not in z.files:
                    raise ValueError(f"it holds {z.files or 'no arrays'}")
                imgs = z["images"][:n]
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, Warning) as e:
        raise ValueError(f"--images {p} is unreadable or not {want} ({type(e).__name__}: {e})") from None
    if imgs.dtype != np.uint8 or imgs.ndim != 4 or len(imgs) == 0:
        raise ValueError(f"--images {p} holds images of dtype {imgs.dtype} and shape {imgs.shape}; give {want} "
                         "with at least one image")
    return imgs


def parse_seeds(text: str) -> range:
    """The image seeds of ``--seeds A-B`` (inclusive), checked: integers with 0 <= A <= B."""
    a, sep, b = text.partition("-")
    try:
        lo, hi = int(a), int(b)
    except ValueError:
        lo = hi = -1
    if not sep or lo < 0 or hi < lo:
        raise ValueError(f"--seeds must be a range A-B of integers with 0 <= A <= B, got {text!r}")
    return range(lo, hi + 1)


def _dispatch(args) -> int:
    import numpy as np
    if args.command == "download-cifar10":
        from .data import download_cifar10
        print(download_cifar10(args.root, args.url, args.md5, args.timeout, progress=True))
        return 0
    if not args.dry_run:
        apply_threads(args.threads)
    if args.command == "compare":
        return _compare(args)
    if args.command in ("points", "points-ladder", "points-sims"):
        from . import ladder, points, points_sims
        return {"points": points, "points-ladder": ladder, "points-sims": points_sims}[args.command].main(args)
    if args.command == "fit-mixture":
        from .lowrank import main as fit_mixture
        return fit_mixture(args)
    if args.command in ("sims", "sims-sweep", "sims-explore"):
        return _sims_dispatch(args)
    if args.command == "gpu-check":
        from .gpu_check import FULL, SMOKE, run_check
        if args.pack_detector:
            from .fid import pack_detector
            print(pack_detector(args.pack_detector))
            return 0
        if args.dry_run:
            print(json.dumps({"out": args.out, "device": args.device, "budget_s": args.budget_s,
                              "sizes": (SMOKE if args.smoke else FULL).__dict__}, indent=2))
            return 0
        if args.out is None:
            raise ValueError("gpu-check needs --out (the folder for summary.json, gpu-check.log and grid.png)")
        s = run_check(args.out, args.device, args.smoke, args.budget_s, args.work, args.data, args.seed)
        return 0 if s.get("finished") else 1
    if args.command in ("train", "classifier", "loop"):
        cfg = _loop_config(args)
        if args.command == "train":
            tc = cfg.train
            tc = replace(tc, total_images=args.total_images or tc.total_images, bf16=args.bf16 or tc.bf16,
                         compile=args.compile or tc.compile)
            if args.conditional:
                tc = replace(tc, conditional=True, unet=replace(tc.unet, num_classes=len(cfg.class_names)))
            if args.dry_run:
                print(json.dumps({"out": args.out, "n_samples": cfg.n_samples, **tc.to_dict()}, indent=2, default=str))
                return 0
            from simtheory.runs import RunFolder

            from .loop import real_images
            from .train import train
            x, y = real_images(cfg)
            # the data (classes, resolution, seed) and classifier settings behind the network, for `sims`
            with RunFolder.open(args.out, {"kind": "image_train",
                                           "image_loop": {**replace(cfg, train=tc).to_dict(), "sims": None}}):
                train(tc, x[: cfg.n_samples], y[: cfg.n_samples], Path(args.out), progress=True)
            print(Path(args.out) / "network.pt")
            return 0
        if args.command == "classifier":
            base = cfg.classifier if args.which == "classifier" else cfg.judge
            cc = replace(base, epochs=args.epochs or base.epochs)
            if args.dry_run:
                print(json.dumps({"out": args.out, **cc.to_dict()}, indent=2))
                return 0
            from . import data as cifar
            from .classifier import train_classifier
            from .loop import classifier_data
            x, y = classifier_data(cfg, args.which)
            xt, yt = cifar.dataset("test", cfg.resolution, cfg.classes, None, 0, cfg.data)
            _, acc = train_classifier(cc, x, y, xt, yt, Path(args.out), progress=True)
            print(json.dumps({"out": args.out, "test_accuracy": acc}))
            return 0
        out = args.out or f"runs/image-loop-{args.config}-K{cfg.K}-lam{cfg.lam}-{cfg.scheme}-{cfg.reward}"
        if args.dry_run:
            print(json.dumps({"out": out, **cfg.to_dict()}, indent=2, default=str))
            return 0
        from .loop import run_image_loop
        rf = run_image_loop(cfg, out)
        for r in rf.metrics():
            print(json.dumps({k: r.get(k) for k in ("generation", "mean_reward", "reward_se", "class_proportions",
                                                    "judge_class_proportions")}))
        return 0
    if args.command == "sample":
        seeds = parse_seeds(args.seeds)
        a, b = seeds[0], seeds[-1]
        if args.steps < 2:
            raise ValueError(f"--steps must be >= 2 (the Heun schedule needs two noise levels), got {args.steps}")
        if not Path(args.network).is_file():
            raise ValueError(f"--network {args.network}: no such file")
        if args.dry_run:
            print(json.dumps({"network": args.network, "seeds": [a, b], "steps": args.steps, "aux": args.aux,
                              "w": args.w, "guidance_interval": args.guidance_interval, "class": args.class_label,
                              "out": args.out}))
            return 0
        from .loop import save_grid
        imgs = _guided_samples(args, args.network, range(a, b + 1))
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        np.savez(out / "images.npz", images=imgs, seeds=np.arange(a, b + 1))
        save_grid(imgs, out / "grid.png")
        print(out / "images.npz")
        return 0
    # fid
    if args.dry_run:
        print(json.dumps(vars(args), indent=2))
        return 0
    from . import data as cifar
    from . import fid as fidmod
    if (args.images is None) == (args.network is None):
        raise ValueError("pass exactly one of --images and --network")
    if args.n < 2:
        raise ValueError(f"--n must be >= 2 (a covariance needs two images), got {args.n}")
    if args.images:
        if args.aux is not None or args.w is not None or args.guidance_interval is not None or args.class_label:
            raise ValueError("--aux, --w, --guidance-interval and --class apply to --network, not to --images")
        imgs = load_images(args.images, args.n)
        seeds = None
    else:
        seeds = range(args.n)
        imgs = _guided_samples(args, args.network, seeds)
    xr, _ = cifar.dataset(args.ref, imgs.shape[-1], None, None, 0, args.data)
    ref = fidmod.reference_statistics(xr, cifar.CACHE / f"fid-ref-{args.ref}-{imgs.shape[-1]}.npz",
                                      device=args.device, progress=True)
    print(json.dumps(fidmod.fid(imgs, ref, seeds=seeds, device=args.device, progress=True), indent=2))
    return 0
