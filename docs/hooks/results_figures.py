"""mkdocs hook: the tracked result figures (``results/**/*.png``) join the site as ``assets/results/...``, copied
at build time from where the runs wrote them, so a page embeds ``![...](assets/results/<run>/<file>.png)`` (with
its relative prefix) and mkdocs checks the link like any other. The PNGs are not duplicated under docs/: the run
folders stay the one copy, and a rerun that rewrites a figure shows on the next build.
"""
from __future__ import annotations

from pathlib import Path

from mkdocs.structure.files import File, Files

PREFIX = "assets/results"


def on_files(files: Files, config) -> Files:
    root = Path(config["config_file_path"]).resolve().parent
    results = root / "results"
    if (Path(config["docs_dir"]) / PREFIX).exists():
        raise ValueError(f"docs/{PREFIX} must not exist: the hook fills {PREFIX}/ from results/")
    for png in sorted(results.rglob("*.png")):
        rel = png.relative_to(results).as_posix()
        files.append(File.generated(config, f"{PREFIX}/{rel}", abs_src_path=str(png)))
    return files
