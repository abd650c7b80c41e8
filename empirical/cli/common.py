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
