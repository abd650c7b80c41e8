"""The documentation site as a reader meets it with no network: it builds strictly, no page prints a reST role,
a ``.. math::`` directive or raw LaTeX delimiters, every formula is MathML, the pages that present figures show
them (and every picture is a file of the site), and no page loads a script or a stylesheet from elsewhere.
Each check is also shown to fail on a small site built with the same hooks and a page that breaks it."""
from __future__ import annotations

import html
import importlib.util
import os
import re
import subprocess
import sys
import textwrap
from html.parser import HTMLParser
from pathlib import Path

import pytest

pytest.importorskip("mkdocs")

ROOT = Path(__file__).resolve().parents[2]
SNAPSHOT = ROOT / "docs" / "assets" / "figures"      # the figures `make docs-figures` committed
# pages (site paths) that present figures: each must show at least this many pictures
FIGURE_PAGES = {
    "figures/index.html": len(list(SNAPSHOT.glob("*.png"))),   # all of them (which ones: a test below)
    "results/index.html": 4,
    "points/index.html": 3,
    "empirical/compare/index.html": 2,
    "empirical/sims/index.html": 2,
    "theory/index.html": 3,
    "theory/diffusion/index.html": 3,
    "theory/sims-systematic-error/index.html": 1,
}
ROLE = re.compile(r":(?:py:)?(?:func|class|mod|data|meth|attr|obj|exc|const|math|ref):")
LATEX_DELIMITERS = re.compile(r"\$|\\\(|\\\)|\\\[|\\\]")
LATEX_COMMAND = re.compile(r"\\[A-Za-z]+")       # \frac, \mathbb...: TeX that no formula took in
REMOTE_CSS = re.compile(r"""url\(\s*["']?(?:https?:)?//[^)]*\)|@import\s+["'](?:https?:)?//[^"']*["']""")
SKIP = {"code", "pre", "math", "script", "style", "kbd", "samp", "textarea"}
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


class Page(HTMLParser):
    """The text a reader sees outside code and formulas, and the page's pictures and remote references."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.open: list[tuple[str, bool]] = []        # (tag, is an arithmatex wrapper) of each open element
        self.converted: list[bool] = []               # per open arithmatex wrapper: holds a <math> element
        self.text: list[str] = []
        self.images: list[str] = []
        self.remote: list[str] = []
        self.unconverted = 0

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "img":
            self.images.append(a.get("src") or "")
        for key in ("src", "href"):
            url = a.get(key) or ""
            if tag in ("script", "link", "img", "iframe") and re.match(r"(?i)(https?:)?//", url):
                self.remote.append(f"<{tag} {key}={url}>")
        if tag in VOID:
            return
        if tag == "math" and self.converted:
            self.converted[-1] = True
        wrapper = "arithmatex" in (a.get("class") or "").split()
        if wrapper:
            self.converted.append(False)
        self.open.append((tag, wrapper))

    def handle_endtag(self, tag):
        if tag not in {t for t, _ in self.open}:
            return
        while self.open:
            t, wrapper = self.open.pop()
            if wrapper and not self.converted.pop():
                self.unconverted += 1
            if t == tag:
                break

    def handle_data(self, data):
        if not any(t in SKIP for t, _ in self.open):
            self.text.append(data)


def problems(site: Path, figure_pages: dict[str, int]) -> list[str]:
    """Every way the built ``site`` fails a reader, one line each (page, what, an excerpt)."""
    out = []
    for f in sorted(site.rglob("*.html")):
        rel = f.relative_to(site).as_posix()
        page = Page()
        page.feed(f.read_text())
        text = " ".join(page.text)
        for pattern, what in ((ROLE, "a reST role"), (re.compile(r"\.\. math::"), "a .. math:: directive"),
                              (LATEX_DELIMITERS, "a raw LaTeX delimiter"),
                              (LATEX_COMMAND, "a raw LaTeX command")):
            for m in pattern.finditer(text):
                out.append(f"{rel}: {what} in the text: ...{text[max(0, m.start() - 60):m.end() + 40]}...")
        if page.unconverted:
            out.append(f"{rel}: {page.unconverted} formula(s) not converted to MathML")
        out += [f"{rel}: loads from elsewhere {r}" for r in page.remote]
        for src in page.images:
            if not src.startswith("data:") and not re.match(r"(?i)(https?:)?//", src) and \
                    not (f.parent / src.split("#")[0].split("?")[0]).is_file():
                out.append(f"{rel}: picture {src} is not a file of the site")
        if rel in figure_pages and len(page.images) < figure_pages[rel]:
            out.append(f"{rel}: {len(page.images)} picture(s), expected at least {figure_pages[rel]}")
    for f in sorted(site.rglob("*.css")):
        for m in REMOTE_CSS.finditer(f.read_text(errors="ignore")):
            out.append(f"{f.relative_to(site).as_posix()}: loads from elsewhere {m.group(0)}")
    missing = [p for p in figure_pages if not (site / p).is_file()]
    out += [f"{p}: page not built" for p in missing]
    return out


def build(config: Path, dest: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1", "OMP_NUM_THREADS": "1", "NUMBA_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--quiet", "-f", str(config),
                           "-d", str(dest)], cwd=config.parent, env=env, capture_output=True, text=True,
                          timeout=600)


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    dest = tmp_path_factory.mktemp("site")
    run = build(ROOT / "mkdocs.yml", dest)
    assert run.returncode == 0, f"mkdocs build --strict failed:\n{run.stderr[-4000:]}"
    return dest


def test_the_site_reads_offline_with_its_maths_and_figures(site):
    assert problems(site, FIGURE_PAGES) == []


def test_the_checks_see_maths_and_figures(site):
    """The checks look at the right things: formulas are there as MathML, pictures are there as files."""
    text = (site / "derivations" / "curated-step" / "index.html").read_text()
    assert text.count("<math ") >= 10 and 'display="block"' in text
    assert FIGURE_PAGES["figures/index.html"] > 0


def test_the_figures_page_shows_every_figure(site):
    """Every figure of the snapshot is on the figures page, and the snapshot has every file the page's table
    names (its first column: `name`, `name`, ...)."""
    page = Page()
    page.feed((site / "figures" / "index.html").read_text())
    shown = {Path(src).name for src in page.images}
    snapshot = {p.name for p in SNAPSHOT.glob("*.png")}
    assert snapshot <= shown, f"not on the figures page: {sorted(snapshot - shown)}"
    table = [line.split("|")[1] for line in (ROOT / "docs" / "figures.md").read_text().splitlines()
             if line.startswith("| `")]
    named = {f"{n}.png" for cell in table for n in re.findall(r"`(\w+)`", cell)}
    assert named and named <= snapshot, f"named in the table, missing from the snapshot: {sorted(named - snapshot)}"


def test_the_figure_snapshot_is_modest():
    """The committed snapshot stays small enough to keep in git (`make docs-figures` optimises it)."""
    total = sum(p.stat().st_size for p in SNAPSHOT.glob("*.png"))
    assert total < 4_000_000, f"docs/assets/figures holds {total / 1e6:.1f} MB"


# ---------------------------------------------------------------- negative controls: a small site that breaks each rule

MINI_PAGE = """# Broken
A docstring left in reST: :func:`simtheory.curated` and

.. math:: p_{t+1} = p_t

A formula: $e^{r}$ and a stray \\\\( x \\\\) delimiter in a code-free sentence; TeX with no delimiters: \\mathcal F.

![a picture that is not there](missing.png)
"""


def _mini_site(tmp_path: Path, page: str, extra_js: list[str] | None = None, hooks: bool = True,
               web_font: bool = False) -> Path:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "index.md").write_text(page)
    lines = ["site_name: mini", "docs_dir: docs", "theme:", "  name: material", *([] if web_font else ["  font: false"]),
             "markdown_extensions:", "  - pymdownx.arithmatex:", "      generic: true", "  - pymdownx.superfences",
             "validation:", "  links:", "    not_found: ignore"]
    if hooks:
        lines += ["hooks:", f"  - {ROOT / 'docs' / 'hooks' / 'maths.py'}"]
    if extra_js:
        lines += ["extra_javascript:", *(f"  - {u}" for u in extra_js)]
    (tmp_path / "mkdocs.yml").write_text("\n".join(lines) + "\n")
    return tmp_path / "mkdocs.yml"


def test_negative_control_a_raw_role_a_cdn_script_and_a_missing_figure_are_caught(tmp_path):
    config = _mini_site(tmp_path, MINI_PAGE, extra_js=["https://cdn.example.org/mathjax/tex-chtml.js"])
    run = build(config, tmp_path / "site")
    assert run.returncode == 0, run.stderr[-3000:]
    found = "\n".join(problems(tmp_path / "site", {"index.html": 1, "absent/index.html": 1}))
    assert "a reST role" in found and ":func:" in found
    assert "a .. math:: directive" in found
    assert "a raw LaTeX delimiter" in found
    assert "loads from elsewhere <script src=https://cdn.example.org/mathjax/tex-chtml.js>" in found
    assert re.search(r"a raw LaTeX command in the text: \.\.\..*TeX with no delimiters: \\mathcal F", found)
    assert "picture missing.png is not a file of the site" in found
    assert "absent/index.html: page not built" in found
    # the formula written with $...$ was converted: only the stray delimiter is reported
    assert "e^{r}" not in found


def test_negative_control_a_page_without_the_maths_hook_shows_raw_latex(tmp_path):
    config = _mini_site(tmp_path, "# Maths\nA formula: $e^{r}$.\n", hooks=False)
    assert build(config, tmp_path / "site").returncode == 0
    found = "\n".join(problems(tmp_path / "site", {}))
    assert "formula(s) not converted to MathML" in found and "a raw LaTeX delimiter" in found


def test_negative_control_a_formula_that_does_not_convert_fails_the_build(tmp_path):
    config = _mini_site(tmp_path, textwrap.dedent("""\
        # Maths
        Fine: $\\mathbb E_p[e^r]$. Not TeX that latex2mathml knows: $\\notacommand x$.
        """))
    run = build(config, tmp_path / "site")
    assert run.returncode != 0
    assert "notacommand" in run.stderr and "did not convert to MathML" in run.stderr


# ---------------------------------------------------------------- the maths hook's rewrites, each beside what it fixes

def _maths_hook():
    pytest.importorskip("latex2mathml")
    spec = importlib.util.spec_from_file_location("docs_maths_hook", ROOT / "docs" / "hooks" / "maths.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_maths_hook_draws_what_mathml_core_ignores():
    hook = _maths_hook()
    from latex2mathml.converter import convert
    # \mathbb E without braces: latex2mathml's mathvariant (ignored by Chromium) becomes the Unicode letter
    assert 'mathvariant="double-struck"' in convert(r"\mathbb E")
    out = hook.to_mathml(r"\mathbb E_p[e^r]", display=False)
    assert "\U0001d53c" in html.unescape(out) and "mathvariant" not in out
    assert 'mathvariant="bold-italic"' in convert(r"\boldsymbol{x}")
    assert "\U0001d499" in html.unescape(hook.to_mathml(r"\boldsymbol{x}", display=False))
    # aligned: latex2mathml leaves its & as text (malformed XML); the hook makes it align*'s table
    aligned = r"\begin{aligned} a &= b,\\ c &= d \end{aligned}"
    with pytest.raises(ValueError, match="malformed"):
        hook.to_mathml(aligned.replace("aligned", "gathered"), display=True)
    assert hook.to_mathml(aligned, display=True).count("<mtr>") == 2
    # \arg is standard LaTeX that latex2mathml does not know
    assert "arg" in hook.to_mathml(r"\arg\max_\theta f", display=False)
    for bad in (r"\notacommand x", r"a \\ b"):
        with pytest.raises(ValueError):
            hook.to_mathml(bad, display=True)


def test_maths_hook_gives_display_formulas_their_own_block():
    hook = _maths_hook()
    page = "the fit is\n\\[\n  x = y\n\\]\nThe next sentence.\n\n```text\n\\[\n\\]\n```\n"
    out = hook.separate_display_blocks(page)
    assert out == "the fit is\n\n\\[\n  x = y\n\\]\n\nThe next sentence.\n\n```text\n\\[\n\\]\n```\n"
    assert hook.separate_display_blocks(out) == out


def test_negative_control_material_default_web_font_is_caught(tmp_path):
    """material's default theme font comes from a font CDN: the project's `font: false` is what keeps it off."""
    config = _mini_site(tmp_path, "# Fonts\nText.\n", web_font=True)
    assert build(config, tmp_path / "site").returncode == 0
    found = "\n".join(problems(tmp_path / "site", {}))
    assert "loads from elsewhere <link href=https://fonts." in found
