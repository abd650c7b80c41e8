"""What a user can do wrong or differently, met with one line and exit status 2 (or 130 on Ctrl-C): a Python
without torch, thread counts, run folders written by two processes at once, sizes that cannot fit, unwritable
output folders, and empty data files."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _env(**kw) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("CURATED_THREADS", "MPLBACKEND")}
    env.update({"PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}, **kw)
    return env


def _run(code: str, *args: str, timeout: float = 300, **env) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, cwd=ROOT,
                          env=_env(**env), timeout=timeout)


# ------------------------------------------------------------------------------------------- without torch
NO_TORCH = """
import sys
class NoTorch:                       # as if torch were not installed: every import of torch or torch.* fails
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] == "torch":
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
sys.meta_path.insert(0, NoTorch())
from empirical.cli import main
sys.exit(main(sys.argv[1:]))
"""


def test_empirical_without_torch_helps_and_says_how_to_install_it(tmp_path):
    v = _run(NO_TORCH, "--version")
    assert v.returncode == 0 and v.stdout.startswith("empirical "), v.stderr
    h = _run(NO_TORCH, "--help")
    assert h.returncode == 0 and h.stderr == "", h.stderr
    for cmd in ("loop", "train", "points", "points-ladder", "points-sims", "sims", "sample"):
        assert cmd in h.stdout
    for args in (["loop", "--config", "tiny", "--out", str(tmp_path / "l")], ["points", "--out", str(tmp_path / "p")],
                 ["points-ladder", "--help"], ["sims-sweep", "--base", "x", "--out", str(tmp_path / "s")]):
        r = _run(NO_TORCH, *args)
        assert r.returncode == 2, (args, r.stderr)
        lines = r.stderr.strip().splitlines()
        assert len(lines) == 1 and "needs torch" in lines[0] and "pip install" in lines[0], (args, r.stderr)
    assert not list(tmp_path.iterdir())                      # nothing was written
    # commands that need no torch still work without it
    d = _run(NO_TORCH, "compare", "results/cpu-airplane-K4-lam1", "--dry-run")
    assert d.returncode == 0, d.stderr
    # control: the wrapper itself is what makes torch missing (with torch installed the same command gets further)
    import importlib.util
    if importlib.util.find_spec("torch") is not None:
        r = _run("import sys\nfrom empirical.cli import main\nsys.exit(main(sys.argv[1:]))", "points-ladder", "--help")
        assert r.returncode == 0 and "--out" in r.stdout, r.stderr


# ------------------------------------------------------------------------------------------------- threads
THREADS = """
import sys, numba
from {module} import main
rc = main(sys.argv[1:])
print("numba_threads", numba.get_num_threads(), rc)
"""


@pytest.mark.parametrize("env, args, want", [({}, [], 1), ({"CURATED_THREADS": "2"}, [], 2),
                                             ({"CURATED_THREADS": "2"}, ["--threads", "1"], 1),
                                             ({}, ["--threads", "2"], 2)])
def test_simtheory_threads_default_option_and_variable(tmp_path, env, args, want):
    """A pool of 2 Numba threads (NUMBA_NUM_THREADS=2): the command uses 1 unless --threads or $CURATED_THREADS
    asks for more (control: the pool's own default would be 2)."""
    r = _run(THREADS.format(module="simtheory.cli"), "exact", "--scenario", "four_atoms", "--steps", "2",
             "--out", str(tmp_path / "r"), *args, NUMBA_NUM_THREADS="2", **env)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split()[-3:] == ["numba_threads", str(want), "0"], r.stdout
    control = _run("import numba; print(numba.get_num_threads())", NUMBA_NUM_THREADS="2")
    assert control.stdout.split() == ["2"]


@pytest.mark.parametrize("module, args, out", [("simtheory.cli", ["exact", "--steps", "1"], "o"),
                                               ("figures.__main__", ["--only", "fig_bertrand", "--quick"], "o"),
                                               ("paper_checks.__main__", ["--only", "c06_bertrand", "--quick"], "o.md")])
def test_bad_thread_counts_are_one_line_errors(tmp_path, module, args, out):
    for env, extra, name in (({"CURATED_THREADS": "two"}, [], "CURATED_THREADS"), ({}, ["--threads", "0"], "--threads"),
                             ({}, ["--threads", "3"], "NUMBA_NUM_THREADS")):
        r = _run(THREADS.format(module=module), *args, "--out", str(tmp_path / out), *extra,
                 NUMBA_NUM_THREADS="2", **env)
        assert r.returncode == 0 and r.stdout.split()[-1] == "2", r.stderr      # main returned 2
        lines = r.stderr.strip().splitlines()
        assert len(lines) == 1 and name in lines[0], r.stderr
    assert not list(tmp_path.iterdir())


def test_library_calls_leave_numba_threads_alone():
    code = ("import numba, numpy as np, simtheory\nfrom simtheory.families import gmm\n"
            "simtheory.curated(np.full(5, 0.2), np.arange(5.0), 3)\n"
            "simtheory.retrain(np.full(5, 0.2), np.arange(5.0), 4, 3)\n"
            "print(numba.get_num_threads())")
    assert _run(code, NUMBA_NUM_THREADS="2").stdout.split() == ["2"]


def test_sweep_workers_get_the_thread_count(tmp_path):
    """A local cluster's worker processes start with --threads Numba/BLAS threads each (not the machine's count)."""
    from simtheory.runs.sweep import run_sweep

    class Spec:                       # a sweep spec whose jobs report their worker's environment
        columns = ["job", "numba", "omp"]
        code_packages = ("simtheory",)

        def to_dict(self):
            return {"kind": "env-probe"}

        def jobs(self):
            return [{"job": 0}, {"job": 1}]

        def run_job(self, job):
            import os
            return [{**job, "numba": os.environ.get("NUMBA_NUM_THREADS"), "omp": os.environ.get("OMP_NUM_THREADS")}]

    rows = run_sweep(Spec(), tmp_path / "s", workers=1, progress=False, threads=1).read_text().splitlines()
    assert rows == ["job,numba,omp", "0,1,1", "1,1,1"]
    with pytest.raises(ValueError, match="threads"):
        run_sweep(Spec(), tmp_path / "t", progress=False, threads=0)
    assert not (tmp_path / "t").exists()
