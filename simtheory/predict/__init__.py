r"""Exact predictions of a sampled curation loop's next generations from its own samples (theory vs experiment).

A generation of a sampled loop (the image loop, or a finite-sample family loop) draws n = K m candidates from
the current model, scores them (r_i) and labels them (y_i: a classifier's argmax, an atom's class, a mode),
keeps one per group of K by softmax(r), mixes the kept ones with real data and retrains. Take the candidates as
atoms of mass 1/n, $\hat P_n$. The exact curated step (Eq. 6 of Ferbach et al. 2024,
[`simtheory.curated`][simtheory.curation.curated]) gives the law of a kept sample, $c(\hat P_n)$; with real data at
ratio lam the next model's law under infinite capacity is $(P_{real} + \lambda\, c(\hat P_n)) / (1 + \lambda)$ (Sec. 3),
$P_{real}$ the real training images' rewards and labels as atoms of mass 1/N. Every mean of a per-sample
value f (the reward, e^r, a one-hot label) is then a number; [`one_step`][simtheory.predict.onestep.one_step] returns
them,
[`trajectory`][simtheory.predict.multistep.trajectory] runs the exact dynamics forward for many generations from one
generation's samples.

Standard errors (delta method). A prediction is a smooth functional $\theta(\hat P_n)$; for one step it
is the V-statistic of degree K with kernel $h(x_1..x_K) = \sum_k f(x_k)\,\mathrm{softmax}_k(r)$. Its
first-order (Hoeffding) term is $\frac1n\sum_i IF(x_i)$, IF the influence function (the derivative of
theta in the direction $\delta_x - P$), so $\mathrm{Var}\,\theta(\hat P_n) = \mathrm{Var}_P IF / n
+ O(n^{-2})$ and the plug-in SE is $\sqrt{\overline{IF^2}/n}$ over the candidates (the mean of IF under
$\hat P_n$ is 0 exactly). At K = inf this is the usual delta-method variance of the ratio estimator
$\sum f e^r / \sum e^r$; at K = 1 the binomial/sample-mean variance. IF is computed exactly (to quadrature
rounding) by reverse-mode differentiation of the curated map, [`curated_vjp`][simtheory.predict.derivative.curated_vjp],
chained through every step
of a trajectory. The real images enter as fixed atoms: the next model is trained on exactly those images, so
the SE is that of the n candidates, as the loop's question is what its own samples predict.

Intervals (``_lo``, ``_hi``). The delta-method SE is right on average, but theta-hat is not normal when a few
candidates carry most of the weight (K = inf and unbounded rewards: p_t / p_0 is proportional to e^{t r}):
a sample that misses the tail gives a low estimate *and* a low SE, so the studentised error is skewed and
heavy-tailed and theta-hat +- 1.96 SE covers well below its nominal level at t >= 2 (the coverage tests of
`simtheory.predict` measure it; docs/theory/index.md gives the numbers). Each
interval is instead [`interval`][simtheory.predict.intervals.interval]: the studentised statistic corrected for skewness
by Hall's (1992) cubic
transformation, with the skewness of the exact influence function, and Student-t quantiles with the
Satterthwaite degrees of freedom of the variance estimate, (sum IF^2)^2 / sum IF^4 (the effective number of
candidates the SE rests on). Both come from the IF already computed, so they cost O(n) more.

Modules: [`derivative`][simtheory.predict.derivative] (the curated map on a Gumbel grid and its reverse-mode
derivative), [`values`][simtheory.predict.values]
(per-atom values, checked inputs, measured means and z scores), [`intervals`][simtheory.predict.intervals],
[`multistep`][simtheory.predict.multistep] (the exact
fold from one generation's samples and its influence functions: [`trajectory`][simtheory.predict.multistep.trajectory],
[`law_trajectory`][simtheory.predict.multistep.law_trajectory]),
[`onestep`][simtheory.predict.onestep] ([`one_step`][simtheory.predict.onestep.one_step],
[`lemma22`][simtheory.predict.onestep.lemma22]) and [`checks`][simtheory.predict.checks] (theory against one generation,
and the per-generation checks of a loop).
"""
from .checks import QUANTITIES, SCOPES, compare_generation, loop_checks, model_checks
from .derivative import curated_vjp
from .intervals import interval, interval_se
from .multistep import law_trajectory, trajectory
from .onestep import lemma22, one_step
from .values import sample_means, zscore

__all__ = ["QUANTITIES", "SCOPES", "compare_generation", "curated_vjp", "interval", "interval_se", "law_trajectory",
           "lemma22", "loop_checks", "model_checks", "one_step", "sample_means", "trajectory", "zscore"]
