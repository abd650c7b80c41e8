"""Brute-force references shared by tests, and the comparison of recomputed tracked outputs with committed ones."""
import math
import re

import numpy as np
from scipy import integrate, stats

from simtheory.curation import curated_bruteforce as enumerate_curated  # noqa: F401


def two_atom_binomial(a, d, K):
    """Top-atom curated mass of {a at reward d, 1-a at 0} by summing over the binomial count of top draws."""
    j = np.arange(1, K + 1)
    pmf = stats.binom.pmf(j, K, a)
    return float(np.sum(pmf * j / (j + (K - j) * np.exp(-d))))


def laplace_quad(p, r, K):
    """The doc's Laplace form K p w int_0^inf e^{-w s} M(s)^{K-1} ds, integrated by scipy.quad per atom."""
    p = np.asarray(p, float)
    w = np.exp(np.asarray(r, float) - np.max(r))

    def M(s):
        return np.sum(p * np.exp(-w * s))

    out = np.empty(p.size)
    for i in range(p.size):
        val, _ = integrate.quad(lambda s: w[i] * np.exp(-w[i] * s) * M(s) ** (K - 1), 0, np.inf,
                                epsabs=1e-14, epsrel=1e-12, limit=500)
        out[i] = K * p[i] * val
    return out
def interrupt_on_call(fn, n: int):
    """``fn`` wrapped to raise KeyboardInterrupt on its n-th call (a kill in the middle of a run)."""
    calls = {"n": 0}

    def wrapped(*a, **k):
        calls["n"] += 1
        if calls["n"] == n:
            raise KeyboardInterrupt
        return fn(*a, **k)
    return wrapped


def json_differences(got, want, rel: float, abs_: float, where: str = "$") -> list[str]:
    """Where two parsed JSON values differ beyond rounding: floats (either side a float) beyond ``rel``
    relative and ``abs_`` absolute, anything else (strings, integers, booleans, None, keys, lengths) at all."""
    if isinstance(want, dict) and isinstance(got, dict):
        if got.keys() != want.keys():
            return [f"{where}: keys {sorted(set(got) ^ set(want))} in one file only"]
        return [d for k in want for d in json_differences(got[k], want[k], rel, abs_, f"{where}.{k}")]
    if isinstance(want, list) and isinstance(got, list):
        if len(got) != len(want):
            return [f"{where}: length {len(got)} != {len(want)}"]
        return [d for i, (g, w) in enumerate(zip(got, want)) for d in json_differences(g, w, rel, abs_, f"{where}[{i}]")]
    numbers = (int, float)
    if (isinstance(want, float) or isinstance(got, float)) and isinstance(want, numbers) and isinstance(got, numbers) \
            and not isinstance(want, bool) and not isinstance(got, bool):
        same = math.isclose(got, want, rel_tol=rel, abs_tol=abs_) or (math.isnan(got) and math.isnan(want))
        return [] if same else [f"{where}: {got!r} != {want!r}"]
    return [] if type(got) is type(want) and got == want else [f"{where}: {got!r} != {want!r}"]


NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")


def _last_digit(token: str) -> float:
    """The value of one unit in the last printed digit of a number as printed ("0.012" -> 0.001)."""
    mant, _, exp = token.lower().partition("e")
    decimals = len(mant.partition(".")[2])
    return 10.0 ** (int(exp or 0) - decimals)


def text_differences(got: str, want: str, rel: float) -> list[str]:
    """Where two printed texts differ beyond rounding: the text between numbers exactly, each number within one
    unit of the finer of the two last printed digits (a value on a rounding boundary may print either way) plus
    ``rel`` relative."""
    g_nums, w_nums = NUMBER.findall(got), NUMBER.findall(want)
    if NUMBER.split(got) != NUMBER.split(want) or len(g_nums) != len(w_nums):
        g_lines, w_lines = got.splitlines(), want.splitlines()
        for i, (a, b) in enumerate(zip(g_lines, w_lines)):
            if NUMBER.split(a) != NUMBER.split(b):
                return [f"line {i + 1}: {a!r} != {b!r}"]
        return [f"{len(g_lines)} lines != {len(w_lines)} lines"]
    out = []
    for g, w in zip(g_nums, w_nums):
        allowed = 1.000001 * min(_last_digit(g), _last_digit(w)) + rel * abs(float(w))
        if abs(float(g) - float(w)) > allowed:
            out.append(f"{g} != {w}")
    return out


__all__ = ["enumerate_curated", "two_atom_binomial", "laplace_quad", "interrupt_on_call", "json_differences",
           "text_differences"]
