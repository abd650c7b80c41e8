"""What a user installs: the wheel holds simtheory and empirical only, with the console commands, the licence
and the metadata; the citation file names the project and the two papers."""
from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> zipfile.ZipFile:
    out = tmp_path_factory.mktemp("wheel")
    run = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w",
                          str(out), str(ROOT)], capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-2000:]
    (whl,) = out.glob("*.whl")
    return zipfile.ZipFile(whl)


def test_wheel_installs_simtheory_and_empirical_only(wheel):
    top = {n.split("/")[0] for n in wheel.namelist() if not n.split("/")[0].endswith((".dist-info", ".data"))}
    assert top == {"simtheory", "empirical"}, top


def test_wheel_metadata_entry_points_and_licence(wheel):
    names = wheel.namelist()
    meta = wheel.read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode()
    for field in ("License-Expression: MIT", "Author:", "Project-URL:", "Classifier:", "Requires-Python:"):
        assert field in meta, field
    eps = wheel.read(next(n for n in names if n.endswith(".dist-info/entry_points.txt"))).decode()
    assert "simtheory = simtheory.cli:main" in eps and "empirical = empirical.cli:main" in eps
    assert any(n.endswith("licenses/LICENSE") for n in names)


def test_citation_file_names_the_project_and_both_papers():
    yaml = pytest.importorskip("yaml")
    cff = yaml.safe_load((ROOT / "CITATION.cff").read_text())
    assert cff["cff-version"] == "1.2.0" and cff["type"] == "software" and cff["license"] == "MIT"
    titles = " ".join(r["title"] for r in cff["references"])
    assert "Curated Data Provably Optimize Human Preferences" in titles
    assert "Self-Improving Diffusion Models with Synthetic Data" in titles
    assert "MIT License" in (ROOT / "LICENSE").read_text()


def test_library_code_leaves_matplotlib_global_state_alone():
    """simtheory and empirical draw through matplotlib's object API: no backend switch, no pyplot, no rcParams
    (the figure scripts in figures/ set their own, in their own process)."""
    bad = []
    for pkg in ("simtheory", "empirical"):
        for f in sorted((ROOT / pkg).rglob("*.py")):
            code = "\n".join(line.split("#")[0] for line in f.read_text().splitlines())
            for pat in ("matplotlib.use(", "import matplotlib.pyplot", "from matplotlib import pyplot", "rcParams"):
                if pat in code:
                    bad.append(f"{f.relative_to(ROOT)}: {pat}")
    assert not bad, bad
