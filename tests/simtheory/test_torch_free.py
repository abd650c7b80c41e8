"""The contract that keeps the theory half installable without torch: simtheory never imports torch (nor the
torch half, empirical), at import time or inside a function. Checked twice: every simtheory module imported in a
fresh interpreter leaves torch out of sys.modules, and no import statement anywhere in simtheory's sources names
torch or empirical; each check beside a negative control that shows it fails when the contract is broken."""
from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FORBIDDEN = ("torch", "empirical")

IMPORT_ALL = """
import importlib, json, pkgutil, sys
import simtheory
names = sorted(m.name for m in pkgutil.walk_packages(simtheory.__path__, "simtheory.")
               if not m.name.endswith(".__main__"))      # __main__ runs the command line
for name in names + sys.argv[1:]:
    importlib.import_module(name)
print(json.dumps({"modules": names, "loaded": sorted({m.split(".")[0] for m in sys.modules})}))
"""


def _import_all(*extra: str) -> dict:
    run = subprocess.run([sys.executable, "-c", IMPORT_ALL, *extra], cwd=ROOT, capture_output=True, text=True,
                         timeout=600)
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout.splitlines()[-1])


def test_importing_every_simtheory_module_loads_no_torch():
    got = _import_all()
    assert len(got["modules"]) > 30 and "simtheory.fold" in got["modules"] and "simtheory.predict.multistep" in \
        got["modules"]
    assert not set(FORBIDDEN) & set(got["loaded"]), got["loaded"]


def test_importing_a_torch_module_is_seen():
    """Negative control: the same interpreter check, with one module of the torch half imported too."""
    got = _import_all("empirical.train")
    assert set(FORBIDDEN) <= set(got["loaded"])


def forbidden_imports(source: str) -> list[str]:
    """Every import statement of ``source`` (at any depth: module level, functions, conditionals) whose top-level
    package is in FORBIDDEN, as 'line: name'."""
    out = []
    for node in ast.walk(ast.parse(source)):
        names = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        out += [f"{node.lineno}: {n}" for n in names if n.split(".")[0] in FORBIDDEN]
    return out


def test_no_simtheory_source_imports_torch_or_empirical():
    files = sorted((ROOT / "simtheory").rglob("*.py"))
    assert len(files) > 30
    bad = {str(f.relative_to(ROOT)): v for f in files if (v := forbidden_imports(f.read_text()))}
    assert not bad, bad


def test_the_source_scan_sees_a_nested_import():
    """Negative control: an import inside a function, a conditional import and a from-import are all found."""
    src = "import numpy\ndef f():\n    import torch.nn\nif x:\n    from empirical.edm import generate\n"
    assert forbidden_imports(src) == ["3: torch.nn", "5: empirical.edm"]
    assert forbidden_imports("from . import torch_like\nimport numpy as torch\n") == []
