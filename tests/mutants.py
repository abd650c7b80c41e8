"""Mutation testing of simtheory/diffusion, simtheory/predict and simtheory/fold.py: does the default suite notice a
broken line?

Each mutant changes one thing in a copy of the checkout (an arithmetic operator, a comparison, a numeric constant,
a unary minus or ``not``, ``and``/``or``), then runs the module's tests and, if they pass, the other tests of the
theory half's diffusion and prediction code (``-x``: the first failure kills it). ``named`` applies the audit's
five hand-written mutants instead. Not collected by pytest (no ``test_`` prefix); run from the checkout:

    OMP_NUM_THREADS=1 .venv/bin/python tests/mutants.py sample 10 0     # 10 random sites per file, seed 0
    OMP_NUM_THREADS=1 .venv/bin/python tests/mutants.py named

One JSON line per mutant, then a summary. A surviving mutant is either a missing test or an equivalent change
(one that cannot alter any result, e.g. a constant added to every component's log-density before normalising).
"""
from __future__ import annotations

import ast
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
D, P = "tests/simtheory/diffusion", "tests/simtheory/test_predict.py"
FILES = {"simtheory/diffusion/denoiser.py": f"{D}/test_diffusion.py",
         "simtheory/diffusion/gaussian.py": f"{D}/test_diffusion.py",
         "simtheory/diffusion/sampler.py": f"{D}/test_diffusion.py",
         "simtheory/diffusion/sims.py": f"{D}/test_sims.py",
         "simtheory/diffusion/shifting.py": f"{D}/test_sims.py",
         "simtheory/diffusion/systematic.py": f"{D}/test_systematic.py",
         "simtheory/diffusion/chi2.py": f"{D}/test_systematic.py",
         "simtheory/diffusion/experiments.py": f"{D}/test_sims.py",
         "simtheory/fold.py": "tests/simtheory/test_fold.py",
         **{f"simtheory/predict/{m}.py": P for m in ("derivative", "values", "intervals", "multistep", "onestep",
                                                     "checks")}}
SUITE = [f"{D}/test_diffusion.py", f"{D}/test_sims.py", f"{D}/test_systematic.py", "tests/cross_half/test_samplers.py",
         P, "tests/simtheory/test_fold.py"]
NAMED = {   # the audit's mutants: (file, original text, mutated text)
    "critical_w log inverted": ("simtheory/diffusion/sims.py", "        return float(base / aux)",
                                "        return float(aux / base)"),
    "fresh uses the previous block": ("simtheory/fold.py", 'return int(t) if scheme == "fresh" else 0',
                                      'return int(t) - 1 if scheme == "fresh" else 0'),
    "fresh as replace (every loop)": ("simtheory/fold.py", 'return int(t) if scheme == "fresh" else 0', "return 0"),
    "gaussian fresh as replace": ("simtheory/diffusion/sims.py", "parts.insert(0, first if mix.real == 0 else real(g))",
                                  "parts.insert(0, first)"),
    "lemma22 SE without (K-1)/K": ("simtheory/predict/onestep.py", "if_bound = frac * ((w - mu) ** 2 - var)",
                                   "if_bound = ((w - mu) ** 2 - var)"),
    "variance_factor_mean ignores the divisor (M)": (
        "simtheory/diffusion/sims.py", "return (M - 1) / _divisor(M, estimator) * math.exp(log_aux)",
        "return (M - 1) / M * math.exp(log_aux)"),
    "variance_factor_mean ignores the divisor (n_s)": (
        "simtheory/diffusion/sims.py", "log_aux = w * math.log(_divisor(n_s, estimator) / 2)",
        "log_aux = w * math.log(n_s / 2)"),
}
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
                                                             "site", "docs", "runs", "out"))


def _pytest(tree: Path, tests: list[str], timeout: float = 600.0) -> tuple[bool, str, float]:
    """(killed, the first failure, seconds); the copy comes first on the path, before the editable install. A run
    past ``timeout`` (a mutant that never ends) counts as killed."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "NUMBA_NUM_THREADS": "1", "PYTHONPATH": str(tree)}
    t = time.time()
    try:
        r = subprocess.run([sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", *tests], cwd=tree,
                           capture_output=True, text=True, env=env, timeout=timeout)
    except subprocess.TimeoutExpired:
        return True, f"TIMEOUT after {timeout:g} s", time.time() - t
    first = next((line for line in r.stdout.splitlines() if line.startswith(("FAILED", "ERROR"))), "")
    return r.returncode != 0, first, time.time() - t


def run_site(tree: Path, file: str, site) -> dict | None:
    path = tree / file
    orig = path.read_text()
    m = Mutator(site)
    new = ast.unparse(ast.fix_missing_locations(m.visit(ast.parse(orig))))
    if not m.done or new == ast.unparse(ast.parse(orig)):
        return None
    path.write_text(new)
    try:
        killed, first, dt = _pytest(tree, [FILES[file]])
        if not killed:
            killed, first, dt2 = _pytest(tree, [t for t in SUITE if t != FILES[file]])
            dt += dt2
    finally:
        path.write_text(orig)
    return {"file": file, "site": list(site), "line": orig.splitlines()[site[1] - 1].strip(), "killed": killed,
            "by": first, "seconds": round(dt, 1)}


def run_named(tree: Path, name: str) -> dict:
    file, old, new = NAMED[name]
    path = tree / file
    orig = path.read_text()
    if orig.count(old) != 1:
        raise ValueError(f"{name}: the original text occurs {orig.count(old)} times in {file}")
    path.write_text(orig.replace(old, new))
    try:
        killed, first, dt = _pytest(tree, SUITE)
    finally:
        path.write_text(orig)
    return {"mutant": name, "killed": killed, "by": first, "seconds": round(dt, 1)}


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in ("sample", "named"):
        print(__doc__)
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        tree = Path(tmp) / "tree"
        _copy(tree)
        if argv[0] == "named":
            rows = [run_named(tree, name) for name in NAMED]
            for r in rows:
                print(json.dumps(r), flush=True)
        else:
            n_per, seed = int(argv[1]), int(argv[2])
            rng, rows = random.Random(seed), []
            for file in FILES:
                all_sites = sites(ast.parse((ROOT / file).read_text()))
                for site in rng.sample(all_sites, min(n_per, len(all_sites))):
                    r = run_site(tree, file, tuple(site))
                    if r is not None:
                        rows.append(r)
                        print(json.dumps(r), flush=True)
        k = sum(r["killed"] for r in rows)
        print(f"tried {len(rows)}, killed {k}, survived {len(rows) - k}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
