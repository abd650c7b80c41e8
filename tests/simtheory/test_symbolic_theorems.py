import math

import numpy as np
import sympy as sp

import simtheory
from simtheory import symbolic, theorems


def test_two_atom_kinf_closed_form_matches_tilt_and_kl():
    f = sp.lambdify((symbolic.a, symbolic.d, symbolic.t), symbolic.two_atom_kinf())
    g = sp.lambdify((symbolic.a, symbolic.d, symbolic.t), symbolic.two_atom_kinf_kl())
    for a, d, t in [(0.3, 0.5, 3.0), (0.01, 2.0, 10.0), (0.7, 0.1, 1.0)]:
        p, r = np.array([1 - a, a]), np.array([0.0, d])
        assert abs(theorems.kinf_closed_form(p, r, t)[1] - f(a, d, t)) < 1e-14
        assert abs(theorems.kinf_kl_to_limit(p, r, t) - g(a, d, t)) < 1e-12


def test_two_atom_curated_is_polynomial_identity_k2():
    # K = 2 (plain Bradley-Terry): top mass = a^2 + 2 a (1-a) e^d / (e^d + 1)
    expr = symbolic.two_atom_curated(2)
    a, d = symbolic.a, symbolic.d
    assert sp.simplify(expr - (a**2 + 2 * a * (1 - a) * sp.exp(d) / (sp.exp(d) + 1))) == 0


def test_limit_distribution_and_bertrand_rate():
    p, r = [0.4, 0.3, 0.2, 0.1], [0, 0.5, 1, 1]
    np.testing.assert_allclose(theorems.limit_distribution(p, r), [0, 0, 2 / 3, 1 / 3])
    assert theorems.bertrand_rate(0.1, 1.0, 1.0, 0.0) == 0.1 / 0.9
    assert abs(theorems.bertrand_rate(0.6, 1.0, 1.0, 0.0) - 1.5) < 1e-12   # > 1: no contraction
    assert theorems.bertrand_rate(1.2, 1.0, 1.0, 0.0) == math.inf


def test_lemma22_bound_is_tight_nowhere_it_should_not_be():
    # the bound equals E[e^r] exactly when the reward is constant (no variance, no gain)
    p = np.array([0.3, 0.7])
    assert abs(theorems.lemma22_bound(p, [1.0, 1.0], 4) - 1.0) < 1e-15
    nxt = simtheory.curated(p, [0.0, 1.0], 4)
    gain = float(nxt @ np.exp([-1.0, 0.0])) - float(p @ np.exp([-1.0, 0.0]))
    assert gain > 0 and theorems.lemma22_bound(p, [0.0, 1.0], 4) - float(p @ np.exp([-1.0, 0.0])) <= gain
