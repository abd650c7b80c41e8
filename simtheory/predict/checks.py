r"""Theory against one generation ([`compare_generation`][simtheory.predict.checks.compare_generation]) and the per-generation checks of a sampled loop:
the model's fit and law errors ([`model_checks`][simtheory.predict.checks.model_checks]) and the theorems' consequences
([`loop_checks`][simtheory.predict.checks.loop_checks]).
"""
from __future__ import annotations

import math

import numpy as np

from .. import validate
from .intervals import interval_se
from .values import _plain, zscore


QUANTITIES = ("mean_reward", "mean_exp_reward", "class_proportions")


def compare_generation(prediction: dict, kept: dict | None, model: dict | None) -> dict:
    r"""Predicted against measured for one generation, per quantity q in `QUANTITIES` present in both:

    ``selection_z_q``: (kept set - predicted kept law) / combined SE -- tests the selection (conservative,
    [`zscore`][simtheory.predict.values.zscore]). ``onestep_error_q`` = next model's measured - predicted next law, with
    ``onestep_error_q_se`` (independent draws) and ``onestep_z_q`` -- what infinite capacity misses, plus the
    selection's and the model's sampling noise (the fit error proper, model against its training set, is the
    loop's ``fit_error``).
    ``kept`` and ``model`` are [`sample_means`][simtheory.predict.values.sample_means]-shaped dicts (keys q and q_se).
    Where the prediction
    carries its interval (``_lo``, ``_hi``) the prediction's SE is
    [`interval_se`][simtheory.predict.intervals.interval_se] on the measured side.
    """
    out = {}
    for q in QUANTITIES:
        pk, pn = prediction.get(f"predicted_kept_{q}"), prediction.get(f"predicted_{q}")
        if kept is not None and pk is not None and q in kept:
            out[f"selection_z_{q}"] = _plain(zscore(kept[q], _null_se(kept, q, pk), pk,
                                                    interval_se(prediction, f"predicted_kept_{q}", kept[q])))
        if model is not None and pn is not None and model.get(q) is not None:
            err = np.asarray(model[q], float) - np.asarray(pn, float)
            ms = _null_se(model, q, pn)
            ps = interval_se(prediction, f"predicted_{q}", model[q])
            out[f"onestep_error_{q}"], out[f"onestep_error_{q}_se"] = _plain(err), _plain(np.hypot(ms, ps))
            out[f"onestep_z_{q}"] = _plain(zscore(model[q], ms, pn, ps))
    return out


def _null_se(sample: dict, q: str, predicted) -> np.ndarray:
    """A measured value's SE for testing it against a prediction: for class proportions the binomial SE under
    the prediction, sqrt(pi (1 - pi) / n) (the plug-in SE is 0 for a class the sample happens to miss, which
    would make any rare predicted class a failure); for means the sample's own SE."""
    if q == "class_proportions" and "n" in sample:
        pi = np.clip(np.asarray(predicted, float), 0.0, 1.0)     # rounding only: predictions are probabilities
        return np.sqrt(pi * (1 - pi) / sample["n"])
    return np.asarray(sample[f"{q}_se"], float)


def _tv(a, b) -> float:
    return float(0.5 * np.abs(np.asarray(a, float) - np.asarray(b, float)).sum())


SCOPES = {"selection": "kept set", "lemma22": "kept set", "exp_reward_no_fall": "given the fit",
          "k1_no_drift": "given the fit", "real_data_distance": "given the fit", "fit": "model", "law": "model"}
"""What each check is about: the kept set (the selection, exact within noise whatever the network), the model
(its measured values against its training set or the exact law: these fail when the network does not fit), or
the theorems' consequences *given the fit* (allowances that include the measured fit error, so they hold whenever
the kept sets behave, however poor the network)."""


def model_checks(rows: list[dict], n_se: float = 4.0) -> list[dict]:
    r"""Checks on each model of a loop that fail when the network does not fit, from its metrics lines:

    - ``fit``: $|E_{model_t}[r] - E_{train_t}[r]| \le$ ``n_se`` SE (``fit_error``, ``fit_error_se``: the
      model's draws and its finite training set);
    - ``law`` (where the data law is known): $|E_{model_t}[r] - E_{p_t}[r]| \le$ ``n_se`` SE against the
      exact curated trajectory p_t of the law (``law_error``, ``law_error_se``: the model's draws, the law's atoms
      and the loop's finite sets, [`law_trajectory`][simtheory.predict.multistep.law_trajectory]).

    Returns rows {generation, check, value (|error|), allowance (n_se SE), holds, scope 'model'}, for every line that
    records the error."""
    out = []
    for row in rows:
        for check in ("fit", "law"):
            e, se = row.get(f"{check}_error"), row.get(f"{check}_error_se")
            if e is None or se is None:
                continue
            out.append({"generation": int(row["generation"]), "check": check, "value": abs(float(e)),
                        "allowance": n_se * float(se), "holds": bool(abs(e) <= n_se * se), "scope": "model"})
    return out


def loop_checks(generations: list[dict], K, lam: float, n_se: float = 4.0) -> list[dict]:
    r"""The theorems' consequences for a sampled loop, checked generation by generation with allowances from
    the sample sizes (``n_se`` standard errors) and the measured fit error. The last three are consistency checks
    *given the fit* ([`SCOPES`][simtheory.predict.checks.SCOPES]): their allowance includes the fit error the model
    shows, so a network that
    does not fit passes them; [`model_checks`][simtheory.predict.checks.model_checks] holds the model itself to its
    training set and the law.

    Each element of ``generations`` (t = 1, 2, ...) holds ``prediction``
    ([`one_step`][simtheory.predict.onestep.one_step] on generation t's
    candidates, i.e. samples of model t-1), ``kept`` (the kept set), ``train`` (the whole training set of model
    t: kept and real), ``model`` (samples of model t) and optionally ``previous`` (other samples of model t-1),
    the last four [`sample_means`][simtheory.predict.values.sample_means]-shaped.
    Returns rows {generation, check, value, allowance, holds}; a check holds when value <= allowance.

    - ``selection``: max over the reward and classes of |kept - predicted kept law| / combined SE (Eq. 6).
    - ``lemma22``: bound - (E_kept[e^r] - E_cand[e^r]) against n_se SEs (Lemma 2.2: the gain is above the bound).
    - ``exp_reward_no_fall`` (lam = inf): E_{t-1}[e^r] (candidates) - E_t[e^r] (model) against the kept set's
      noise plus the measured fit error max(0, E_train[e^r] - E_t[e^r]) (Lemma 2.2: the exact step never
      lowers E[e^r]).
    - ``k1_no_drift`` (K = 1, lam = inf): |proportions_t - proportions_{t-1}| per class (``previous``) against
      noise plus the measured per-class fit error |model_t - train_t| (K = 1 is the identity map, so train_t is
      the candidates' law and only the candidates' agreement with ``previous`` is left to noise).
    - ``real_data_distance`` (lam finite): TV(model_t, data) - TV(predicted_t, data) against the noise of the
      kept set (diluted by lam / (1 + lam)) plus the measured fit error TV(model_t, train) (triangle
      inequality through the training set, whose distance to the prediction is selection noise).
    """
    k = validate.group_size(K, "K")
    la = validate.ratio(lam, "lam")
    rows = []
    for t, g in enumerate(generations, start=1):
        pred, kept, train, model = g["prediction"], g.get("kept"), g.get("train"), g.get("model")

        def add(check, value, allowance):     # 1e-12: differences of equal probabilities are rounding
            rows.append({"generation": t, "check": check, "value": float(value), "allowance": float(allowance),
                         "holds": bool(value <= allowance + 1e-12), "scope": SCOPES[check]})
        if kept is not None:
            z = compare_generation(pred, kept, None)
            zs = np.concatenate([np.abs(np.atleast_1d(z[f"selection_z_{q}"]))
                                 for q in ("mean_reward", "class_proportions") if f"selection_z_{q}" in z])
            add("selection", zs.max(), n_se)
            gain = kept["mean_exp_reward"] - pred["candidate_mean_exp_reward"]
            add("lemma22", pred["lemma22_gain_bound"] - gain,
                n_se * math.hypot(kept["mean_exp_reward_se"], pred["predicted_kept_exp_gain_se"]))
        if model is None or train is None:
            continue
        if la == math.inf and model.get("mean_exp_reward") is not None and kept is not None:
            # cand - model = (train - model) + (cand - kept): only a fall beyond the kept set's noise fails
            drop = pred["candidate_mean_exp_reward"] - model["mean_exp_reward"]
            add("exp_reward_no_fall", drop,
                n_se * math.hypot(kept["mean_exp_reward_se"], pred["predicted_kept_exp_gain_se"])
                + max(0.0, train["mean_exp_reward"] - model["mean_exp_reward"]))
        if "class_proportions" not in model:
            continue
        m = np.asarray(model["class_proportions"])
        prev = g.get("previous")
        if k == 1 and la == math.inf and prev is not None and "class_proportions" in prev:
            pp = np.asarray(prev["class_proportions"])
            fit = np.abs(m - np.asarray(train["class_proportions"]))
            c = np.asarray(pred["candidate_class_proportions"])
            if "n" in prev:     # two samples of one model: binomial SE of the difference at the pooled proportion
                nc, npv = pred["n_candidates"], prev["n"]
                pi = (c * nc + pp * npv) / (nc + npv)
                noise = np.sqrt(pi * (1 - pi) * (1 / nc + 1 / npv))
            else:
                noise = np.hypot(pred["candidate_class_proportions_se"], prev["class_proportions_se"])
            # m_t - m_{t-1} = (m_t - train_t) + (cand_t - m_{t-1}) exactly, train_t being the candidates
            excess = np.abs(m - pp) - n_se * noise - fit
            add("k1_no_drift", excess.max(), 0.0)
        if la != math.inf and "real_class_proportions" in pred and kept is not None:
            data = pred["real_class_proportions"]
            pk = pred["predicted_kept_class_proportions"]
            noise = 0.5 * n_se * la / (1 + la) * np.hypot(_null_se(kept, "class_proportions", pk),
                                                          np.asarray(pred["predicted_kept_class_proportions_se"])).sum()
            add("real_data_distance", _tv(m, data) - _tv(pred["predicted_class_proportions"], data),
                noise + _tv(m, train["class_proportions"]))
    return rows
