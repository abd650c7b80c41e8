"""mkdocs hook: the LaTeX of every page (and of the docstrings mkdocstrings renders into it) becomes MathML at
build time, so the site shows its equations with no script and no network: browsers render MathML natively.

pymdownx.arithmatex (generic mode) wraps each formula as ``<span class="arithmatex">\\(...\\)</span>`` (inline)
or ``<div class="arithmatex">\\[...\\]</div>`` (display); this hook hands the TeX to latex2mathml and puts the
``<math>`` element in its place. A formula that does not convert fails the build: latex2mathml raises, its
output is not well-formed XML, or a TeX command it does not know is left in the output as text (latex2mathml
passes unknown commands through instead of raising). Every failure of the build is listed, with its page.
Before markdown runs, a display formula written inside a paragraph gets the blank lines arithmatex needs.
"""
from __future__ import annotations

import html
import logging
import re
import unicodedata
import xml.etree.ElementTree as ET

from latex2mathml.converter import convert
from mkdocs.exceptions import PluginError

log = logging.getLogger("mkdocs.hooks.maths")

ARITHMATEX = re.compile(r'<(span|div) class="arithmatex">(.*?)</\1>', re.S)
MATHML_NS = "{http://www.w3.org/1998/Math/MathML}"
# standard LaTeX that latex2mathml does not know, rewritten to what it does: \arg, and the aligned environment
# (it leaves aligned's & as text; align* is the same table as an <mtable>)
MACROS = [(re.compile(r"\\arg(?![A-Za-z])"), r"\\operatorname{arg}"),
          (re.compile(r"\\(begin|end)\{aligned\}"), r"\\\1{align*}")]
# ``\mathbb E`` (no braces) comes back as mathvariant="double-struck", which Chromium's MathML Core ignores;
# with braces latex2mathml emits the Unicode letter (U+1D53C) that every browser draws
UNBRACED_FONT = re.compile(r"\\(mathbb|mathcal|mathbf|mathfrak|mathscr|mathsf|mathtt|mathrm|boldsymbol)\s+([A-Za-z0-9])")
# the remaining mathvariant values on single characters, mapped to Unicode's mathematical alphanumerics
VARIANT_NAMES = {"bold": "BOLD", "italic": "ITALIC", "bold-italic": "BOLD ITALIC", "double-struck": "DOUBLE-STRUCK",
                 "script": "SCRIPT", "fraktur": "FRAKTUR", "sans-serif": "SANS-SERIF", "monospace": "MONOSPACE"}
VARIANT_TAG = re.compile(r'<(mi|mn) mathvariant="([a-z-]+)">([^<])</\1>')

DISPLAY_OPEN = {"\\[": "\\]", "$$": "$$"}
FENCE = re.compile(r"^[ \t]*(```|~~~)")

failures: list[str] = []


def separate_display_blocks(markdown: str) -> str:
    """Blank lines around display formulas written on their own lines inside a paragraph (a line ``\\[``, the
    TeX, a line ``\\]``; or the same with ``$$``): arithmatex takes a display formula only as a block of its own,
    and would otherwise leave the TeX in the text. Fenced code is left alone."""
    lines = markdown.split("\n")
    out: list[str] = []
    fence = None
    k = 0
    while k < len(lines):
        line = lines[k]
        m = FENCE.match(line)
        if m and fence is None:
            fence = m.group(1)
        elif m and line.strip().startswith(fence or "\0"):
            fence = None
        closer = DISPLAY_OPEN.get(line.strip()) if fence is None else None
        end = next((j for j in range(k + 1, len(lines)) if lines[j].strip() == closer), None) if closer else None
        if end is None:
            out.append(line)
            k += 1
            continue
        if out and out[-1].strip():
            out.append("")
        out += lines[k:end + 1]
        if end + 1 < len(lines) and lines[end + 1].strip():
            out.append("")
        k = end + 1
    return "\n".join(out)


def _styled_char(variant: str, ch: str) -> str | None:
    """The Unicode mathematical alphanumeric for ``ch`` in ``variant`` (or a Letterlike Symbols hole filler)."""
    name = VARIANT_NAMES.get(variant)
    if name is None or not ch.isascii() or not ch.isalnum():
        return None
    kind = "DIGIT " + unicodedata.name(ch).split()[-1] if ch.isdigit() else \
        ("CAPITAL " if ch.isupper() else "SMALL ") + ch.upper()
    for candidate in (f"MATHEMATICAL {name} {kind}", f"{name} {kind}",
                      f"BLACK-LETTER {kind}" if variant == "fraktur" else ""):
        try:
            return unicodedata.lookup(candidate) if candidate else None
        except KeyError:
            continue
    return None


def _restyle(mathml: str) -> str:
    def sub(m: re.Match) -> str:
        ch = _styled_char(m.group(2), m.group(3))
        return f"<{m.group(1)}>{ch}</{m.group(1)}>" if ch else m.group(0)
    return VARIANT_TAG.sub(sub, mathml)


def to_mathml(tex: str, display: bool) -> str:
    """MathML for one formula; ValueError (naming the TeX and the reason) when it does not convert."""
    src = tex
    for pattern, repl in MACROS:
        src = pattern.sub(repl, src)
    src = UNBRACED_FONT.sub(r"\\\1{\2}", src)
    try:
        out = convert(src, display="block" if display else "inline")
    except Exception as e:  # latex2mathml raises its own exception types and plain ones (IndexError...) alike
        raise ValueError(f"latex2mathml failed ({type(e).__name__}: {e}) on: {tex}") from e
    try:
        root = ET.fromstring(out)
    except ET.ParseError as e:
        raise ValueError(f"latex2mathml gave malformed MathML ({e}) for: {tex}") from e
    left = [t for el in root.iter() for t in (el.text, el.tail) if t and "\\" in t]
    if left:
        raise ValueError(f"unknown TeX command(s) {left} in: {tex}")
    if any(el.get("linebreak") == "newline" for el in root.iter()):
        raise ValueError(f"a line break (\\\\) outside an alignment, which browsers do not draw in MathML: {tex}")
    return _restyle(out)


def convert_page(content: str, where: str) -> tuple[str, list[str]]:
    """``content`` with every arithmatex span/div replaced by MathML, and the failures (each naming ``where``)."""
    errors: list[str] = []

    def sub(m: re.Match) -> str:
        tag, body = m.group(1), html.unescape(m.group(2)).strip()
        display = tag == "div"
        opening, closing = ("\\[", "\\]") if display else ("\\(", "\\)")
        if not (body.startswith(opening) and body.endswith(closing)):
            errors.append(f"{where}: unexpected arithmatex markup {m.group(0)[:200]!r}")
            return m.group(0)
        try:
            mathml = to_mathml(body[2:-2].strip(), display)
        except ValueError as e:
            errors.append(f"{where}: {e}")
            return m.group(0)
        return f'<{tag} class="arithmatex">{mathml}</{tag}>'

    return ARITHMATEX.sub(sub, content), errors


def on_pre_build(config) -> None:
    failures.clear()                      # `mkdocs serve` rebuilds in one process


def on_page_markdown(markdown: str, page, config, files) -> str:
    return separate_display_blocks(markdown)


def on_page_content(html_text: str, page, config, files) -> str:
    out, errors = convert_page(html_text, page.file.src_uri)
    for e in errors:
        log.error(e)
    failures.extend(errors)
    return out


def on_post_build(config) -> None:
    if failures:
        raise PluginError(f"{len(failures)} formula(s) did not convert to MathML (listed above)")
