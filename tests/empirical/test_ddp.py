import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch

WORKER = Path(__file__).with_name("ddp_worker.py")
ROOT = Path(__file__).resolve().parents[2]


def _env() -> dict:
    """A plain environment that imports this checkout's packages (the worker's own folder comes first on
    sys.path otherwise, and an installed copy of the project could be tested instead)."""
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK")}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT)] + [p for p in [env.get("PYTHONPATH")] if p])
    return env


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


REL_DDP = 1e-3
"""The largest difference of a tensor between one process and two ranks, relative to its norm."""


def _relative(x: torch.Tensor, y: torch.Tensor) -> float:
    """||x - y|| / ||x|| (Frobenius), 0 for two zero tensors."""
    n = float(x.double().norm())
    d = float((x.double() - y.double()).norm())
    return d / n if n > 0 else d


def test_two_gloo_processes_equal_one_process(tmp_path):
    env = _env()
    subprocess.run([sys.executable, str(WORKER), str(tmp_path / "one")], check=True, env=env, timeout=300)
    subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_addr",
                    "127.0.0.1", "--master_port", str(_free_port()), str(WORKER), str(tmp_path / "two")],
                   check=True, env=env, timeout=300)
    one = torch.load(tmp_path / "one" / "training-state.pt", weights_only=True)
    a = one["net"]
    b = torch.load(tmp_path / "two" / "training-state.pt", weights_only=True)["net"]
    assert a.keys() == b.keys()
    # Two ranks sum the gradients in another order than one process does, so single weights differ by rounding,
    # which Adam magnifies where a gradient is near 0 (g / sqrt(v) ~ sign(g)): an element-wise rounding bound holds
    # on one CPU and not on another. Each tensor as a whole agrees to REL_DDP of its norm (seen: 2e-5); a rank whose
    # gradients were not averaged, or a lost step, moves whole tensors by the size of an update (negative control:
    # the raw weights against their EMA, one averaging step apart, differ by 0.6 of the norm).
    assert max(_relative(a[k], b[k]) for k in a) <= REL_DDP
    assert max(_relative(a[k], one["ema"][k]) for k in a) > 100 * REL_DDP
    assert sum(int(a[k].abs().sum() > 0) for k in a) > 10


@pytest.mark.cifar
def test_image_loop_under_torchrun_writes_once_and_matches_one_process(tmp_path):
    """Two gloo ranks: rank 0 alone writes (one metrics line per generation), both train, same numbers as one
    process; a plain rerun of the finished folder changes nothing."""
    from simtheory.runs import read_metrics
    worker = WORKER.with_name("ddp_loop_worker.py")
    env = _env()
    subprocess.run([sys.executable, str(worker), str(tmp_path / "one")], check=True, env=env, timeout=300)
    subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_addr",
                    "127.0.0.1", "--master_port", str(_free_port()), str(worker), str(tmp_path / "two")],
                   check=True, env=env, timeout=300)
    one, two = read_metrics(tmp_path / "one"), read_metrics(tmp_path / "two")
    assert [r["generation"] for r in two] == [0, 1, 2]
    for a, b in zip(one, two):
        for k in ("mean_reward", "reward_se"):
            assert abs(a[k] - b[k]) <= 1e-3 * max(1.0, abs(a[k])), (a["generation"], k, a[k], b[k])
        assert a["class_proportions"] == b["class_proportions"]
    subprocess.run([sys.executable, str(worker), str(tmp_path / "two")], check=True, env=env, timeout=300)
    assert read_metrics(tmp_path / "two") == two
