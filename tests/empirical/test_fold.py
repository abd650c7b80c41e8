"""empirical.fold's own pieces on stand-ins (no network): which real samples and rewards each generation's training
set holds, by scheme."""
from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from empirical.fold import training_rewards


class _Kind:
    """A data kind whose reward is a sample's first coordinate."""

    def score(self, x):
        return np.asarray(x, float)[:, 0], np.zeros(len(x), int)


@pytest.mark.parametrize("scheme", ["replace", "fresh", "accumulate"])
def test_generation_zero_trains_on_real_block_zero_under_every_scheme(scheme, tmp_path):
    N, T = 4, 3
    cfg = SimpleNamespace(n_samples=N, scheme=scheme, lam=1.0, generations=T)
    x = np.arange(N * (T + 1), dtype=float)[:, None]          # block t holds rows N t .. N (t + 1) - 1
    np.testing.assert_array_equal(training_rewards(cfg, _Kind(), 0, None, x, tmp_path), np.arange(N))
