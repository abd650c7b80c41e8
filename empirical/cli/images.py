"""The image commands of ``python -m empirical``: train (a base EDM model), sample, classifier, loop (the curated
image loop), fid and compare (theory against measurement for loop run folders). Options become configs; the
library does the work."""
from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from simtheory.argfmt import HelpFormatter
from simtheory.validate import parse_number

from .common import data_option, preset_options, sims_from_args, sims_options, threads_option

if TYPE_CHECKING:
    import numpy as np

COMMANDS = ("train", "sample", "classifier", "loop", "fid", "compare")


def add_parsers(sub) -> None:
    """The image commands' parsers."""
    fmt = HelpFormatter
    t = sub.add_parser("train", help="train a base EDM model on real images", formatter_class=fmt)
    preset_options(t)
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
    guidance_options(s)
    s.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1, mps ...")
    threads_option(s)
    s.add_argument("--out", default="runs/samples", help="folder for images.npz (array 'samples') and grid.png")
    s.add_argument("--dry-run", action="store_true", help="print the resolved options and stop")
    c = sub.add_parser("classifier", help="train the reward classifier and record its accuracy", formatter_class=fmt)
    preset_options(c)
    c.add_argument("--epochs", type=int, default=None, help="training epochs (default: the preset's)")
    c.add_argument("--which", default="classifier", choices=["classifier", "judge"],
                   help="the reward classifier or the independent judge (other architecture, seed and data)")
    c.add_argument("--out", default="runs/classifier", help="folder for the classifier and its accuracy")
    lp = sub.add_parser("loop", help="curated retraining loop on images into a run folder", formatter_class=fmt)
    preset_options(lp)
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
    sims_options(lp.add_argument, n_s=2500, budget=10_000, unit="images")
    lp.add_argument("--bf16", action="store_true", help="bf16 autocast in training")
    lp.add_argument("--compile", action="store_true", help="torch.compile the training network")
    lp.add_argument("--out", default=None, help="run folder (default: runs/image-loop-<config>-K<K>-lam<lam>-"
                    "<scheme>-<reward>)")
    f = sub.add_parser("fid", help="FID of an image folder/npz or a network against CIFAR-10 statistics",
                       formatter_class=fmt)
    f.add_argument("--images", default=None, help=".npz with a 'samples' array (or 'images'), uint8 NCHW (default: "
                   "none; give this or --network)")
    f.add_argument("--network", default=None, help="a network.pt to sample from (default: none; give this or --images)")
    f.add_argument("--n", type=int, default=1000, help="images to compare (FID depends on n: compare at equal n)")
    f.add_argument("--steps", type=int, default=18, help="Heun steps when sampling from --network")
    guidance_options(f)
    f.add_argument("--ref", default="test", choices=["train", "test"], help="CIFAR-10 split of the reference")
    data_option(f)
    f.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1, mps ...")
    threads_option(f)
    f.add_argument("--dry-run", action="store_true", help="print the resolved options and stop")
    cp = sub.add_parser("compare", help="theory against measurement (per-generation predictions) for image-loop "
                        "run folders", formatter_class=fmt)
    cp.add_argument("runs", nargs="+", help="image-loop run folders")
    cp.add_argument("--out", default=None, help="output folder (default: <run>/compare; with several runs, "
                    "<out>/<run name>)")
    threads_option(cp)
    cp.add_argument("--dry-run", action="store_true", help="print where each comparison would go and stop")


def guidance_options(p) -> None:
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


def run(args) -> int:
    """Run an image command (``args`` from `add_parsers`); errors are ValueErrors for the CLI."""
    import numpy as np
    if args.command == "compare":
        return _compare(args)
    if args.command in ("train", "classifier", "loop"):
        cfg = loop_config(args)
        if args.command == "train":
            tc = cfg.train
            tc = replace(tc, total_samples=args.total_images or tc.total_samples, bf16=args.bf16 or tc.bf16,
                         compile=args.compile or tc.compile)
            if args.conditional:
                tc = replace(tc, conditional=True, unet=replace(tc.unet, num_classes=len(cfg.class_names)))
            if args.dry_run:
                print(json.dumps({"out": args.out, "n_samples": cfg.n_samples, **tc.to_dict()}, indent=2, default=str))
                return 0
            from simtheory.runs import RunFolder

            from ..images.inputs import real_images
            from ..train import train
            x, y = real_images(cfg)
            # the data (classes, resolution, seed) and classifier settings behind the network, for `sims`
            from ..checkpoints import upgrade_keys
            with RunFolder.open(args.out, {"kind": "image_train",
                                           "image_loop": {**replace(cfg, train=tc).to_dict(), "sims": None}},
                                upgrade=upgrade_keys):
                train(tc, x[: cfg.n_samples], y[: cfg.n_samples], Path(args.out), progress=True)
            print(Path(args.out) / "network.pt")
            return 0
        if args.command == "classifier":
            base = cfg.classifier if args.which == "classifier" else cfg.judge
            cc = replace(base, epochs=args.epochs or base.epochs)
            if args.dry_run:
                print(json.dumps({"out": args.out, **cc.to_dict()}, indent=2))
                return 0
            from ..images import cifar10 as cifar
            from ..images.inputs import classifier_data
            from ..networks.classifier import train_classifier
            x, y = classifier_data(cfg, args.which)
            xt, yt = cifar.dataset("test", cfg.resolution, cfg.classes, None, 0, cfg.data)
            _, acc = train_classifier(cc, x, y, xt, yt, Path(args.out), progress=True)
            print(json.dumps({"out": args.out, "test_accuracy": acc}))
            return 0
        out = args.out or f"runs/image-loop-{args.config}-K{cfg.K}-lam{cfg.lam}-{cfg.scheme}-{cfg.reward}"
        if args.dry_run:
            print(json.dumps({"out": out, **cfg.to_dict()}, indent=2, default=str))
            return 0
        from ..images import run_image_loop
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
        from ..samples import SAMPLES_KEY
        from ..images.measure import save_grid
        imgs = _guided_samples(args, args.network, range(a, b + 1))
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        arrays: dict[str, Any] = {SAMPLES_KEY: imgs, "seeds": np.arange(a, b + 1)}
        np.savez(out / "images.npz", **arrays)
        save_grid(imgs, out / "grid.png")
        print(out / "images.npz")
        return 0
    # fid
    if args.dry_run:
        print(json.dumps(vars(args), indent=2))
        return 0
    from .. import fid as fidmod
    from ..images import cifar10 as cifar
    if (args.images is None) == (args.network is None):
        raise ValueError("pass exactly one of --images and --network")
    if args.n < 2:
        raise ValueError(f"--n must be >= 2 (a covariance needs two images), got {args.n}")
    if args.images:
        if args.aux is not None or args.w is not None or args.guidance_interval is not None or args.class_label:
            raise ValueError("--aux, --w, --guidance-interval and --class apply to --network, not to --images")
        imgs = load_images(args.images, args.n)
        fid_seeds: range | None = None
    else:
        fid_seeds = range(args.n)
        imgs = _guided_samples(args, args.network, fid_seeds)
    xr, _ = cifar.dataset(args.ref, imgs.shape[-1], None, None, 0, args.data)
    ref = fidmod.reference_statistics(xr, cifar.CACHE / f"fid-ref-{args.ref}-{imgs.shape[-1]}.npz",
                                      device=args.device, progress=True)
    print(json.dumps(fidmod.fid(imgs, ref, seeds=fid_seeds, device=args.device, progress=True), indent=2))
    return 0


def _guided_samples(args, network: str, seeds) -> np.ndarray:
    """Samples of ``network`` for ``seeds`` with the sampling commands' guidance options (`guidance_options`)
    through empirical.sims.guided_generate (no guide: exactly empirical.edm.generate)."""
    from ..edm.guidance import guided_generate, num_classes
    from ..sims.auxiliary import load_auxiliary
    from ..train import load_network
    if args.aux is None and (args.w is not None or args.guidance_interval is not None):
        raise ValueError("--w and --guidance-interval need --aux (the guide network's run folder)")
    if args.aux is not None and args.w is None:
        raise ValueError("--aux needs --w (the guidance weight; 0 samples without guidance)")
    from ..checkpoints import Unreadable
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
        from ..sims.config import recorded_loop_config
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
    from ..compare import compare_run, write
    for run in args.runs:
        out = Path(run) / "compare" if args.out is None else (
            Path(args.out) / Path(run).name if len(args.runs) > 1 else Path(args.out))
        if args.dry_run:
            print(json.dumps({"run": run, "out": str(out)}))
            continue
        for p in write(compare_run(run), out):
            print(p)
    return 0


def loop_config(args):
    """The image-loop preset of ``args.config`` with the command line's overrides (train, classifier, loop)."""
    from ..images.config import preset
    over = {k: v for k, v in {"K": getattr(args, "K", None), "lam": getattr(args, "lam", None),
                              "scheme": getattr(args, "scheme", None), "generations": getattr(args, "generations", None),
                              "reward": getattr(args, "reward", None), "target": getattr(args, "target", None),
                              "fid_n": getattr(args, "fid_n", None), "seed": args.seed, "data": args.data,
                              "device": args.device}.items() if v is not None}
    if getattr(args, "steps", None) is not None:
        over["num_steps"] = args.steps
    if getattr(args, "sampler_ref_steps", None) is not None:
        over["sampler_ref_steps"] = args.sampler_ref_steps
    sims = sims_from_args(args)
    if sims is not None:
        over["sims"] = sims
    cfg = preset(args.config, **over)
    if getattr(args, "bf16", False) or getattr(args, "compile", False):
        cfg = replace(cfg, train=replace(cfg.train, bf16=args.bf16 or cfg.train.bf16,
                                         compile=args.compile or cfg.train.compile))
    return cfg


def load_images(path, n: int) -> np.ndarray:
    """The first ``n`` images of ``--images``: an .npz with a 'samples' array (or an older 'images'), uint8
    (N, C, H, W). A missing,
    empty, damaged or other file is a ValueError naming it and what it must hold (no numpy warning first)."""
    import warnings
    import zipfile

    import numpy as np
    p = Path(path)
    if not p.is_file():
        raise ValueError(f"--images {p}: no such file")
    from ..samples import OLD_SAMPLES_KEYS, SAMPLES_KEY, samples_key
    want = f"an .npz with a {SAMPLES_KEY!r} (or {OLD_SAMPLES_KEYS[0]!r}) array, uint8 (N, C, H, W)"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")           # a numpy warning about the file is its error, said once
            z = np.load(p, allow_pickle=False)
            if not isinstance(z, np.lib.npyio.NpzFile):
                raise ValueError(f"it holds a bare {type(z).__name__}")
            with z:
                key = samples_key(z.files)
                if key is None:
                    raise ValueError(f"it holds {z.files or 'no arrays'}")
                imgs = z[key][:n]
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
