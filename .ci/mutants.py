"""Mutation testing: does the default suite notice a broken line? Run from the checkout (``make mutants``):

    OMP_NUM_THREADS=1 .venv/bin/python .ci/mutants.py named                    # the named mutants of mutants.toml
    OMP_NUM_THREADS=1 .venv/bin/python .ci/mutants.py sample 12 0              # 12 random sites per package, seed 0
    OMP_NUM_THREADS=1 .venv/bin/python .ci/mutants.py sample 12 0 empirical    # ... of one package only
    OMP_NUM_THREADS=1 .venv/bin/python .ci/mutants.py sample 12 0 --budget=1500    # stop drawing after 1500 s
    OMP_NUM_THREADS=1 .venv/bin/python .ci/mutants.py rerun OLD.jsonl          # the mutants of an earlier run again
    OMP_NUM_THREADS=1 .venv/bin/python .ci/mutants.py sites                    # how many sites each file has

``sample`` and ``rerun`` first run each package's suite on the unmutated copy (the baseline) and stop if it fails:
a test that fails without a mutant would count every mutant as killed. ``--no-baseline`` skips it.

Each random mutant changes one thing in a copy of the checkout (an arithmetic operator, a comparison, a numeric
constant, a unary minus or ``not``, ``and``/``or``), then runs its file's tests and, if they pass, the rest of its
package's suite (``-x``: the first failure kills it). The files, their tests, the suites and the named (hand-written)
mutants are data, in ``mutants.toml`` beside this file. Sites are drawn uniformly over every site of a package's
files, so a package's kill rate estimates the share of its mutable sites that the suite guards.

One JSON line per mutant, then a kill rate per package. A surviving mutant is either a missing test or an
equivalent change (one that cannot alter any result, e.g. a constant added to every component's log-density before
normalising). docs/testing.md reports the latest sample.
"""
from __future__ import annotations

import ast
import json
import math
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

try:
    import tomllib
except ModuleNotFoundError:          # Python 3.10: its backport (pip install tomli)
    import tomli as tomllib

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DATA = HERE / "mutants.toml"


def load(path: Path = DATA) -> dict:
    """The tester's data: {"packages": {name: {"suite": [...], "files": {file: [tests]}}}, "named": [...]}, with
    every named file and test checked to exist."""
    data = tomllib.loads(path.read_text())
    for name, pkg in data["packages"].items():
        for f, tests in pkg["files"].items():
            if not f.startswith(name + "/"):
                raise ValueError(f"{f} is listed under package {name}")
            for q in [f, *tests]:
                if not (ROOT / q).exists():
                    raise ValueError(f"{path.name}: {q} does not exist")
        for q in pkg["suite"]:
            if not (ROOT / q).exists():
                raise ValueError(f"{path.name}: {q} does not exist")
    for m in data.get("named", []):
        if set(m) != {"name", "file", "old", "new"}:
            raise ValueError(f"{path.name}: named mutant {m.get('name')!r} needs name, file, old and new")
    return data


def package_of(data: dict, file: str) -> str:
    return next(name for name, pkg in data["packages"].items() if file in pkg["files"] or file.startswith(name + "/"))


BINOP = {ast.Add: ast.Sub, ast.Sub: ast.Add, ast.Mult: ast.Div, ast.Div: ast.Mult, ast.Pow: ast.Mult,
         ast.FloorDiv: ast.Div}
CMP = {ast.Lt: ast.LtE, ast.LtE: ast.Lt, ast.Gt: ast.GtE, ast.GtE: ast.Gt, ast.Eq: ast.NotEq, ast.NotEq: ast.Eq,
       ast.Is: ast.IsNot, ast.IsNot: ast.Is, ast.In: ast.NotIn, ast.NotIn: ast.In}


def _inert(parents: list) -> bool:
    """Docstrings, f-strings, raise statements and annotations: text and messages, not behaviour."""
    return any(isinstance(p, (ast.JoinedStr, ast.Raise, ast.arg, ast.AnnAssign))
               or (isinstance(p, ast.Expr) and isinstance(p.value, ast.Constant)) for p in parents)


def sites(tree: ast.AST) -> list[tuple[str, int, int]]:
    """Every mutable site as (kind, line, column)."""
    out, stack = set(), [(tree, [])]
    while stack:
        node, parents = stack.pop()
        if not _inert(parents + [node]):
            if isinstance(node, ast.BinOp) and type(node.op) in BINOP:
                out.add(("binop", node.lineno, node.col_offset))
            elif isinstance(node, ast.Compare) and type(node.ops[0]) in CMP:
                out.add(("cmp", node.lineno, node.col_offset))
            elif isinstance(node, ast.Constant) and type(node.value) in (int, float):
                out.add(("const", node.lineno, node.col_offset))
            elif isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.Not)):
                out.add(("unary", node.lineno, node.col_offset))
            elif isinstance(node, ast.BoolOp):
                out.add(("boolop", node.lineno, node.col_offset))
        stack.extend((c, parents + [node]) for c in ast.iter_child_nodes(node))
    return sorted(out, key=lambda s: (s[1], s[2], s[0]))


class Mutator(ast.NodeTransformer):
    """Changes the one node at ``site``: swaps an operator, bumps a constant (int + 1, float x 1.5, 0.0 -> 1.0),
    drops a unary operator."""

    def __init__(self, site):
        self.site, self.done = site, False

    def _hit(self, node, kind) -> bool:
        # nested nodes can start at one column (``a @ b + c``): only a node of a mutable kind matches
        mutable = {"binop": lambda: type(node.op) in BINOP, "cmp": lambda: type(node.ops[0]) in CMP,
                   "unary": lambda: isinstance(node.op, (ast.USub, ast.Not))}.get(kind, lambda: True)
        return (not self.done and kind == self.site[0] and (node.lineno, node.col_offset) == self.site[1:]
                and mutable())

    def visit_BinOp(self, node):
        if self._hit(node, "binop"):
            node.op, self.done = BINOP[type(node.op)](), True
        return self.generic_visit(node)

    def visit_Compare(self, node):
        if self._hit(node, "cmp"):
            node.ops[0], self.done = CMP[type(node.ops[0])](), True
        return self.generic_visit(node)

    def visit_Constant(self, node):
        if self._hit(node, "const"):
            v = node.value
            node.value, self.done = (v + 1) if isinstance(v, int) else (v * 1.5 if v != 0 else 1.0), True
        return node

    def visit_UnaryOp(self, node):
        if self._hit(node, "unary"):
            self.done = True
            return node.operand
        return self.generic_visit(node)

    def visit_BoolOp(self, node):
        if self._hit(node, "boolop"):
            node.op, self.done = ast.Or() if isinstance(node.op, ast.And) else ast.And(), True
        return self.generic_visit(node)


def _copy(dst: Path) -> None:
    shutil.copytree(ROOT, dst, ignore=shutil.ignore_patterns(".venv", ".git", "results", "__pycache__", ".hypothesis",
                                                             "site", "docs", "runs", "out", "*.egg-info"))


def _pytest(tree: Path, tests: list[str], timeout: float = 600.0) -> tuple[bool, str, float]:
    """(killed, the first failure, seconds); the copy comes first on the path, before the editable install. A run
    past ``timeout`` (a mutant that never ends) counts as killed."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "NUMBA_NUM_THREADS": "1",
           "PYTHONPATH": str(tree)}
    t = time.time()
    try:
        r = subprocess.run([sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", *tests], cwd=tree,
                           capture_output=True, text=True, env=env, timeout=timeout)
    except subprocess.TimeoutExpired:
        return True, f"TIMEOUT after {timeout:g} s", time.time() - t
    first = next((line for line in r.stdout.splitlines() if line.startswith(("FAILED", "ERROR"))), "")
    if r.returncode not in (0, 1):          # 1: tests failed; else a collection or usage error, not a kill
        first = first or f"pytest exit status {r.returncode}: " + (r.stdout + r.stderr).strip().splitlines()[-1]
    return r.returncode != 0, first, time.time() - t


def run_site(data: dict, tree: Path, file: str, site) -> dict | None:
    """One random mutant: its file's tests, then (if it survives them) the rest of its package's suite."""
    path = tree / file
    orig = path.read_text()
    m = Mutator(site)
    new = ast.unparse(ast.fix_missing_locations(m.visit(ast.parse(orig))))
    if not m.done or new == ast.unparse(ast.parse(orig)):
        return None
    pkg = data["packages"][package_of(data, file)]
    path.write_text(new)
    try:
        killed, first, dt = _pytest(tree, pkg["files"][file])
        if not killed:
            rest = [t for t in pkg["suite"] if t not in pkg["files"][file]]
            if rest:
                killed, first, dt2 = _pytest(tree, rest)
                dt += dt2
    finally:
        path.write_text(orig)
    return {"package": package_of(data, file), "file": file, "site": list(site),
            "line": orig.splitlines()[site[1] - 1].strip(), "killed": killed, "by": first, "seconds": round(dt, 1)}


def run_named(data: dict, tree: Path, m: dict) -> dict:
    """One named mutant against its package's suite; "stale" (not run) when its original text is not there once."""
    path = tree / m["file"]
    orig = path.read_text()
    row = {"package": package_of(data, m["file"]), "mutant": m["name"]}
    if orig.count(m["old"]) != 1:
        return {**row, "killed": None, "stale": f"the original text occurs {orig.count(m['old'])} times in "
                                                 f"{m['file']}"}
    path.write_text(orig.replace(m["old"], m["new"]))
    try:
        killed, first, dt = _pytest(tree, data["packages"][row["package"]]["suite"])
    finally:
        path.write_text(orig)
    return {**row, "killed": killed, "by": first, "seconds": round(dt, 1)}


def baseline(data: dict, tree: Path, packages) -> list[dict]:
    """Each package's suite on the unmutated copy: rows with ``passed`` (a failing baseline voids the kills)."""
    rows = []
    for name in packages:
        failed, first, dt = _pytest(tree, data["packages"][name]["suite"])
        rows.append({"package": name, "baseline": "passed" if not failed else "FAILED", "by": first,
                     "seconds": round(dt, 1)})
    return rows


def draw(data: dict, n: int, seed: int, packages) -> list[tuple[str, tuple]]:
    """``n`` sites per package, uniformly over every site of its files, by ``random.Random(seed)``; the packages'
    draws interleaved (one of each in turn), so that a run cut short by its time budget has tried every package
    about equally."""
    rng, per = random.Random(seed), []
    for name in packages:
        every = [(f, tuple(s)) for f in data["packages"][name]["files"]
                 for s in sites(ast.parse((ROOT / f).read_text()))]
        per.append(rng.sample(every, min(n, len(every))))
    return [d[i] for i in range(max(map(len, per), default=0)) for d in per if i < len(d)]


def relocate(row: dict) -> tuple[str, tuple] | None:
    """An earlier run's mutant in today's file: the site of its kind and column on the line of its recorded text
    (lines above it may have come or gone); None, with a note, when that line is not there exactly once."""
    kind, line, col = row["site"]
    lines = (ROOT / row["file"]).read_text().splitlines()
    found = [s for s in sites(ast.parse("\n".join(lines))) if s[0] == kind and s[2] == col
             and lines[s[1] - 1].strip() == row["line"]]
    if len(found) != 1:
        print(f"not rerun: {row['file']} {row['site']} ({row['line'][:60]}...) is not in the file as it was")
        return None
    return row["file"], found[0]


def summary(rows: list[dict]) -> list[str]:
    """One line per package: tried, killed, survived and the kill rate (stale named mutants apart)."""
    out = []
    for name in dict.fromkeys(r["package"] for r in rows):
        rs = [r for r in rows if r["package"] == name and r["killed"] is not None]
        k, stale = sum(r["killed"] for r in rs), sum(r["killed"] is None for r in rows if r["package"] == name)
        rate = f"{100 * k / len(rs):.0f}%" if rs else "-"
        out.append(f"{name}: tried {len(rs)}, killed {k}, survived {len(rs) - k} (kill rate {rate})"
                   + (f"; {stale} stale" if stale else ""))
    return out


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in ("sample", "named", "sites", "rerun"):
        print(__doc__)
        return 2
    data = load()
    if argv[0] == "sites":
        for name, pkg in data["packages"].items():
            for f in pkg["files"]:
                print(f"{name:10s} {len(sites(ast.parse((ROOT / f).read_text()))):5d}  {f}")
        return 0
    t0 = time.time()
    with tempfile.TemporaryDirectory() as tmp:
        tree = Path(tmp) / "tree"
        _copy(tree)
        rows = []
        options = [a for a in argv[1:] if a.startswith("--")]
        if argv[0] == "rerun":
            old = [json.loads(line) for line in Path(argv[1]).read_text().splitlines() if line.startswith("{")]
            drawn = [d for d in (relocate(r) for r in old if "site" in r) if d is not None]
            packages = list(dict.fromkeys(package_of(data, f) for f, _ in drawn))
        elif argv[0] == "sample":
            packages = [a for a in argv[3:] if not a.startswith("--")] or list(data["packages"])
            unknown = set(packages) - set(data["packages"])
            if unknown:
                raise SystemExit(f"unknown package(s) {sorted(unknown)}; {DATA.name} lists {sorted(data['packages'])}")
            drawn = draw(data, int(argv[1]), int(argv[2]), packages)
        if argv[0] in ("sample", "rerun") and "--no-baseline" not in options:
            for b in baseline(data, tree, packages):
                print(json.dumps(b), flush=True)
                if b["baseline"] != "passed":
                    print(f"the unmutated {b['package']} suite fails ({b['by']}): fix it before judging mutants")
                    return 1
        if argv[0] == "named":
            for m in data.get("named", []):
                rows.append(run_named(data, tree, m))
                print(json.dumps(rows[-1]), flush=True)
        else:
            budget = next((float(a.split("=", 1)[1]) for a in options if a.startswith("--budget=")), math.inf)
            for i, (file, site) in enumerate(drawn):
                if time.time() - t0 > budget:
                    print(f"time budget of {budget:g} s spent: stopped after {i} of {len(drawn)} drawn sites")
                    break
                r = run_site(data, tree, file, site)
                if r is not None:
                    rows.append(r)
                    print(json.dumps(r), flush=True)
        for line in summary(rows):
            print(line)
        print(f"wall time {time.time() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
