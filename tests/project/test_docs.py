"""The README and the docs pages as a user meets them: every Python block runs as written, a block followed by
an ``Output:`` text block prints that (numbers to their last printed digit: another CPU's kernels may move a value
on a rounding boundary), the quickstart command prints what the README shows, and no tracked file cites
documents outside the repository."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import text_differences
from tolerances import TRACKED_REL

ROOT = Path(__file__).resolve().parents[2]
FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.S | re.M)
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]


def blocks(path: Path) -> list[tuple[str, str, str]]:
    """(language, code, the prose between this block and the previous one) for each fenced block."""
    text = path.read_text()
    out, last = [], 0
    for m in FENCE.finditer(text):
        out.append((m.group(1), m.group(2), text[last:m.start()]))
        last = m.end()
    return out


def python_blocks(page: Path) -> list[tuple[str, str | None]]:
    """(code, expected output or None) for every ```python block of a page, in order. A ```text block right
    after it (nothing between, or prose ending in ':' or 'prints') is what the block prints."""
    out = []
    bl = blocks(page)
    for i, (lang, code, _) in enumerate(bl):
        if lang != "python":
            continue
        nxt = bl[i + 1] if i + 1 < len(bl) else None
        prose = nxt[2].strip() if nxt else ""
        shown = nxt is not None and nxt[0] == "text" and (not prose or prose.endswith((":", "prints")))
        out.append((code, nxt[1] if shown else None))
    return out


DRIVER = """
import contextlib, io, json, sys
blocks = json.load(sys.stdin)
ns = {"__name__": "__main__"}
outs = []
for code in blocks:
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        exec(compile(code, "<block>", "exec"), ns)
    outs.append(buf.getvalue())
print(json.dumps(outs))
"""


def _env() -> dict:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    env.pop("MPLBACKEND", None)
    return env


@pytest.mark.parametrize("page", [p for p in PAGES if python_blocks(p)], ids=lambda p: p.relative_to(ROOT).as_posix())
def test_python_blocks_run_as_written(page, tmp_path):
    """A page's Python blocks run in order in one fresh interpreter (as a reader pastes them), from an empty
    folder, and print what the page shows."""
    pb = python_blocks(page)
    run = subprocess.run([sys.executable, "-c", DRIVER], input=json.dumps([c for c, _ in pb]), cwd=tmp_path,
                         env=_env(), capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, f"{page.name}: a block failed:\n{run.stderr[-3000:]}"
    outs = json.loads(run.stdout.splitlines()[-1])
    for (code, expected), got in zip(pb, outs):
        if expected is not None:
            assert text_differences(got, expected, TRACKED_REL) == [], \
                f"{page.name}: the block\n{code}\nprinted\n{got}\nnot\n{expected}"


def test_the_readme_shows_what_blocks_print():
    """The README's quickstart pairs its Python block with the output; the pairing must not silently vanish."""
    readme = python_blocks(ROOT / "README.md")
    assert readme and all(e is not None for _, e in readme)


def test_quickstart_command_prints_what_the_readme_shows(tmp_path):
    bl = blocks(ROOT / "README.md")
    i = next(i for i, (lang, code, _) in enumerate(bl) if lang == "bash" and "simtheory exact" in code)
    cmd, shown = bl[i][1].strip(), bl[i + 1][1]
    assert cmd.startswith(".venv/bin/python -m ")
    args = cmd.split()[1:]
    run = subprocess.run([sys.executable, *args], cwd=tmp_path, env=_env(), capture_output=True, text=True,
                         timeout=600)
    assert run.returncode == 0, run.stderr
    json.loads(run.stdout)                                  # one JSON document, as shown
    assert text_differences(run.stdout.strip(), shown.strip(), TRACKED_REL) == [], run.stdout
    assert run.stderr == "", "progress bars must stay quiet when stderr is not a terminal"


def test_no_tracked_file_cites_documents_outside_the_repository():
    files = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True).stdout.split()
    if not files:
        pytest.skip("not a git checkout")
    # the patterns are assembled so that this file does not itself cite what it looks for
    outside = "../" + "shared"
    patterns = (outside.removeprefix("../") + "/docs", "curation-theory" + ".md", "sims-and-edm" + ".md",
                outside + "/data/README")
    bad = []
    for f in files:
        p = ROOT / f
        if p.suffix not in (".py", ".md", ".toml", ".yml", ".cfg", ".cff", ".txt", "") or not p.is_file():
            continue
        text = p.read_text(errors="ignore")
        bad += [f"{f}: {pat}" for pat in patterns if pat in text]
    assert not bad, bad


def test_every_docs_page_is_in_the_nav():
    nav = (ROOT / "mkdocs.yml").read_text()
    pages = [p.relative_to(ROOT / "docs").as_posix() for p in (ROOT / "docs").rglob("*.md")]
    missing = [p for p in pages if p not in nav]
    assert not missing, f"pages missing from mkdocs.yml's nav: {missing}"
