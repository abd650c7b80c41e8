"""The tool commands of ``python -m empirical``: download-cifar10 (the official archive, md5-checked) and gpu-check
(the gpu preset's pipeline on one GPU within a time budget)."""
from __future__ import annotations

import json

from simtheory.argfmt import HelpFormatter
from simtheory.validate import parse_number

from .common import data_option, threads_option

COMMANDS = ("gpu-check", "download-cifar10")


def add_parsers(sub) -> None:
    """The tool commands' parsers."""
    fmt = HelpFormatter
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
    data_option(g)
    g.add_argument("--seed", type=int, default=0, help="run seed (data subset, classifier, training, sampler seeds)")
    threads_option(g)
    g.add_argument("--pack-detector", default=None, metavar="DIR",
                   help="write the FID network as a 40 MB folder (float16 weights) for a machine that cannot receive "
                        "the 87 MB original, and stop; there, set FID_DETECTOR=DIR (default: none)")
    g.add_argument("--dry-run", action="store_true", help="print the step sizes and stop")
    from ..images import cifar10 as data
    d = sub.add_parser("download-cifar10", help="download the official CIFAR-10 archive, check its md5, unpack it",
                       formatter_class=fmt, description=(data.download_cifar10.__doc__ or "").split("\n\n")[0])
    d.add_argument("--root", default="data", help="folder to unpack into, as ROOT/cifar-10-batches-py")
    d.add_argument("--url", default=data.URL, help="archive URL (for a mirror, give --md5 too)")
    d.add_argument("--md5", default=data.MD5, help="expected md5 of the archive")
    d.add_argument("--timeout", type=float, default=60.0, help="seconds to wait for the server")


def run(args) -> int:
    """Run a tool command (``args`` from `add_parsers`); errors are ValueErrors for the CLI."""
    if args.command == "download-cifar10":
        from ..images.cifar10 import download_cifar10
        print(download_cifar10(args.root, args.url, args.md5, args.timeout, progress=True))
        return 0
    from ..gpu_check import FULL, SMOKE, run_check
    if args.pack_detector:
        from ..fid import pack_detector
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
