"""Rewards of Ferbach et al. 2024's CIFAR-10 experiments from classifier probabilities (gamma = 5 default):
r = gamma P(c | x) for a chosen class c, and r = gamma max_c P(c | x) (confidence)."""
from __future__ import annotations

import numpy as np

KINDS = ("class", "confidence")


def reward_from_probs(probs: np.ndarray, kind: str = "class", target: int = 0, gamma: float = 5.0) -> np.ndarray:
    """Rewards (n,) from class probabilities (n, C)."""
    if kind == "class":
        if not 0 <= target < probs.shape[1]:
            raise ValueError(f"target class index {target} outside 0..{probs.shape[1] - 1}")
        return gamma * probs[:, target]
    if kind == "confidence":
        return gamma * probs.max(axis=1)
    raise ValueError(f"reward kind must be one of {KINDS}, got {kind!r}")
