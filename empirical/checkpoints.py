"""Checkpoints: state_dicts plus a JSON config, loadable with torch.load(weights_only=True); never pickled
code. A checkpoint from another config is refused with the differing keys; a truncated or corrupt one (or
one without its JSON) is refused with the file's name and what to do."""
from __future__ import annotations

import io
import json
from pathlib import Path

import torch

from simtheory.runs import atomic_write, config_diff

RENAMED = {"total_images": "total_samples", "warmup_images": "warmup_samples",
           "ema_halflife_images": "ema_halflife_samples", "checkpoint_images": "checkpoint_samples",
           "finetune_images": "finetune_samples", "images_seen": "samples_seen"}
"""Keys that stored configs and checkpoints of earlier versions hold -> their names now (a count of samples seen is
named as samples: a point run counts points)."""


def upgrade_keys(stored):
    """A stored config or checkpoint JSON in today's words: every key of [`RENAMED`][empirical.checkpoints.RENAMED], at any depth, renamed,
    the rest as stored. Stored files are read through it (and compared, and built into configs) but never rewritten:
    a folder written by an earlier version resumes, and new files carry the new keys."""
    if isinstance(stored, dict):
        return {RENAMED.get(k, k): upgrade_keys(v) for k, v in stored.items()}
    if isinstance(stored, list):
        return [upgrade_keys(v) for v in stored]
    return stored


class Unreadable(ValueError):
    """A damaged run file (a ValueError): ``path`` names it and ``why`` says what is wrong, so that a caller for
    whom the file is an input it must not recompute (a SIMS base) can say so instead of the default advice."""

    def __init__(self, path: Path, why, message: str):
        super().__init__(message)
        self.path, self.why = Path(path), str(why)


def unreadable(path: Path, why) -> Unreadable:
    """The error for a damaged run file: which file, and how to recover (the run recomputes what is removed)."""
    path = Path(path)
    return Unreadable(path, why, f"{path} is unreadable ({why}): it is truncated or corrupt, e.g. from a kill or a "
                                 f"full disk. Delete the folder {path.parent} and rerun the same command; the run "
                                 "recomputes it.")


def save(path: Path, state: dict, config: dict) -> None:
    """Atomically write ``path`` (tensors / state_dicts) and ``path``.json (the config); the JSON first, so a
    checkpoint never exists without it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    buf = io.BytesIO()
    torch.save(state, buf)
    atomic_write(path.with_suffix(".json"), (json.dumps(config, indent=2, sort_keys=True) + "\n").encode())
    atomic_write(path, buf.getvalue())


def read_json(path: Path) -> dict:
    """A JSON object from ``path``; a missing, torn or garbage file is a ValueError naming it."""
    path = Path(path)
    if not path.exists():
        raise unreadable(path, "missing")
    try:
        out = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise unreadable(path, f"not JSON: {e}") from None
    if not isinstance(out, dict):
        raise unreadable(path, "not a JSON object")
    return out


def load(path: Path, expected_config: dict | None = None, map_location="cpu") -> tuple[dict, dict]:
    """(state, config) of a checkpoint; with ``expected_config``, a different stored config is a ValueError."""
    path = Path(path)
    if not path.exists():
        raise ValueError(f"no checkpoint at {path}")
    cfg = read_json(path.with_suffix(".json"))
    if expected_config is not None:
        diff = config_diff(upgrade_keys(cfg), json.loads(json.dumps(expected_config)))
        if diff:
            raise ValueError(f"checkpoint {path} was made with another config:\n  " + "\n  ".join(diff))
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as e:        # torch raises RuntimeError, EOFError, UnpicklingError, ... for damaged files
        raise unreadable(path, f"{type(e).__name__}: {e}") from None
    if not isinstance(state, dict):
        raise unreadable(path, "not a state dict")
    return state, cfg
