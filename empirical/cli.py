"""``empirical`` (or ``python -m empirical``): sub-commands train, sample, classifier, loop, fid, compare, sims,
sims-sweep and download-cifar10. Options become configs; the library does the work; ``--dry-run`` prints the
resolved config. ``--threads N`` sets torch's and Numba's thread counts for this process (the library itself
never changes them). Bad options end with one ``error:`` line and exit status 2."""
from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path

from simtheory.argfmt import HelpFormatter, add_version, check_out_dir
from simtheory.validate import parse_number


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
                   help="CPU threads for torch and Numba (default: as the environment sets them; small networks "
                        "on a busy machine run fastest with 1)")


def set_threads(n: int | None) -> None:
    """Set torch's and Numba's thread counts to ``n`` (an explicit user choice; None leaves them)."""
    if n is None:
        return
    import numba
    import torch

    from simtheory.kernels import launch_threads
    if n < 1:
        raise ValueError(f"--threads must be >= 1, got {n}")
    launch_threads()
    if n > numba.config.NUMBA_NUM_THREADS:
        raise ValueError(f"--threads {n} exceeds NUMBA_NUM_THREADS={numba.config.NUMBA_NUM_THREADS}, the most "
                         "Numba can use in this process; raise NUMBA_NUM_THREADS or lower --threads")
    numba.set_num_threads(n)
    torch.set_num_threads(n)


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
    t.add_argument("--out", default="runs/train", help="run folder")
    s = sub.add_parser("sample", help="generate images from a network.pt", formatter_class=fmt)
    s.add_argument("--network", required=True, help="a network.pt written by train, loop or sims")
    s.add_argument("--seeds", default="0-63", help="image seeds, a range A-B with A <= B (inclusive)")
    s.add_argument("--steps", type=int, default=18, help="Heun steps (2 steps - 1 network evaluations)")
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
    lp.add_argument("--sims-w", type=parse_number, default=None, help="SIMS: every generation samples with guidance "
                    "w from its own auxiliary, 0: plain sampling (default: plain sampling)")
    lp.add_argument("--sims-n-s", type=int, default=2500, help="SIMS auxiliary's synthetic-set size n_s")
    lp.add_argument("--sims-images", type=int, default=10_000, help="SIMS auxiliary's fine-tune budget B "
                    "in images")
    lp.add_argument("--sims-lr", type=parse_number, default=None, help="SIMS auxiliary's lr (default: the model's)")
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
    from . import data
    d = sub.add_parser("download-cifar10", help="download the official CIFAR-10 archive, check its md5, unpack it",
                       formatter_class=fmt, description=data.download_cifar10.__doc__.split("\n\n")[0])
    d.add_argument("--root", default="data", help="folder to unpack into, as ROOT/cifar-10-batches-py")
    d.add_argument("--url", default=data.URL, help="archive URL (for a mirror, give --md5 too)")
    d.add_argument("--md5", default=data.MD5, help="expected md5 of the archive")
    d.add_argument("--timeout", type=float, default=60.0, help="seconds to wait for the server")
    return ap


def _floats(text: str) -> tuple:
    return tuple(parse_number(v) for v in text.split(",") if v.strip())


def _ints(text: str) -> tuple:
    return tuple(int(parse_number(v)) for v in text.split(",") if v.strip())


def _add_sims_parsers(sub, fmt) -> None:
    """Sub-commands sims (auxiliary, distribution shifting) and sims-sweep (w, B, n_s grid)."""
    for name, help_ in (("sims", "SIMS auxiliary model of a base run (or, with --shift, distribution shifting)"),
                        ("sims-sweep", "SIMS guidance sweep over w (and B, n_s) on three disjoint seed sets")):
        p = sub.add_parser(name, help=help_, formatter_class=fmt)
        p.add_argument("--base", required=True, help="base run: a loop's gen_000 folder or a `train` run folder")
        p.add_argument("--config", default="cpu", choices=["tiny", "cpu", "gpu"], help="SIMS preset")
        p.add_argument("--out", required=True, help="run folder")
        p.add_argument("--n-s", type=_ints, default=None, help="synthetic-set size(s) n_s, comma-separated "
                       "(default: the preset's)")
        p.add_argument("--images", type=_ints, default=None, help="fine-tune budget(s) B in images, comma-separated "
                       "(default: the preset's)")
        p.add_argument("--lr", type=parse_number, default=None, help="fine-tune lr (default: the preset's)")
        p.add_argument("--seed", type=int, default=None, help="seed of the run's draws (default: the preset's)")
        p.add_argument("--n", type=int, default=None, help="images per seed set (default: the preset's)")
        p.add_argument("--device", default=None, help="cpu, cuda, cuda:1, mps ... (default: the preset's)")
        _threads(p)
        p.add_argument("--dry-run", action="store_true", help="print the resolved config and stop")
        if name == "sims":
            p.add_argument("--shift", default=None, help="distribution shifting toward CLASS=SHARE, e.g. "
                           "airplane=0.3 (default: no shifting, train the auxiliary only)")
            p.add_argument("--shift-w", type=parse_number, default=None,
                           help="guidance weight of the shifted sampler (default: the preset's)")
        else:
            p.add_argument("--w", type=_floats, default=None, help="guidance weights, comma-separated, 0 included "
                           "(default: the preset's)")
            p.add_argument("--inception-n", type=int, default=None, help="images per report set for FID and "
                           "precision/recall (default: the preset's)")


def _sims_dispatch(args) -> int:
    from .sims_sweep import run_shift, run_sweep, sims_preset
    over = {"n_s": args.n_s, "images": args.images, "lr": args.lr, "seed": args.seed, "n": args.n,
            "device": args.device}
    if args.command == "sims-sweep":
        over.update({"ws": args.w, "inception_n": args.inception_n})
    elif args.shift is not None:
        cls, _, share = args.shift.partition("=")
        if not share:
            raise ValueError(f"--shift must be CLASS=SHARE, got {args.shift!r}")
        over.update({"shift_class": cls, "shift_share": parse_number(share), "shift_w": args.shift_w})
    cfg = sims_preset(args.config, **{k: v for k, v in over.items() if v is not None})
    if args.dry_run:
        print(json.dumps({"base": args.base, "out": args.out, **cfg.to_dict()}, indent=2, default=str))
        return 0
    if args.command == "sims-sweep":
        rf = run_sweep(cfg, args.base, args.out, progress=True)
        print((rf.path / "table.md").read_text())
        return 0
    if args.shift is not None:
        rf = run_shift(cfg, args.base, args.out, progress=True)
        print((rf.path / "shift.md").read_text())
        return 0
    from .sims import finetune_auxiliary
    finetune_auxiliary(args.base, args.out, cfg.n_s[0], cfg.images[0], cfg.lr, cfg.seed, num_steps=cfg.num_steps,
                       device=cfg.device or cfg.loop_config().train.device, progress=True)
    print(Path(args.out) / "network.pt")
    return 0


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
    if getattr(args, "sims_w", None):
        from .sims import SimsSampling
        over["sims"] = SimsSampling(args.sims_w, args.sims_n_s, args.sims_images, args.sims_lr)
    cfg = preset(args.config, **over)
    if getattr(args, "bf16", False) or getattr(args, "compile", False):
        cfg = replace(cfg, train=replace(cfg.train, bf16=args.bf16 or cfg.train.bf16,
                                         compile=args.compile or cfg.train.compile))
    return cfg


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if getattr(args, "out", None):
            check_out_dir(args.out)
        return _dispatch(args)
    except (ValueError, OSError) as e:    # bad options, a refused or unwritable run folder: one line, no traceback
        msg = str(e).splitlines()[0] if isinstance(e, OSError) else str(e)
        print(f"error: {msg}", file=sys.stderr)
        return 2


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
        set_threads(args.threads)
    if args.command == "compare":
        return _compare(args)
    if args.command in ("sims", "sims-sweep"):
        return _sims_dispatch(args)
    if args.command in ("train", "classifier", "loop"):
        cfg = _loop_config(args)
        if args.command == "train":
            tc = cfg.train
            tc = replace(tc, total_images=args.total_images or tc.total_images, bf16=args.bf16 or tc.bf16,
                         compile=args.compile or tc.compile)
            if args.dry_run:
                print(json.dumps({"out": args.out, "n_samples": cfg.n_samples, **tc.to_dict()}, indent=2, default=str))
                return 0
            from .loop import real_images
            from .train import train
            x, y = real_images(cfg)
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
            print(json.dumps({"network": args.network, "seeds": [a, b], "steps": args.steps, "out": args.out}))
            return 0
        from .edm import generate
        from .loop import save_grid
        from .train import load_network
        D = load_network(Path(args.network), args.device)
        imgs = generate(D, range(a, b + 1), args.device, args.steps, progress=True)
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
        p = Path(args.images)
        if not p.exists():
            raise ValueError(f"no file at {p}")
        imgs = np.load(p)["images"][: args.n]
        seeds = None
    else:
        from .edm import generate
        from .train import load_network
        D = load_network(Path(args.network), args.device)
        seeds = range(args.n)
        imgs = generate(D, seeds, args.device, args.steps, progress=True)
    xr, _ = cifar.dataset(args.ref, imgs.shape[-1], None, None, 0, args.data)
    ref = fidmod.reference_statistics(xr, cifar.CACHE / f"fid-ref-{args.ref}-{imgs.shape[-1]}.npz",
                                      device=args.device, progress=True)
    print(json.dumps(fidmod.fid(imgs, ref, seeds=seeds, device=args.device, progress=True), indent=2))
    return 0
