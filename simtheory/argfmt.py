"""The conventions every command line of the project shares: help on every option with its default shown once,
``--version``, and the check that ``--only`` names exist."""
from __future__ import annotations

import argparse
from importlib import metadata

PACKAGE = "curated-retraining"


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
        if q.exists():
            if not q.is_dir():
                raise ValueError(f"{option} {path}: {q} is a file, not a folder")
            return


def check_out_file(path, option: str = "--out") -> None:
    """ValueError when a file cannot be written at ``path``: its folder is missing, or ``path`` is a folder."""
    from pathlib import Path
    p = Path(path)
    if p.is_dir():
        raise ValueError(f"{option} {path} is a folder; give a file name")
    if not p.parent.is_dir():
        raise ValueError(f"{option} {path}: the folder {p.parent} does not exist")
