"""Checkpoints: state_dicts plus a JSON config, loadable with torch.load(weights_only=True); never pickled
code. A checkpoint from another config is refused with the differing keys."""
from __future__ import annotations

import io
import json
from pathlib import Path

import torch

from simtheory.runs import atomic_write, config_diff


def save(path: Path, state: dict, config: dict) -> None:
    """Atomically write ``path`` (tensors / state_dicts) and ``path``.json (the config)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    buf = io.BytesIO()
    torch.save(state, buf)
    atomic_write(path, buf.getvalue())
    atomic_write(path.with_suffix(".json"), (json.dumps(config, indent=2, sort_keys=True) + "\n").encode())


def load(path: Path, expected_config: dict | None = None, map_location="cpu") -> tuple[dict, dict]:
    """(state, config) of a checkpoint; with ``expected_config``, a different stored config is a ValueError."""
    path = Path(path)
    if not path.exists():
        raise ValueError(f"no checkpoint at {path}")
    cfg = json.loads(path.with_suffix(".json").read_text())
    if expected_config is not None:
        diff = config_diff(cfg, json.loads(json.dumps(expected_config)))
        if diff:
            raise ValueError(f"checkpoint {path} was made with another config:\n  " + "\n  ".join(diff))
    return torch.load(path, map_location=map_location, weights_only=True), cfg
