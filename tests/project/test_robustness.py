"""What a user can do wrong or differently, met with one line and exit status 2 (or 130 on Ctrl-C): a Python
without torch, thread counts, run folders written by two processes at once, sizes that cannot fit, unwritable
output folders, and empty data files."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


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


# ---------------------------------------------------------------------------------------- one writer a folder
HOLD = """
import sys
from simtheory.runs import RunFolder
rf = RunFolder.hold(sys.argv[1])
print("held", flush=True)
sys.stdin.read()                 # until the test closes stdin (or kills this process)
"""


def _free_for_another_process(folder: Path) -> bool:
    code = ("import sys\nfrom simtheory.runs import FolderInUse, RunFolder\ntry:\n    RunFolder.hold(sys.argv[1])\n"
            "except FolderInUse:\n    sys.exit(3)")
    rc = subprocess.run([sys.executable, "-c", code, str(folder)], cwd=ROOT, env=_env(), timeout=120).returncode
    assert rc in (0, 3)
    return rc == 0


class Holder:
    """Another process holding a run folder until it is closed (or killed)."""

    def __init__(self, folder: Path):
        self.p = subprocess.Popen([sys.executable, "-c", HOLD, str(folder)], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, text=True, cwd=ROOT, env=_env())
        assert self.p.stdout.readline().strip() == "held"

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.p.stdin.close()
        self.p.wait(timeout=60)


def test_a_folder_has_one_writing_process(tmp_path):
    from simtheory.runs import ConfigMismatch, FolderInUse, RunFolder
    folder = tmp_path / "run"
    with Holder(folder) as h:
        with pytest.raises(FolderInUse, match=rf"in use by another run \(pid {h.p.pid} on .*, started "):
            RunFolder.open(folder, {"a": 1})
        assert not (folder / "config.json").exists()                 # refused before anything is written
    a = RunFolder.open(folder, {"a": 1})                             # free once the holder has ended
    assert a.held and (folder / ".lock").exists()
    b = RunFolder.open(folder, {"a": 1})                             # re-entrant within one process
    b.close()
    assert not _free_for_another_process(folder)                     # still held by a
    a.close()
    a.close()                                                        # idempotent
    assert not a.held and not (folder / ".lock").exists() and a.config == {"a": 1}      # it still reads
    assert _free_for_another_process(folder)
    with pytest.raises(ConfigMismatch):
        RunFolder.open(folder, {"a": 2})
    assert _free_for_another_process(folder)                         # a refused open released the folder
    with RunFolder.open(folder, {"a": 1}) as c:                      # a with block releases at its end
        assert c.held and not _free_for_another_process(folder)
    assert not c.held and _free_for_another_process(folder)
    RunFolder.open(folder, {"a": 1})                                 # dropped without close: released when collected
    assert _free_for_another_process(folder)


def test_a_killed_holder_leaves_no_stale_lock(tmp_path):
    from simtheory.runs import RunFolder
    folder = tmp_path / "run"
    h = Holder(folder)
    h.p.kill()
    h.p.wait(timeout=60)
    assert (folder / ".lock").exists()                               # the file stays, the lock does not
    RunFolder.open(folder, {"a": 1}).close()


def test_a_waiting_open_gets_the_folder_when_the_holder_ends(tmp_path):
    import threading
    import time

    from simtheory.runs import RunFolder
    folder = tmp_path / "run"
    h = Holder(folder)
    got = []
    t = threading.Thread(target=lambda: got.append(RunFolder.open(folder, {"a": 1}, wait=True)))
    t.start()
    time.sleep(0.5)
    assert not got                                                   # still waiting
    h.__exit__()
    t.join(timeout=60)
    assert got and got[0].held
    got[0].close()


def _one_line(r: subprocess.CompletedProcess) -> str:
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    return lines[0]


@pytest.mark.parametrize("args", [["exact", "--scenario", "four_atoms", "--steps", "3"],
                                  ["loop", "--generations", "2"],
                                  ["sweep", "--serial", "--generations", "1", "--replicates", "1"]],
                         ids=["exact", "loop", "sweep"])
def test_every_simtheory_run_kind_refuses_a_folder_in_use(tmp_path, args):
    folder = tmp_path / "run"
    with Holder(folder) as h:
        r = subprocess.run([sys.executable, "-m", "simtheory", *args, "--out", str(folder)], capture_output=True,
                           text=True, cwd=ROOT, env=_env(), timeout=300)
        assert r.returncode == 2 and f"in use by another run (pid {h.p.pid} on " in _one_line(r)
        assert [p.name for p in folder.iterdir()] == [".lock"]      # nothing written
    r = subprocess.run([sys.executable, "-m", "simtheory", *args, "--out", str(folder)], capture_output=True,
                       text=True, cwd=ROOT, env=_env(), timeout=300)
    assert r.returncode == 0, r.stderr                               # control: free, the same command runs
    assert not (folder / ".lock").exists()


@pytest.mark.parametrize("args", [["points", "--config", "tiny", "--generations", "1"],
                                  ["points-ladder", "--ladder", "tiny", "--serial"],
                                  ["mixture-ladder", "--ladder", "tiny", "--serial"]],
                         ids=["points", "points-ladder", "mixture-ladder"])
def test_empirical_point_runs_refuse_a_folder_in_use(tmp_path, args, capsys):
    pytest.importorskip("torch")
    from empirical.cli import main
    folder = tmp_path / "run"
    with Holder(folder) as h:
        assert main([*args, "--out", str(folder)]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and f"in use by another run (pid {h.p.pid} on " in err[0], err
        assert [p.name for p in folder.iterdir()] == [".lock"]


SLOW = """
import sys, time
import {module} as m
real = m.{name}
def slow(*a, **k):                # a slow step, so that the test can act while the run is under way
    time.sleep(0.15)
    return real(*a, **k)
m.{name} = slow
from simtheory.cli import main
sys.exit(main(sys.argv[1:]))
"""


@pytest.mark.parametrize("kind, args, module, name, key", [
    ("exact", ["exact", "--scenario", "mixture1d", "--grid-size", "61", "--steps", "40"], "simtheory.runs.exact",
     "step", "step"),
    ("loop", ["loop", "--dataset", "gauss2d", "--generations", "25"], "simtheory.loops", "step", "generation")],
    ids=["exact", "loop"])
def test_concurrent_run_refused_then_kill_and_resume(tmp_path, kind, args, module, name, key):
    """A slowed run (A) is under way; the same command (B) exits 2 naming A and writes nothing; A is killed with
    SIGKILL mid-run; the folder holds whole lines only, and the rerun resumes and ends with the metrics of a run
    that was never interrupted."""
    import time

    from simtheory.cli import main as simtheory_main
    from simtheory.runs import read_metrics
    folder = tmp_path / "run"
    a = subprocess.Popen([sys.executable, "-c", SLOW.format(module=module, name=name), *args, "--out", str(folder)],
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, cwd=ROOT, env=_env())
    try:
        deadline = time.monotonic() + 120
        while len(read_metrics(folder)) < 3:
            assert a.poll() is None, a.stderr.read()
            assert time.monotonic() < deadline
            time.sleep(0.05)
        b = subprocess.run([sys.executable, "-m", "simtheory", *args, "--out", str(folder)], capture_output=True,
                           text=True, cwd=ROOT, env=_env(), timeout=300)
        assert b.returncode == 2 and f"(pid {a.pid} on " in _one_line(b)
        assert a.poll() is None                                      # A was still running when B was refused
    finally:
        a.kill()
        a.wait(timeout=60)
    cut = read_metrics(folder)
    assert 3 <= len(cut) < int(args[-1]) + 1
    assert [r[key] for r in cut] == list(range(len(cut)))            # whole lines, one writer
    c = subprocess.run([sys.executable, "-m", "simtheory", *args, "--out", str(folder)], capture_output=True,
                       text=True, cwd=ROOT, env=_env(), timeout=300)
    assert c.returncode == 0, c.stderr
    assert simtheory_main([*args, "--out", str(tmp_path / "reference")]) == 0
    assert read_metrics(folder) == read_metrics(tmp_path / "reference")


# --------------------------------------------------------------------------------- sizes checked before work
@pytest.mark.parametrize("args, name", [
    (["exact", "--grid-size", "1000000000"], "grid_size"), (["exact", "--steps", "1000000000000"], "steps"),
    (["loop", "--n-real", "-5"], "n_real"), (["loop", "--n-real", "100000000000000"], "n_real"),
    (["loop", "--generations", "1000000000000"], "generations"), (["loop", "--K", "1000000000000"], "K"),
    (["sweep", "--n-real", "100000000000000"], "n_real"), (["sweep", "--generations", "1000000000000"], "generations"),
    (["sweep", "--K", "4", "1000000000000"], "K")])
def test_sizes_that_cannot_fit_are_refused_naming_the_option(tmp_path, args, name, capsys):
    from simtheory.cli import main
    assert main([*args, "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"error: {name} ") and "Traceback" not in err[0], err
    assert not (tmp_path / "run").exists()                           # nothing written


def test_library_sizes_that_cannot_fit_name_the_argument():
    import numpy as np

    import simtheory
    from simtheory import datasets
    from simtheory.diffusion import sims
    from simtheory.runs.exact import ExactConfig
    with pytest.raises(ValueError, match="^steps = 1000000000000 is too large"):
        simtheory.retrain([0.5, 0.5], [0.0, 1.0], 4, 10**12)
    with pytest.raises(ValueError, match="^grid_size = "):
        ExactConfig("mixture2d", grid_size=10**9)
    with pytest.raises(ValueError, match="^steps = "):
        ExactConfig("four_atoms", steps=10**15)
    x = np.random.default_rng(0).normal(size=(600, 2))
    with pytest.raises(ValueError, match="^K = "):
        simtheory.run_loop(simtheory.LoopConfig(K=10**12), x, lambda y: y[:, 0])
    with pytest.raises(ValueError, match="^generations = "):
        simtheory.run_loop(simtheory.LoopConfig(generations=10**13), x, lambda y: y[:, 0])
    with pytest.raises(ValueError, match="n must be >= 1"):
        datasets.make("gauss2d", -5)
    with pytest.raises(ValueError, match="^chains = "):
        sims.run_gaussian_sims(sims.GaussianSimsConfig(generations=2), 10**12)
    with pytest.raises(ValueError, match="^generations = "):
        sims.run_gaussian_sims(sims.GaussianSimsConfig(generations=10**12), 10)
    with pytest.raises(ValueError, match="^K = "):
        sims.run_gmm_sims(sims.GmmSimsConfig(K=10**12, n_samples=8, n_s=8, components=1), x, lambda y: y[:, 0])
    # controls: sizes that fit run
    assert simtheory.retrain([0.5, 0.5], [0.0, 1.0], 4, 3).shape == (4, 2)
    assert len(simtheory.run_loop(simtheory.LoopConfig(K=2, generations=1, n_eval=50), x, lambda y: y[:, 0])) == 2


def test_the_memory_bound_is_half_the_available_memory(monkeypatch):
    from simtheory import validate
    monkeypatch.setattr(validate, "available_memory", lambda: 1000)
    validate.fits_memory(500, "n", 1, "x")                          # exactly half: fits
    with pytest.raises(ValueError, match="n = 1 is too large for this machine: x needs about 0.501 kB, more than "
                                         "half of the 1 kB of memory available"):
        validate.fits_memory(501, "n", 1, "x")
    monkeypatch.setattr(validate, "available_memory", lambda: None)
    validate.fits_memory(10**30, "n", 1, "x")                        # unknown: nothing to check against


def test_the_available_memory_is_read():
    from simtheory.validate import available_memory
    a = available_memory()
    assert a is None or 0 < a < 2**60


def test_an_exact_run_that_cannot_fit_the_disk_writes_nothing(tmp_path, monkeypatch):
    import os as os_module

    from simtheory import validate
    from simtheory.runs.exact import ExactConfig, run_exact

    class Tiny:                    # a file system with 100 kB free
        f_bavail, f_frsize = 100, 1000
    monkeypatch.setattr(validate.os, "statvfs", lambda p: Tiny)
    with pytest.raises(ValueError, match="^steps = 10000 is too large for this disk"):
        run_exact(ExactConfig("mixture1d", 4, steps=10_000, grid_size=101), tmp_path / "run")
    assert not (tmp_path / "run").exists()
    monkeypatch.setattr(validate.os, "statvfs", os_module.statvfs)
    run_exact(ExactConfig("mixture1d", 4, steps=2, grid_size=101), tmp_path / "run")      # control


MEASURE = """
import math, resource, sys
from simtheory import scenarios
from simtheory.dynamics import step
name, grid = sys.argv[1], int(sys.argv[2])
small = scenarios.get(name, 11)                      # compiled kernels and imports in the baseline
step(small.p0, small.r, 4, 1.0, small.p0)
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
sc = scenarios.get(name, grid)
p = step(sc.p0, sc.r, 4, math.inf, None)
p = step(p, sc.r, 4, 1.0, sc.p0)
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(sc.p0.size, after - before)
"""


@pytest.mark.parametrize("name", ["mixture1d", "mixture2d", "moons2d", "rings2d"])
def test_an_exact_scenario_stays_within_its_bytes_per_atom(name):
    """The memory check's per-atom constant holds: building the scenario and two exact steps on ~4e5 atoms
    raise the peak memory by less than BYTES_PER_ATOM per atom."""
    from simtheory import scenarios
    grid = 400_001 if scenarios.DIMENSIONS[name] == 1 else 633
    r = _run(MEASURE, name, str(grid), NUMBA_NUM_THREADS="1")
    atoms, grew = map(int, r.stdout.split())
    assert atoms == scenarios.atoms(name, grid) and grew < scenarios.BYTES_PER_ATOM * atoms, (grew / atoms, r.stderr)


# ------------------------------------------------------------------------ one line, exit 2 (or 130 on Ctrl-C)
def _unwritable(tmp_path: Path) -> Path:
    """A folder this process cannot write in, for root too: a read-only folder for other users; for root (whom
    permissions do not stop) /proc, where no folder or file can be made."""
    if os.geteuid() != 0:
        d = tmp_path / "read-only"
        d.mkdir()
        d.chmod(0o500)
        return d
    if not Path("/proc/self").is_dir():
        pytest.skip("running as root without /proc: no folder here refuses root's writes")
    return Path("/proc")


@pytest.mark.parametrize("module, args, leaf", [("figures", ["--only", "fig_bertrand", "--quick"], "figs"),
                                               ("paper_checks", ["--only", "c06_bertrand", "--quick"], "report.md")])
def test_unwritable_out_is_one_line_exit_2(tmp_path, module, args, leaf):
    for out in (_unwritable(tmp_path) / leaf, tmp_path / ("x" * 300) / leaf):     # no permission; a name too long
        r = subprocess.run([sys.executable, "-m", module, *args, "--out", str(out)], capture_output=True, text=True,
                           cwd=ROOT, env=_env(), timeout=300)
        assert r.returncode == 2 and r.stdout == "", r
        assert _one_line(r).startswith(f"error: --out {out}"), r.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) in ([], ["read-only"])
    r = subprocess.run([sys.executable, "-m", module, *args, "--out", str(tmp_path / leaf)], capture_output=True,
                       text=True, cwd=ROOT, env=_env(), timeout=300)
    assert r.returncode == 0, r.stderr                                # control: a writable --out works


def _interrupt_once(cmd: list[str], ready) -> subprocess.CompletedProcess:
    """Run ``cmd``, send it SIGINT (Ctrl-C) once ``ready(stderr so far)`` is true, and return how it ended."""
    import signal
    import threading
    import time
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT, env=_env())
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(iter(p.stderr.readline, "")), daemon=True)
    reader.start()
    deadline = time.monotonic() + 240
    while not ready("".join(lines)):
        assert p.poll() is None and time.monotonic() < deadline, "".join(lines)
        time.sleep(0.05)
    p.send_signal(signal.SIGINT)
    out = p.stdout.read()
    p.wait(timeout=120)
    reader.join(timeout=60)
    return subprocess.CompletedProcess(cmd, p.returncode, out, "".join(lines))


def test_ctrl_c_in_simtheory_is_one_line_saying_how_to_resume(tmp_path):
    from simtheory.runs import read_metrics
    folder = tmp_path / "run"
    cmd = [sys.executable, "-c", SLOW.format(module="simtheory.runs.exact", name="step"), "exact", "--scenario",
           "mixture1d", "--grid-size", "61", "--steps", "40", "--out", str(folder)]
    r = _interrupt_once(cmd, lambda err: len(read_metrics(folder)) >= 2)
    assert r.returncode == 130
    assert _one_line(r) == "interrupted: rerun the same command to resume from the last saved step"


STALL = """
import sys, time, importlib
m = importlib.import_module("{stalled}")
m.{fn} = lambda *a, **k: time.sleep(600)        # a long part, so that Ctrl-C surely lands inside the run
from {module}.__main__ import main
sys.exit(main(sys.argv[1:]))
"""


@pytest.mark.parametrize("module, first, stalled, fn, how", [
    ("figures", "fig_finite_vs_exact", "figures.fig_bertrand", "make", "rerun the same command"),
    ("paper_checks", "c01_curated_density", "paper_checks.c06_bertrand", "run", "no report was written")])
def test_ctrl_c_in_figures_and_checks_is_one_line(tmp_path, module, first, stalled, fn, how):
    out = tmp_path / ("figs" if module == "figures" else "report.md")
    code = STALL.format(stalled=stalled, fn=fn, module=module)
    r = _interrupt_once([sys.executable, "-c", code, "--only", first, stalled.split(".")[1], "--quick", "--out", str(out)],
                        lambda err: f"{first}: " in err)
    assert r.returncode == 130, r.stderr
    lines = [s for s in r.stderr.strip().splitlines() if not s.startswith(f"{first}: ")]    # the finished part's time
    assert len(lines) == 1 and lines[0].startswith("interrupted: ") and how in lines[0], r.stderr


def test_ctrl_c_in_empirical_is_one_line(monkeypatch, capsys):
    import empirical.cli as ecli

    def stop(args):
        raise KeyboardInterrupt
    monkeypatch.setattr(ecli, "_run", stop)
    assert ecli.main(["points", "--config", "tiny", "--out", "unused"]) == 130
    assert capsys.readouterr().err == "interrupted: rerun the same command to resume from what was saved\n"
    assert ecli.main(["fid", "--images", "x.npz"]) == 130
    assert "nothing was saved to resume from" in capsys.readouterr().err


def test_empty_or_damaged_images_file_is_one_line(tmp_path):
    import numpy as np
    pytest.importorskip("torch")
    (tmp_path / "empty.npz").write_bytes(b"")
    (tmp_path / "junk.npz").write_bytes(b"PK\x03\x04 not a zip")
    np.savez(tmp_path / "other.npz", x=np.zeros(3))
    np.savez(tmp_path / "floats.npz", images=np.zeros((2, 3, 4, 4)))
    for name, what in (("empty.npz", "EOFError"), ("junk.npz", "unreadable"), ("other.npz", "holds ['x']"),
                       ("floats.npz", "dtype float64"), ("missing.npz", "no such file")):
        r = subprocess.run([sys.executable, "-m", "empirical", "fid", "--images", str(tmp_path / name), "--n", "4"],
                           capture_output=True, text=True, cwd=ROOT, env=_env(), timeout=300)
        assert r.returncode == 2 and what in _one_line(r) and _one_line(r).startswith("error: --images"), r.stderr


# ------------------------------------------------------------------------------------ switching the torch build
def test_make_torch_switches_the_build_without_touching_runs():
    import shutil
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    index = "https://download.pytorch.org/whl/cu128"
    # -o: take the .venv as set up, so that only the recipe of `torch` itself is printed
    r = subprocess.run(["make", "-n", "-o", ".venv/.installed", "torch", f"TORCH_INDEX={index}"], capture_output=True,
                       text=True, cwd=ROOT, timeout=60)
    assert r.returncode == 0, r.stderr
    cmds = [c for c in r.stdout.splitlines() if "pip install" in c and "torch==" in c]
    assert cmds and all(f"--index-url {index}" in c for c in cmds), r.stdout
    assert "--force-reinstall --no-deps torch==" in cmds[0]
    assert not any(w in r.stdout for w in ("rm ", "runs", "data")), r.stdout       # nothing is deleted
    r = subprocess.run(["make", "-n", "torch"], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert r.returncode != 0 and "TORCH_INDEX" in r.stderr and "pip" not in r.stdout
    clean = subprocess.run(["make", "-n", "clean"], capture_output=True, text=True, cwd=ROOT, timeout=60).stdout
    assert "runs" in clean                                          # control: clean does delete the runs


def test_an_empty_network_file_is_one_line_without_deleting_advice(tmp_path, capsys):
    pytest.importorskip("torch")
    from empirical.cli import main
    net = tmp_path / "network.pt"
    net.write_bytes(b"")
    for extra in ([], [("network.json", "{}")]):
        for name, text in extra:
            (tmp_path / name).write_text(text)
        assert main(["sample", "--network", str(net), "--seeds", "0-1", "--out", str(tmp_path / "s")]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith(f"error: --network {net} is not a readable network"), err
        assert "Delete" not in err[0]                 # an input of the command: never advice to delete its folder
    assert not (tmp_path / "s").exists()
