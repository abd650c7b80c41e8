"""Sample counts are named as samples (a point run counts points): configs and checkpoints write the new keys, and
what earlier versions stored under the old ones (total_images, finetune_images, images_seen, ...) still loads and
resumes; the old names in Python warn."""
from __future__ import annotations

import json

import numpy as np
import pytest

from empirical.checkpoints import RENAMED, upgrade_keys
from empirical.points import point_preset, run_point_loop
from empirical.train import TrainConfig


def _old(d):
    """A stored dict as an earlier version wrote it: every new key under its old name."""
    back = {new: old for old, new in RENAMED.items()}
    if isinstance(d, dict):
        return {back.get(k, k): _old(v) for k, v in d.items()}
    return d


def test_upgrade_renames_every_old_key_at_any_depth():
    cfg = point_preset("tiny")
    d = json.loads(json.dumps(cfg.to_dict()))
    assert "finetune_samples" in d and "total_samples" in d["train"] and "total_images" not in json.dumps(d)
    old = _old(d)
    assert "finetune_images" in old and "total_images" in old["train"] and "total_samples" not in json.dumps(old)
    assert upgrade_keys(old) == d                                   # and nothing else changes
    assert upgrade_keys({"a": [{"images_seen": 3}], "images": 2}) == {"a": [{"samples_seen": 3}], "images": 2}


def test_stored_train_configs_of_either_version_build_the_same_config():
    tc = point_preset("tiny").train
    assert TrainConfig.from_stored(_old(tc.to_dict())) == tc == TrainConfig.from_stored(tc.to_dict())
    with pytest.raises(TypeError):
        TrainConfig(total_images=10)                                # the old name is not a field any more


def test_old_python_names_warn():
    with pytest.warns(DeprecationWarning, match="train_samples"):
        cfg = point_preset("tiny", train_images=4096, finetune_images=512)
    assert cfg.train.total_samples == 4096 and cfg.finetune_samples == 512
    with pytest.warns(DeprecationWarning, match="finetune_samples"):
        assert cfg.finetune_images == 512


def test_a_folder_written_under_the_old_keys_resumes(tmp_path):
    """A point run whose config.json and checkpoint JSONs hold the old keys (an earlier version's folder) resumes
    where it stopped: no ConfigMismatch, nothing retrained, the same numbers; a changed config is still refused."""
    cfg = point_preset("tiny", generations=1)
    rf = run_point_loop(cfg, tmp_path / "run", progress=False)
    want = rf.metrics()
    for f in [tmp_path / "run" / "config.json", *(tmp_path / "run").glob("gen_*/*.json")]:
        f.write_text(json.dumps(_old(json.loads(f.read_text()))))
    assert "total_images" in (tmp_path / "run" / "config.json").read_text()
    (tmp_path / "run" / "metrics.jsonl").write_text(
        "".join(line for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines(True)[:1]))
    again = run_point_loop(cfg, tmp_path / "run", progress=False).metrics()
    assert [r["generation"] for r in again] == [0, 1]
    np.testing.assert_array_equal([r["mean_reward"] for r in again], [r["mean_reward"] for r in want])
    from simtheory.runs import ConfigMismatch
    with pytest.raises(ConfigMismatch, match="finetune_samples"):
        run_point_loop(point_preset("tiny", generations=1, finetune_samples=4096), tmp_path / "run", progress=False)
