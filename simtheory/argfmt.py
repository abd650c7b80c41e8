"""The conventions every command line of the project shares: help on every option with its default shown once,
``--version``, the check that ``--only`` names exist, and the thread count of the process (``--threads``,
``$CURATED_THREADS``). Only entry points call `set_threads`; the library never changes thread settings."""
from __future__ import annotations

import argparse
import os
from importlib import metadata

PACKAGE = "curated-retraining"
THREADS_ENV = "CURATED_THREADS"
DEFAULT_THREADS = 1
"""The thread count of an entry point given neither --threads nor `$CURATED_THREADS`. The kernels of figures and
checks are small and called many times: on a shared machine each parallel region waits for descheduled threads,
so more threads ran several times slower than one (docs/getting-started.md, Threads); results do not depend on
the thread count (kernels split work into a fixed number of chunks)."""


def version() -> str:
    """The installed version of the project (``unknown`` when run from a checkout that was never installed)."""
    try:
        return metadata.version(PACKAGE)
    except metadata.PackageNotFoundError:
        return "unknown"


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Appends ``(default: X)`` to an option's help unless the help already states its default, or the option
    is a flag or has no default (its help then says what happens without it)."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if "default" in text.lower() or not action.option_strings or action.required:
            return text
        if action.default is None or action.default is False or action.default == argparse.SUPPRESS \
                or action.nargs == 0:
            return text
        return f"{text} (default: %(default)s)"


def add_version(parser: argparse.ArgumentParser) -> None:
    """``--version``: print ``prog version`` and exit."""
    parser.add_argument("--version", action="version", version=f"%(prog)s {version()}",
                        help="print the version and exit")


def add_threads(parser: argparse.ArgumentParser, what: str = "Numba's kernels") -> None:
    """``--threads N``: the CPU threads of this process (see `resolve_threads` for the default)."""
    parser.add_argument("--threads", type=int, default=None,
                        help=f"CPU threads for {what} in this process (default: ${THREADS_ENV} when set, else "
                             f"{DEFAULT_THREADS}: small kernels on a shared machine run fastest on one thread)")


def resolve_threads(option: int | None) -> int:
    """The thread count an entry point uses: ``--threads`` when given, else ``$CURATED_THREADS`` when set, else
    `DEFAULT_THREADS`. ValueError naming the option or the variable when it is not an integer >= 1."""
    if option is not None:
        name, value = "--threads", str(option)
    else:
        name, value = THREADS_ENV, os.environ.get(THREADS_ENV, "").strip()
        if not value:
            return DEFAULT_THREADS
    try:
        n = int(value)
    except ValueError:
        n = 0
    if n < 1:
        raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
    return n


def set_threads(n: int) -> None:
    """Set Numba's thread count for this process to ``n`` (the torch half's entry points set torch's beside it:
    simtheory never imports torch). For entry points only: the library never calls it. ValueError when ``n``
    exceeds the pool Numba was started with (NUMBA_NUM_THREADS)."""
    import numba

    from .kernels import launch_threads
    if n < 1:
        raise ValueError(f"--threads must be >= 1, got {n}")
    launch_threads()
    pool = int(numba.config.NUMBA_NUM_THREADS)  # type: ignore[attr-defined]  # set at import from the environment
    if n > pool:
        raise ValueError(f"--threads {n} exceeds NUMBA_NUM_THREADS={pool}, the most Numba can use in this process; "
                         "raise NUMBA_NUM_THREADS or lower --threads")
    numba.set_num_threads(n)


def interrupted(how: str) -> str:
    """The one line a command prints on Ctrl-C (exit status 130): "interrupted: " and how to resume, on a line of its
    own where a progress bar may have left the cursor (a terminal)."""
    import sys
    return ("\n" if sys.stderr.isatty() else "") + f"interrupted: {how}"


def check_names(option: str, given: list[str] | None, valid: list[str]) -> None:
    """ValueError naming the unknown entries of ``option`` and listing the valid names."""
    unknown = [n for n in (given or []) if n not in valid]
    if unknown:
        raise ValueError(f"{option}: unknown name{'s' if len(unknown) > 1 else ''} {', '.join(unknown)}; "
                         f"valid names: {', '.join(valid)}")


def check_out_dir(path, option: str = "--out") -> None:
    """ValueError when ``path`` cannot become a folder: it, or a part of the path above it, is a file."""
    from pathlib import Path
    p = Path(path)
    for q in (p, *p.parents):
        if _exists(q, option, path):
            if not q.is_dir():
                raise ValueError(f"{option} {path}: {q} is a file, not a folder")
            return


def _exists(q, option: str, path) -> bool:
    """Whether ``q`` exists; ValueError for a path the system refuses to look up (a name too long, a loop)."""
    try:
        os.stat(q)
    except (FileNotFoundError, NotADirectoryError):      # missing, or a file above it (the caller names it)
        return False
    except OSError as e:
        raise ValueError(f"{option} {path}: {e.strerror}") from None
    return True


def check_out_file(path, option: str = "--out") -> None:
    """ValueError when a file cannot be written at ``path``: its folder is missing or not writable, or ``path`` is
    a folder."""
    from pathlib import Path
    p = Path(path)
    if _exists(p, option, path) and p.is_dir():
        raise ValueError(f"{option} {path} is a folder; give a file name")
    if not (_exists(p.parent, option, path) and p.parent.is_dir()):
        raise ValueError(f"{option} {path}: the folder {p.parent} does not exist")
    _probe(p.parent, option, path)


def check_writable_dir(path, option: str = "--out") -> None:
    """ValueError when ``path`` cannot become a writable folder: it or a part above it is a file
    (`check_out_dir`), or the nearest existing folder of the path refuses a new entry (permissions, a
    read-only file system, a name too long). Probes with a temporary folder, removed at once: nothing stays."""
    from pathlib import Path
    check_out_dir(path, option)
    p = Path(path)
    q = next((a for a in (p, *p.parents) if _exists(a, option, path)), Path("."))
    try:
        longest = os.pathconf(q, "PC_NAME_MAX")
    except (OSError, ValueError):
        longest = 255
    for part in (p.relative_to(q).parts if q != p else ()):          # the folders to make: valid names?
        if len(os.fsencode(part)) > longest:
            raise ValueError(f"{option} {path}: the name {part[:40]}... is longer than the {longest} bytes the file "
                             "system allows")
    _probe(q, option, path)


def _probe(folder, option: str, path) -> None:
    """ValueError unless a new entry can be made in ``folder`` (a temporary folder, removed at once)."""
    import tempfile
    try:
        os.rmdir(tempfile.mkdtemp(prefix=".write-probe-", dir=folder))
    except OSError as e:
        raise ValueError(f"{option} {path}: cannot write in {folder} ({e.strerror})") from None
