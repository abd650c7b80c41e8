"""The SIMS commands of ``python -m empirical``: sims (an auxiliary, or with --shift distribution shifting),
sims-sweep (the w grid on disjoint seed sets) and sims-explore (the auxiliary's hyperparameters on the pick set)."""
from __future__ import annotations

import json
from pathlib import Path

from simtheory.argfmt import HelpFormatter
from simtheory.validate import parse_number

from .common import data_option, floats, ints, threads_option

COMMANDS = ("sims", "sims-sweep", "sims-explore")


def add_parsers(sub) -> None:
    """Sub-commands sims (auxiliary, distribution shifting), sims-sweep (w, B, n_s grid) and sims-explore (lr, EMA
    and B search on seed set 0)."""
    fmt = HelpFormatter
    p = sub.add_parser("sims", help="SIMS auxiliary model of a base run (or, with --shift, distribution shifting)",
                       formatter_class=fmt)
    sims_common(p, "sims")
    p.add_argument("--shift", default=None, help="distribution shifting toward CLASS=SHARE, e.g. airplane=0.3 "
                   "(default: none, build the auxiliary only)")
    p.add_argument("--shift-w", type=parse_number, default=None,
                   help="guidance weight of distribution shifting, needs --shift (default: the preset's)")
    p = sub.add_parser("sims-sweep", help="SIMS guidance sweep over w (and B, n_s) on disjoint seed sets",
                       formatter_class=fmt)
    sims_common(p, "sims-sweep")
    p.add_argument("--w", type=floats, default=None, help="guidance weights, comma-separated, 0 included "
                   "(default: the preset's)")
    p.add_argument("--inception-n", type=int, default=None, help="images per report set for FID and P/R "
                   "(default: the preset's)")
    p = sub.add_parser("sims-explore", help="SIMS hyperparameter search (lr x auxiliary EMA x n_s x B x w) on seed "
                       "set 0 only", formatter_class=fmt)
    sims_common(p, "sims-explore")
    p.add_argument("--lr", type=floats, default=None, help="learning rates, comma-separated (default: the preset's "
                   "or the base's, and a fifth of it)")
    p.add_argument("--aux-ema", type=floats, default=None, help="auxiliary EMA half-lives as fractions of B, "
                   "comma-separated, 0 for raw weights (default: the preset's)")
    p.add_argument("--w", type=floats, default=None, help="guidance weights, comma-separated, 0 included "
                   "(default: the preset's)")


def sims_common(p, name: str) -> None:
    p.add_argument("--base", required=True, help="base run: a loop's gen_000 folder or a `train` run folder")
    p.add_argument("--config", default=None, choices=["tiny", "cpu", "gpu"], help="SIMS preset (default: the one "
                   "whose loop preset made the base; a preset for other classes or another resolution than the "
                   "base's is refused)")
    p.add_argument("--out", required=True, help="run folder (a rerun resumes; another config there is refused)")
    one = name == "sims"
    p.add_argument("--n-s", type=ints, default=None, help=("synthetic-set size n_s, one value" if one else
                   "synthetic-set sizes n_s, comma-separated") + " (default: the preset's)")
    p.add_argument("--images", type=ints, default=None, help=("fine-tune budget B in images, one value" if one else
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
    data_option(p)
    p.add_argument("--device", default=None, help="cpu, cuda, cuda:1, mps ... (default: the preset's)")
    threads_option(p)
    p.add_argument("--dry-run", action="store_true", help="print the resolved config and stop")


def run(args) -> int:
    """Run a SIMS command (``args`` from `add_parsers`); errors are ValueErrors for the CLI."""
    from ..sims.auxiliary import finetune_auxiliary
    from ..sims.config import resolve_config
    from ..sims.explore import explore_hyperparameters
    from ..sims.shift import run_shift
    from ..sims.sweep import run_guidance_sweep
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
    cfg, lc = resolve_config(args.config, args.base, **{k: v for k, v in over.items() if v is not None})
    if args.command == "sims-explore":
        from ..sims.auxiliary import base_train_config
        lr0 = cfg.lr or base_train_config(args.base).lr
        lrs = args.lr or (lr0, lr0 / 5)
        emas = args.aux_ema or (cfg.ema,)
    if args.dry_run:
        extra = {"lrs": list(lrs), "emas": list(emas)} if args.command == "sims-explore" else {}
        print(json.dumps({"base": args.base, "out": args.out, **cfg.to_dict(), **extra,
                          "classes": list(lc.class_names), "resolution": lc.resolution}, indent=2, default=str))
        return 0
    if args.command == "sims-sweep":
        rf = run_guidance_sweep(cfg, args.base, args.out, progress=True, lc=lc)
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
