r"""Hot loops of the exact curation step: Numba kernels, each beside its plain numpy reference.

The curated density (Eq. 6 of Ferbach et al. 2024) is, with the Gumbel-max form of K-way softmax choice,

$$
\hat p_i = K p_i \int_{\mathbb R} g(z - r_i)\, F(z)^{K-1}\, dz,\qquad
F(z) = \sum_j p_j\, G(z - r_j),
$$

G(y) = exp(-e^{-y}) the standard Gumbel CDF and g = G' (the doc's Laplace form with s = e^{-z}). Both are
evaluated on a uniform grid z_q = z0 + q h by the trapezoid rule, which converges geometrically for these
integrands (analytic in the strip |Im y| < pi/2): h = 1/4 gives ~1e-15 (tests/simtheory/test_curation.py).

References (``*_reference``): dense over every (atom, node) pair; obviously right, O(n Q) memory per chunk.
Kernels (``*_numba``): each atom touches only nodes with y = z - r in [Y_LO, Y_SERIES]; below, G = 0 to
< 3e-24; above, G and g are expanded in u = e^{-y} <= e^{-8} to 4th order (remainder < 2e-19 relative) and
summed for all atoms at once through shared geometric recurrences. Atoms are split into a fixed number of
chunks, so results do not depend on the thread count.
"""
from __future__ import annotations

import ctypes
import math

import numba as nb
import numpy as np

Y_LO = -4.0       # G(-4) = e^{-e^4} < 3e-24
Y_SERIES = 8.0    # u = e^{-y} < 3.4e-4 beyond: 4th-order series in u
N_CHUNKS = 16     # fixed work split: thread count never changes a result
_REF_BUDGET = 2**24   # entries of one (atoms x nodes) block of the references (128 MB of float64)


def launch_threads() -> None:
    """Start Numba's thread pool (idempotent) without changing the process's OpenMP thread count.

    Numba's 'omp' threading layer calls omp_set_num_threads(NUMBA_NUM_THREADS) when it starts; that resolves
    to the OpenMP runtime torch loaded globally, so the first parallel kernel would silently change
    torch.get_num_threads() (torch's training then runs on more threads than the process was given; docs/empirical,
    Threads, says what that costs). The
    count is read before the start and written back after it; Numba's own count is unaffected.
    """
    from numba.np.ufunc import parallel
    if parallel._is_initialized:
        return
    omp = ctypes.CDLL(None)                     # the global symbol scope, where Numba's call resolves
    get = getattr(omp, "omp_get_max_threads", None)
    before = get() if get is not None else None
    parallel._launch_threads()
    if before is not None:
        omp.omp_set_num_threads(before)


# ----------------------------------------------------------------------------------------- references
def log_cdf_reference(p: np.ndarray, r: np.ndarray, z: np.ndarray) -> np.ndarray:
    r"""log F(z_q) for F(z) = sum_j p_j exp(-e^{r_j - z}); log1p(-(1-F)) where F >= 1/2 keeps 1-F's digits."""
    F = np.zeros_like(z)
    Fb = np.zeros_like(z)
    rows = max(1, min(p.size, _REF_BUDGET // max(1, z.size)))
    with np.errstate(over="ignore"):
        for s in range(0, p.size, rows):
            u = np.exp(r[s:s + rows, None] - z[None, :])
            F += p[s:s + rows] @ np.exp(-u)
            Fb += p[s:s + rows] @ -np.expm1(-u)
    with np.errstate(divide="ignore", invalid="ignore"):   # np.where evaluates both branches
        return np.where(F < 0.5, np.log(F), np.log1p(-Fb))


def atom_integrals_reference(r: np.ndarray, phi: np.ndarray, z: np.ndarray, h: float) -> np.ndarray:
    r"""I_i = h sum_q g(z_q - r_i) phi_q, g(y) = exp(-y - e^{-y}): the trapezoid rule for
    $\int g(z - r_i)\, \phi(z)\, dz$."""
    out = np.empty(r.size)
    rows = max(1, min(r.size, _REF_BUDGET // max(1, z.size)))
    with np.errstate(over="ignore"):
        for s in range(0, r.size, rows):
            y = z[None, :] - r[s:s + rows, None]
            out[s:s + rows] = h * (np.exp(-y - np.exp(-y)) @ phi)
    return out


# -------------------------------------------------------------------------------------------- kernels
# On the grid h = ln2 / 3, u = e^{-y} halves every third node, so along each of the 3 interleaved chains
# e = exp(-u) obeys e' = sqrt(e) and d = 1 - e obeys d' = d / (1 + e'): a sqrt and a division per node
# instead of an exp, and no cancellation in d. Relative errors halve at each sqrt and grow ~1.5 ulp per
# division (<= 20 steps a chain), so the chains stay within ~1e-14 of exp/expm1.
CHAIN = 3
H_CHAIN = math.log(2.0) / CHAIN
E1 = 2.0 ** (-1.0 / 3.0)   # e^{-h}
E2 = 2.0 ** (-2.0 / 3.0)   # e^{-2h}


STEPS = int(math.ceil((Y_SERIES - Y_LO) / H_CHAIN / CHAIN))   # chain steps per atom window
WINDOW = CHAIN * STEPS    # explicit nodes per atom: y from [Y_LO, Y_LO + h) to beyond Y_SERIES
BYTES_PER_NODE = 8 * (8 * N_CHUNKS + 4)   # peak kernel buffers per grid node (log_cdf_numba's chunk arrays)


@nb.njit(cache=True, inline="always")
def _window(t: float, h: float, n: int) -> int:
    """First node with y >= Y_LO for an atom at fractional grid position t, or -1 when the atom's window
    [q_lo, q_lo + WINDOW) is not inside the grid's n nodes. Every write and read of the kernels is at
    q_lo + i, 0 <= i < WINDOW, or at q_lo + WINDOW when that is < n: this check is their bounds check."""
    qf = math.ceil(t + Y_LO / h - 1e-9)
    if not (qf >= 0.0 and qf + WINDOW <= n):   # also false for NaN; tested before the int conversion
        return -1
    return int(qf)


@nb.njit(parallel=True, cache=True)
def log_cdf_numba(p: np.ndarray, r: np.ndarray, z0: float, n: int) -> np.ndarray:
    """Windowed log F on the grid z_q = z0 + q H_CHAIN; agrees with [`log_cdf_reference`][simtheory.kernels.log_cdf_reference] to rounding."""
    h = H_CHAIN
    C = N_CHUNKS
    f_exp = np.zeros((C, n))      # explicit-window part of F
    fb_exp = np.zeros((C, n))     # ... and of 1 - F
    low = np.zeros((C, n + 1))    # mass of atoms whose window starts at q (they add p to 1-F below q)
    seed = np.zeros((C, 5, n))    # [0]: mass entering the series tail at q; [m]: p v^m seeds, v = e^{-y}
    bad = np.zeros(C, dtype=np.int64)
    m_atoms = p.size
    for c in nb.prange(C):
        for j in range(c * m_atoms // C, (c + 1) * m_atoms // C):
            pj = p[j]
            if pj == 0.0:
                continue
            t = (r[j] - z0) / h
            q_lo = _window(t, h, n)
            if q_lo < 0:
                bad[c] += 1
                continue
            q_ser = q_lo + WINDOW
            low[c, q_lo] += pj
            u0 = math.exp(-(q_lo - t) * h)
            u1 = u0 * E1
            u2 = u0 * E2
            e0, e1, e2 = math.exp(-u0), math.exp(-u1), math.exp(-u2)
            d0, d1, d2 = -math.expm1(-u0), -math.expm1(-u1), -math.expm1(-u2)
            for k in range(STEPS):   # the 3 chains side by side: independent sqrt/div latencies overlap
                q = q_lo + CHAIN * k
                f_exp[c, q] += pj * e0
                f_exp[c, q + 1] += pj * e1
                f_exp[c, q + 2] += pj * e2
                fb_exp[c, q] += pj * d0
                fb_exp[c, q + 1] += pj * d1
                fb_exp[c, q + 2] += pj * d2
                e0, e1, e2 = math.sqrt(e0), math.sqrt(e1), math.sqrt(e2)
                # 1 - e is exact enough while e <= 1/2; above, the division avoids the cancellation
                d0 = 1.0 - e0 if e0 <= 0.5 else d0 / (1.0 + e0)
                d1 = 1.0 - e1 if e1 <= 0.5 else d1 / (1.0 + e1)
                d2 = 1.0 - e2 if e2 <= 0.5 else d2 / (1.0 + e2)
            if q_ser < n:
                v = u0 * 0.5 ** STEPS
                seed[c, 0, q_ser] += pj
                vm = pj
                for m in range(1, 5):
                    vm *= v
                    seed[c, m, q_ser] += vm
    if bad.sum() > 0:
        raise ValueError("the grid does not hold every atom's window (z0 above min r + Y_LO, or too few nodes)")
    out = np.empty(n)
    lo_suffix = 0.0                # mass of atoms whose window starts above q: they contribute p to 1-F
    lo_tot = np.zeros(n + 1)
    for q in range(n, -1, -1):
        lo_tot[q] = lo_suffix
        for c in range(C):
            lo_suffix += low[c, q]
    e_step = math.exp(-h)
    decay = np.array([1.0, e_step, e_step ** 2, e_step ** 3, e_step ** 4])
    tail_mass = 0.0
    T = np.zeros(5)
    for q in range(n):
        fe = 0.0
        fbe = 0.0
        for m in range(1, 5):
            T[m] *= decay[m]
        for c in range(C):
            fe += f_exp[c, q]
            fbe += fb_exp[c, q]
            tail_mass += seed[c, 0, q]
            for m in range(1, 5):
                T[m] += seed[c, m, q]
        series = T[1] - T[2] / 2.0 + T[3] / 6.0 - T[4] / 24.0   # sum_tail p (1 - e^{-u}), O(u^5) dropped
        F = fe + tail_mass - series
        Fb = fbe + lo_tot[q] + series
        out[q] = math.log(F) if F < 0.5 else math.log1p(-Fb)
    return out


@nb.njit(parallel=True, cache=True)
def atom_integrals_numba(r: np.ndarray, phi: np.ndarray, z0: float) -> np.ndarray:
    """Windowed I_i = h sum_q g(z_q - r_i) phi_q at h = H_CHAIN; agrees with the reference to rounding."""
    h = H_CHAIN
    n = phi.size
    S = np.zeros((5, n + 1))      # S_m(q) = sum_{q' >= q} e^{-m (q'-q) h} phi_q'
    for m in range(1, 5):
        dm = math.exp(-m * h)
        for q in range(n - 1, -1, -1):
            S[m, q] = phi[q] + dm * S[m, q + 1]
    out = np.empty(r.size)
    bad = np.zeros(r.size, dtype=np.bool_)
    for i in nb.prange(r.size):
        t = (r[i] - z0) / h
        q_lo = _window(t, h, n)
        if q_lo < 0:
            bad[i] = True
            out[i] = np.nan
            continue
        q_ser = q_lo + WINDOW
        u0 = math.exp(-(q_lo - t) * h)
        v = u0 * 0.5 ** STEPS
        u1 = u0 * E1
        u2 = u0 * E2
        e0, e1, e2 = math.exp(-u0), math.exp(-u1), math.exp(-u2)
        acc = 0.0
        for k in range(STEPS):
            q = q_lo + CHAIN * k
            acc += u0 * e0 * phi[q] + u1 * e1 * phi[q + 1] + u2 * e2 * phi[q + 2]
            u0, u1, u2 = 0.5 * u0, 0.5 * u1, 0.5 * u2
            e0, e1, e2 = math.sqrt(e0), math.sqrt(e1), math.sqrt(e2)
        if q_ser < n:   # g = u e^{-u} = u - u^2 + u^3/2 - u^4/6 + O(u^5)
            acc += v * (S[1, q_ser] - v * (S[2, q_ser] - v * (S[3, q_ser] / 2.0 - v * S[4, q_ser] / 6.0)))
        out[i] = h * acc
    if np.any(bad):
        raise ValueError("the grid does not hold every atom's window (z0 above min r + Y_LO, or too few nodes)")
    return out


def nodes_per_atom() -> int:
    """Integrand values each kernel computes per atom (the count the benchmark's bare-exp bound uses)."""
    return WINDOW


@nb.njit(parallel=True, cache=True)
def select_numba(rewards: np.ndarray, gumbel: np.ndarray) -> np.ndarray:
    """Row-wise argmax of rewards + Gumbel noise: one K-way softmax choice per row (Luce first choice)."""
    m, k = rewards.shape
    out = np.empty(m, dtype=np.int64)
    if gumbel.shape[0] != m or gumbel.shape[1] != k:
        raise ValueError("rewards and gumbel must have the same shape")
    for i in nb.prange(m):     # bounds: i < m and j < k index both (m, k) arrays; out has m entries
        best = 0
        bv = rewards[i, 0] + gumbel[i, 0]
        for j in range(1, k):
            v = rewards[i, j] + gumbel[i, j]
            if v > bv:
                bv = v
                best = j
        out[i] = best
    return out


def select_reference(rewards: np.ndarray, gumbel: np.ndarray) -> np.ndarray:
    """numpy reference of [`select_numba`][simtheory.kernels.select_numba]."""
    return np.argmax(rewards + gumbel, axis=1)
