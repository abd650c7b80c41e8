"""python docs/hooks/snapshot_figures.py [--src DIR] [--dest DIR] [--max-width PX]: copy the figures
`python -m figures` made (figures/out/*.png) into the committed snapshot the documentation shows
(docs/assets/figures/), each optimised for the web: at most --max-width pixels wide (Lanczos), 256-colour
palette, PNG optimisation. `make docs-figures` runs the figures and then this.

The docs build never runs the figures (it must work in a fresh clone, before any figure exists), so the site
shows this snapshot; rerun `make docs-figures` when a figure changes. The snapshot mirrors the source folder:
a PNG of the snapshot that the source no longer has is removed. Not a mkdocs hook (mkdocs.yml does not list it);
it lives beside them as the other piece of the docs build.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parents[2]


def optimise(src: Path, dest: Path, max_width: int) -> None:
    """``src`` as a palette PNG at most ``max_width`` wide (deterministic: same input, same bytes)."""
    with Image.open(src) as im:
        im = im.convert("RGBA")
        if im.width > max_width:
            im = im.resize((max_width, round(im.height * max_width / im.width)), Image.Resampling.LANCZOS)
        if im.getchannel("A").getextrema() == (255, 255):
            im = im.convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
        else:
            im = im.quantize(colors=256, method=Image.Quantize.FASTOCTREE, dither=Image.Dither.NONE)
        im.save(dest, format="PNG", optimize=True)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python docs/hooks/snapshot_figures.py", description=__doc__.split("\n\n")[0])
    ap.add_argument("--src", type=Path, default=ROOT / "figures" / "out", help="where `python -m figures` wrote")
    ap.add_argument("--dest", type=Path, default=ROOT / "docs" / "assets" / "figures", help="the snapshot")
    ap.add_argument("--max-width", type=int, default=1600, help="widest picture kept, in pixels")
    args = ap.parse_args(argv)
    pngs = sorted(args.src.glob("*.png")) if args.src.is_dir() else []
    if not pngs:
        print(f"error: --src {args.src} holds no PNG: run `python -m figures` first", file=sys.stderr)
        return 2
    if args.max_width < 200:
        print(f"error: --max-width must be at least 200 pixels, got {args.max_width}", file=sys.stderr)
        return 2
    args.dest.mkdir(parents=True, exist_ok=True)
    names = {p.name for p in pngs}
    for old in sorted(args.dest.glob("*.png")):
        if old.name not in names:
            old.unlink()
            print(f"removed {old.name} (no longer made)")
    before = after = 0
    for p in pngs:
        optimise(p, args.dest / p.name, args.max_width)
        before += p.stat().st_size
        after += (args.dest / p.name).stat().st_size
    print(f"{len(pngs)} figures: {before / 1e6:.2f} MB -> {after / 1e6:.2f} MB in {args.dest}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
