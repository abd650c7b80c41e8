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


def test_two_gloo_processes_equal_one_process(tmp_path):
    env = _env()
    subprocess.run([sys.executable, str(WORKER), str(tmp_path / "one")], check=True, env=env, timeout=300)
    subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_addr",
                    "127.0.0.1", "--master_port", str(_free_port()), str(WORKER), str(tmp_path / "two")],
                   check=True, env=env, timeout=300)
    a = torch.load(tmp_path / "one" / "training-state.pt", weights_only=True)["net"]
    b = torch.load(tmp_path / "two" / "training-state.pt", weights_only=True)["net"]
    assert a.keys() == b.keys()
    moved = 0
    for k in a:
        torch.testing.assert_close(a[k], b[k], atol=2e-6, rtol=1e-5)
        moved += int(a[k].abs().sum() > 0)
    assert moved > 10


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
