"""Seed blocks and streams (empirical.seeds): every pair of blocks is disjoint for any owner and generation within
the caps, the caps are enforced, and training steps draw what an uninterrupted run draws."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from empirical import seeds

blocks = st.sampled_from(sorted(seeds.BLOCKS))
owners = st.integers(0, seeds.MAX_OWNER - 1)
gens = st.integers(0, seeds.MAX_GENERATION - 1)
index = st.integers(0, seeds.BLOCK_SIZE - 1)


@settings(max_examples=400, deadline=None)
@given(blocks, owners, gens, index, blocks, owners, gens, index)
def test_two_seeds_are_equal_only_at_the_same_coordinates(b1, o1, g1, i1, b2, o2, g2, i2):
    s1 = int(seeds.sample_seeds(b1, o1, g1, 1, i1)[0])
    s2 = int(seeds.sample_seeds(b2, o2, g2, 1, i2)[0])
    assert (s1 == s2) == ((b1, o1, g1, i1) == (b2, o2, g2, i2))
    assert 0 <= s1 < 2**63
    assert seeds.seed_coordinates(s1) == (b1, o1, g1, i1)


@settings(max_examples=100, deadline=None)
@given(blocks, owners, gens, st.integers(0, 1000), blocks, owners, gens, st.integers(0, 1000))
def test_blocks_of_a_run_do_not_overlap(b1, o1, g1, n1, b2, o2, g2, n2):
    """Two whole blocks (any sizes up to their cap) share a seed only when they are the same block."""
    a = seeds.sample_seeds(b1, o1, g1, n1)
    b = seeds.sample_seeds(b2, o2, g2, n2)
    shared = np.intersect1d(a, b).size
    assert shared == (min(n1, n2) if (b1, o1, g1) == (b2, o2, g2) else 0)


def test_the_collisions_of_the_old_layout_are_gone():
    """The old layout's overlaps: a run's evaluation block against a later run's, generation 3's candidates against
    the SIMS synthetic seeds, generation 4's against the sweep's pick set."""
    assert np.intersect1d(seeds.sample_seeds("eval", 0, 0, 10), seeds.sample_seeds("eval", 1, 0, 10)).size == 0
    assert np.intersect1d(seeds.sample_seeds("candidates", 0, 3, 2500),
                          seeds.sample_seeds("sims_aux", 0, 0, 2500)).size == 0
    assert np.intersect1d(seeds.sample_seeds("candidates", 0, 4, 2500), seeds.sample_seeds("sweep", 0, 0, 2500)).size == 0
    # the generation field is capped, so generation 1000 of run 0 cannot alias generation 0 of run 1
    with pytest.raises(ValueError, match="generation"):
        seeds.sample_seeds("candidates", 0, 1000, 1)


@pytest.mark.parametrize("args,match", [
    (("candidates", seeds.MAX_OWNER, 0, 1), "owner"),
    (("candidates", -1, 0, 1), "owner"),
    (("eval", 0, seeds.MAX_GENERATION, 1), "generation"),
    (("eval", 0, 0, seeds.BLOCK_SIZE + 1), "number"),
    (("eval", 0, 0, 10, seeds.BLOCK_SIZE - 5), "run past"),
    (("nowhere", 0, 0, 1), "unknown seed block"),
    (("eval", 1.5, 0, 1), "integer"),
])
def test_caps_are_enforced(args, match):
    with pytest.raises(ValueError, match=match):
        seeds.sample_seeds(*args)


def test_streams_and_steps():
    # one convention with simtheory's loops: stream i of generation t is child i of SeedSequence(seed).spawn(...)[t]
    child = np.random.SeedSequence(3).spawn(1)[0].spawn(seeds.STREAMS["train"] + 1)[seeds.STREAMS["train"]]
    assert seeds.stream_seed(3, "train") == int(child.generate_state(1)[0])
    assert len({seeds.stream_seed(0, s, t) for s in seeds.STREAMS for t in range(3)}) == 3 * len(seeds.STREAMS)
    assert seeds.step_seed(7, 11) == int(np.random.SeedSequence(7).spawn(12)[11].generate_state(1)[0])
    ranks = {seeds.step_seed(7, 11, r) for r in range(4)}
    assert len(ranks) == 4 and seeds.step_seed(7, 11) not in ranks
    with pytest.raises(ValueError, match="unknown stream"):
        seeds.stream_seed(0, "nowhere")
