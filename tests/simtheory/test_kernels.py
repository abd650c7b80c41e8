"""Every Numba kernel against its numpy reference and against its own .py_func."""
import numpy as np
import pytest

from simtheory import kernels
from simtheory.curation import gumbel_grid

from tolerances import ROUNDING


@pytest.mark.parametrize("n,K,scale", [(1, 2, 1.0), (7, 3, 0.1), (300, 8, 2.0), (50, 10**5, 30.0)])
def test_curation_kernels_match_references(n, K, scale):
    rng = np.random.default_rng(n)
    p = rng.dirichlet(np.ones(n))
    r = rng.normal(0, scale, n)
    g = gumbel_grid(r, K)
    lf_ref = kernels.log_cdf_reference(p, r, g.z)
    lf = kernels.log_cdf_numba(p, r, g.z0, g.n)
    fin = np.isfinite(lf_ref)
    assert np.array_equal(fin, np.isfinite(lf))
    phi_ref = np.exp((K - 1) * lf_ref)
    phi = np.exp((K - 1) * lf)
    np.testing.assert_allclose(phi, phi_ref, atol=ROUNDING, rtol=1e-11)
    i_ref = kernels.atom_integrals_reference(r, phi_ref, g.z, g.h)
    np.testing.assert_allclose(kernels.atom_integrals_numba(r, phi_ref, g.z0), i_ref, atol=ROUNDING, rtol=1e-11)


def test_curation_kernels_py_func_agree():
    rng = np.random.default_rng(1)
    p = rng.dirichlet(np.ones(20))
    r = rng.normal(0, 1, 20)
    g = gumbel_grid(r, 4)
    lf = kernels.log_cdf_numba(p, r, g.z0, g.n)
    np.testing.assert_allclose(kernels.log_cdf_numba.py_func(p, r, g.z0, g.n), lf, atol=1e-14, rtol=1e-13)
    phi = np.exp(3 * lf)
    np.testing.assert_allclose(kernels.atom_integrals_numba.py_func(r, phi, g.z0),
                               kernels.atom_integrals_numba(r, phi, g.z0), atol=1e-15, rtol=1e-13)


def test_select_kernel_matches_reference():
    rng = np.random.default_rng(0)
    rew = rng.normal(size=(1000, 5))
    gum = rng.gumbel(size=(1000, 5))
    np.testing.assert_array_equal(kernels.select_numba(rew, gum), kernels.select_reference(rew, gum))
    np.testing.assert_array_equal(kernels.select_numba.py_func(rew, gum), kernels.select_reference(rew, gum))


def test_kernels_refuse_a_grid_that_does_not_hold_every_window():
    # the edge of the bounds: a grid one node too short for the highest atom's window, or starting above
    # the lowest atom, must raise before any write (no out-of-bounds write, no heap corruption)
    r = np.array([0.0, 3.0])
    p = np.array([0.5, 0.5])
    g = gumbel_grid(r, 2)
    need = int(np.ceil((3.0 - g.z0) / g.h + kernels.Y_LO / g.h - 1e-9)) + kernels.WINDOW
    kernels.log_cdf_numba(p, r, g.z0, need)              # exactly enough nodes: fine
    with pytest.raises(ValueError, match="grid"):
        kernels.log_cdf_numba(p, r, g.z0, need - 1)
    with pytest.raises(ValueError, match="grid"):
        kernels.log_cdf_numba(p, r, g.z0 + 1.0, g.n)
    phi = np.ones(need - 1)
    with pytest.raises(ValueError, match="grid"):
        kernels.atom_integrals_numba(r, phi, g.z0)
