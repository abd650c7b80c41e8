"""`python -m empirical gpu-check`: every step at a tiny size on the CPU (--smoke), and what comes back."""
import json
import math

import pytest

from empirical.cli import main
from empirical.gpu_check import FILES


@pytest.mark.cifar
def test_gpu_check_smoke_runs_every_step(tmp_path):
    out = tmp_path / "check"
    assert main(["gpu-check", "--device", "cpu", "--smoke", "--out", str(out), "--work", str(tmp_path / "w")]) == 0
    files = sorted(p.name for p in out.iterdir())
    assert files == sorted(FILES) and all((out / f).stat().st_size < 16 * 2**20 for f in files)
    s = json.loads((out / "summary.json").read_text())
    assert s["finished"] and s["smoke"] and "error" not in s
    steps = s["steps"]
    assert list(steps) == ["data", "throughput", "classifier", "base", "fid", "curated", "sims", "mixture"]
    t = steps["throughput"]
    assert t["ratio"] == t["bf16_compile_channels_last"]["images_per_s"] / t["fp32_eager"]["images_per_s"]
    assert steps["base"]["images"] == s["plan"]["base_images"] > 0
    assert steps["fid"]["fid_n"] == s["sizes"]["fid_n"] and steps["fid"]["fid"] > 0
    assert steps["curated"]["kept"] * 4 == steps["curated"]["candidates"]
    assert {"mean_reward", "target_share"} <= set(steps["curated"]["curated"])
    assert steps["sims"]["fid_w0"] > 0 and steps["sims"]["fid_w1"] > 0
    assert steps["sims"]["weight_distance"]["relative"] > 0
    mix = steps["mixture"]
    assert [g["generation"] for g in mix["generations"]] == [0, 1] and mix["selection_z"] is not None
    assert {"fit_0", "law_0", "fit_1", "law_1", "selection_1"} <= set(mix["checks"])
    assert all(math.isfinite(g["law_error"]) and g["law_error_se"] > 0 and g["fd_law"] > 0 for g in mix["generations"])
    assert len(steps["data"]["mixture_law_sha1"]) == 40
    log = (out / "gpu-check.log").read_text()
    assert "training throughput" in log and "done in" in log


def test_gpu_check_refuses_a_full_run_without_a_gpu(tmp_path, capsys):
    assert main(["gpu-check", "--device", "cpu", "--out", str(tmp_path / "c")]) == 2
    assert "--smoke" in capsys.readouterr().err
    assert not (tmp_path / "c").exists()


def test_packed_detector_matches_the_original(tmp_path, monkeypatch):
    """The 40 MB packed FID network (float16 weights) gives the original's features to float16 rounding, under its
    own detector id; a damaged part is refused."""
    import numpy as np

    from empirical import fid
    x = np.random.default_rng(0).integers(0, 256, (4, 3, 32, 32), dtype=np.uint8)
    ref = fid.inception_features(x)
    fid.pack_detector(tmp_path / "packed")
    assert sum(p.stat().st_size for p in (tmp_path / "packed").iterdir()) < 41 * 10**6
    monkeypatch.setenv("FID_DETECTOR", str(tmp_path / "packed"))
    assert fid.detector_id() == fid.DETECTOR_SHA1 + fid.PACKED
    got = fid.inception_features(x)
    assert np.abs(got - ref).max() <= 5e-3 * np.abs(ref).max()
    assert not np.array_equal(got, ref)
    w = tmp_path / "packed" / fid.PACKED_FILES[1]
    w.write_bytes(w.read_bytes()[:-10])
    fid._detector.cache_clear()
    import pytest
    with pytest.raises(ValueError, match="manifest"):
        fid.inception_features(x)
    fid._detector.cache_clear()
