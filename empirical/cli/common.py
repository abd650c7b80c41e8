"""What the command groups of ``python -m empirical`` share: the preset, device, data, seed, threads and dry-run
options, the thread settings an entry point applies (the library itself never changes them), and number lists."""
from __future__ import annotations

from simtheory import argfmt
from simtheory.argfmt import DEFAULT_THREADS, THREADS_ENV, resolve_threads
from simtheory.validate import parse_number

__all__ = ["apply_threads", "data_option", "floats", "ints", "preset_options", "set_threads", "sweep_options",
           "threads_option"]


def preset_options(p, config_default="cpu") -> None:
    """--config (an image preset), --device, --data, --seed, --threads and --dry-run."""
    p.add_argument("--config", default=config_default, choices=["tiny", "cpu", "gpu"], help="preset")
    p.add_argument("--device", default=None, help="cpu, cuda, cuda:1, mps ... (default: the preset's)")
    data_option(p)
    p.add_argument("--seed", type=int, default=None,
                   help="seed of every random draw of the run (default: the preset's, 0)")
    threads_option(p)
    p.add_argument("--dry-run", action="store_true", help="print the resolved config and stop")


def data_option(p) -> None:
    """--data: where CIFAR-10 lies."""
    p.add_argument("--data", default=None, help="CIFAR-10: a cifar-10-batches-py folder or the JPEG archive "
                   "(default: $CIFAR10_SOURCE, then data/cifar-10-batches-py, then the copy beside the checkout)")


def sweep_options(p) -> None:
    """The options every sweep command (a ladder, a SIMS experiment on dask) shares: where the jobs run, threads,
    dry run."""
    p.add_argument("--scheduler", default=None, help="address of a running dask scheduler (default: none, a local "
                   "cluster)")
    p.add_argument("--workers", type=int, default=2, help="processes of the local cluster, one thread each "
                   "(default: 2)")
    p.add_argument("--serial", action="store_true", help="run the jobs one after another in this process, without "
                   "dask (default: off)")
    p.add_argument("--threads", type=int, default=None, help="CPU threads for torch and Numba in this process "
                   "(default: $CURATED_THREADS, else Numba 1 and torch as the environment sets them; workers inherit "
                   "OMP_NUM_THREADS)")
    p.add_argument("--dry-run", action="store_true", help="print the config and stop (default: off)")


def threads_option(p) -> None:
    """--threads: torch's and Numba's thread counts."""
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


def floats(text: str) -> tuple:
    """A comma-separated list of numbers ('inf' allowed)."""
    return tuple(parse_number(v) for v in text.split(",") if v.strip())


def ints(text: str) -> tuple:
    """A comma-separated list of integers."""
    return tuple(int(parse_number(v)) for v in text.split(",") if v.strip())


def sims_options(add, n_s: int, budget: int, unit: str) -> None:
    """The SIMS options of every loop command (``add``: the parser's add_argument): guidance w, the auxiliary's n_s,
    budget B (in ``unit`` seen; --sims-images is the earlier name of --sims-samples), lr, EMA and the noise interval
    of the guidance ([`empirical.sims.auxiliary.SimsSampling`][empirical.sims.auxiliary.SimsSampling])."""
    add("--sims-w", type=parse_number, default=None, help="SIMS: every generation samples with guidance w from its "
        "own auxiliary, 0: plain sampling (default: plain sampling)")
    add("--sims-n-s", type=int, default=n_s, help=f"SIMS auxiliary's synthetic-set size n_s (default: {n_s})")
    add("--sims-samples", "--sims-images", dest="sims_samples", type=int, default=budget,
        help=f"SIMS auxiliary's fine-tune budget B in {unit} seen (default: {budget}); --sims-images is its earlier "
        "name")
    add("--sims-lr", type=parse_number, default=1e-3, help="SIMS auxiliary's lr, the same for every generation "
        "(default: 0.001)")
    add("--sims-ema", type=parse_number, default=None, help="SIMS auxiliary's EMA half-life as a fraction of its B; "
        "0: the raw fine-tuned weights (default: empirical.sims.AUX_EMA)")
    add("--sims-interval", type=parse_number, nargs=2, default=None, metavar=("LO", "HI"),
        help="SIMS guidance only for noise levels sigma in [LO, HI] (default: every level)")


def sims_from_args(args):
    """The SimsSampling of [`sims_options`][empirical.cli.common.sims_options]' values, None without --sims-w (or at
    0); --sims-ema or --sims-interval without --sims-w is a ValueError."""
    if not getattr(args, "sims_w", None):
        if getattr(args, "sims_ema", None) is not None or getattr(args, "sims_interval", None) is not None:
            raise ValueError("--sims-ema and --sims-interval need --sims-w > 0")
        return None
    from ..sims.auxiliary import AUX_EMA, SimsSampling
    return SimsSampling(args.sims_w, args.sims_n_s, args.sims_samples, args.sims_lr,
                        AUX_EMA if args.sims_ema is None else args.sims_ema, args.sims_interval)
