"""Theory against measurement for any loop run folder (images, CPU or GPU, or points): ``python -m empirical compare
RUN...``.

Per generation t >= 1, from gen_XXX/synthetic.npz (the candidates' rewards and classifier labels, the kept
indices, the real images' rewards and labels when real data are mixed in) and metrics.jsonl (the new model's
measured values on n_eval images):

- one-step prediction ([`simtheory.predict.one_step`][simtheory.predict.onestep.one_step]): the exact curated step on
generation t's
  candidates (samples of model t-1), mixed with the real images at the run's lam, against the kept set
  (tests the selection) and model t's measured values (the gap is the fit error: what infinite capacity misses);
- multi-step prediction ([`simtheory.predict.trajectory`][simtheory.predict.multistep.trajectory]): the exact dynamics
run forward from generation
  1's candidates alone (samples of model 0), lam, K and scheme as in the run;
- each model's fit error (against its training set) and, where the data law is known, its law error (against the
  exact curated trajectory of the law), as the loop recorded them, and the sampler error where measured;
- the checks: ``fit`` and ``law`` ([`simtheory.predict.model_checks`][simtheory.predict.checks.model_checks]: these fail
when the network does not
  fit), the selection and Lemma 2.2 on the kept sets, and the theorems' consequences given the fit
  ([`simtheory.predict.loop_checks`][simtheory.predict.checks.loop_checks]).

Writes <out>/compare.json, compare.md (tables with standard errors) and compare_reward.png,
compare_classes.png. No torch: it reads arrays only.
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from simtheory import predict
from simtheory.runs import atomic_write, jsonable, read_metrics

N_SE = 4.0      # allowance of the property checks, in standard errors
KEYS = ("candidate_rewards", "candidate_labels", "kept_index")
KINDS = ("image_loop", "point_loop", "mixture_loop")


class MissingCandidates(ValueError):
    """A run folder without the per-generation candidate data the predictions need."""


def _npz(path: Path) -> dict:
    with np.load(path) as z:
        return {k: z[k] for k in z.files}


def _generation(folder: Path, t: int) -> dict:
    f = folder / f"gen_{t:03d}" / "synthetic.npz"
    if not f.exists():
        raise MissingCandidates(
            f"{folder}: generation {t} has no gen_{t:03d}/synthetic.npz (only config.json and metrics.jsonl "
            "were kept). Rerun the loop with the command in the folder's README.md into a new folder; the loop "
            "now stores every candidate's reward and label there.")
    z = _npz(f)
    missing = [k for k in KEYS if k not in z]
    if missing:
        raise MissingCandidates(
            f"{folder}: gen_{t:03d}/synthetic.npz lacks {', '.join(missing)}: the folder was made before the loop "
            "recorded its candidates, so the predictions cannot be recomputed from it. Rerun the loop (same "
            "command, new folder) to compare theory with measurement.")
    return z


def load_run(folder) -> dict:
    """config, metrics rows and every generation's arrays of a loop run folder (image or point loop);
    MissingCandidates (a ValueError naming the folder and what is missing) for folders made before candidates
    were recorded."""
    folder = Path(folder)
    if not (folder / "config.json").exists():
        raise ValueError(f"{folder} is not a run folder (no config.json)")
    cfg = json.loads((folder / "config.json").read_text())
    if cfg.get("kind") not in KINDS:
        raise ValueError(f"{folder} holds a {cfg.get('kind')!r} run; compare reads {' and '.join(KINDS)} run folders")
    rows = read_metrics(folder)
    gens = [_generation(folder, t) for t in range(1, len(rows))]
    if not gens:
        raise ValueError(f"{folder}: needs at least one finished generation after generation 0, has {len(rows)} rows")
    return {"folder": folder, "config": cfg, "rows": rows, "gens": gens}


def _measured(row: dict) -> dict:
    """A metrics row as [`simtheory.predict.sample_means`][simtheory.predict.values.sample_means] output (binomial SEs from the n_measured samples the
    model was measured on; n_eval in folders made before models were measured on more)."""
    q = np.asarray(row["class_proportions"], float)
    n = row.get("n_measured") or row["n_eval"]
    out = {"n": n, "mean_reward": row["mean_reward"], "mean_reward_se": row["reward_se"],
           "class_proportions": q.tolist(), "class_proportions_se": np.sqrt(q * (1 - q) / n).tolist()}
    if "mean_exp_reward" in row:
        out["mean_exp_reward"], out["mean_exp_reward_se"] = row["mean_exp_reward"], row["mean_exp_reward_se"]
    return out


def _real(cfg: dict, gens: list[dict], t: int):
    """(rewards, labels, lam) of the other training images of generation t (1-based) and this generation's
    synthetic-to-other ratio: the real block, and under 'accumulate' every earlier kept set too."""
    z = gens[t - 1]
    lam, scheme = float(cfg["lam"]), cfg["scheme"]
    if lam == math.inf and scheme != "accumulate":
        return None, None, math.inf
    rr, ry = z["real_rewards"], z["real_labels"]
    if scheme != "accumulate":
        return rr, ry, lam
    prev = [(g["candidate_rewards"][g["kept_index"]], g["candidate_labels"][g["kept_index"]]) for g in gens[: t - 1]]
    m = len(z["kept_index"])
    rr = np.concatenate([rr] + [p[0] for p in prev])
    ry = np.concatenate([ry] + [p[1] for p in prev])
    return rr, ry, m / len(rr)


def _one_step(cfg: dict, gens: list[dict], t: int, C: int) -> dict:
    z = gens[t - 1]
    rr, ry, lam_t = _real(cfg, gens, t)
    return predict.one_step(z["candidate_rewards"], z["candidate_labels"].astype(np.int64), int(cfg["K"]), lam=lam_t,
                            real_rewards=rr, real_labels=ry, n_classes=C)


def _multi_step(cfg: dict, gens: list[dict], steps: int, C: int) -> dict:
    z1 = gens[0]
    rr, ry, _ = _real(cfg, gens, 1)
    return predict.trajectory(z1["candidate_rewards"], z1["candidate_labels"].astype(np.int64), int(cfg["K"]), steps,
                              lam=float(cfg["lam"]), real_rewards=rr, real_labels=ry, n_classes=C, scheme=cfg["scheme"])


def recorded_predictions(folder, config: dict, t: int, n_classes: int) -> dict:
    """What the image loop records in generation t's metrics line, from the arrays it has stored in
    gen_001..gen_t: the one-step predictions of [`simtheory.predict.one_step`][simtheory.predict.onestep.one_step]
    (``predicted_*``,
    ``predicted_kept_*``, ``candidate_*``, the Lemma 2.2 bound, each with its SE) and generation t of the
    multi-step prediction from generation 1's candidates (``multistep_predicted_*``)."""
    folder = Path(folder)
    gens = [_generation(folder, s) for s in range(1, t + 1)]
    out = _one_step(config, gens, t, n_classes)
    multi = _multi_step(config, gens, t, n_classes)
    for k, v in multi.items():
        out[f"multistep_predicted_{k}"] = np.asarray(v[t]).tolist()
    return out


def compare_run(folder) -> dict:
    """Every number of the comparison for one run folder (see the module docstring)."""
    run = load_run(folder)
    cfg, rows, gens = run["config"], run["rows"], run["gens"]
    C = len(rows[0]["classes"])
    K = int(cfg["K"])
    lam = float(cfg["lam"])
    out = {"folder": str(run["folder"]), "kind": cfg["kind"], "classes": rows[0]["classes"], "K": K, "lam": lam,
           "scheme": cfg["scheme"], "reward": cfg["reward"], "generations": []}
    records = []
    for t in range(1, len(rows)):
        z = gens[t - 1]
        cr, cy, keep = z["candidate_rewards"], z["candidate_labels"].astype(np.int64), z["kept_index"].astype(np.int64)
        rr, ry, _ = _real(cfg, gens, t)
        pred = _one_step(cfg, gens, t, C)
        kept = predict.sample_means(cr[keep], cy[keep], C)
        train_r = cr[keep] if rr is None else np.concatenate([rr, cr[keep]])
        train_y = cy[keep] if ry is None else np.concatenate([ry, cy[keep]])
        model = _measured(rows[t])
        rec = {"prediction": pred, "kept": kept, "train": predict.sample_means(train_r, train_y, C), "model": model,
               "previous": _measured(rows[t - 1])}
        records.append(rec)
        recorded = {k: rows[t][k] for k in rows[t] if k.startswith("predicted_")}
        diff = max((float(np.max(np.abs(np.asarray(v, float) - np.asarray(pred[k], float))))
                    for k, v in recorded.items() if k in pred), default=None)
        out["generations"].append({"generation": t, **rec, "comparison": predict.compare_generation(pred, kept, model),
                                   "recorded_prediction_max_abs_diff": diff})
    multi = _multi_step(cfg, gens, len(rows) - 1, C)
    out["multi_step"] = {k: np.asarray(v).tolist() for k, v in multi.items()}
    out["measured"] = [_measured(r) for r in rows]
    out["errors"] = [{k: r.get(k) for k in ERROR_KEYS if r.get(k) is not None} for r in rows]
    out["checks"] = (predict.model_checks(rows, N_SE)
                     + predict.loop_checks(records, K, lam if cfg["scheme"] != "accumulate" else 1.0, N_SE))
    return out


ERROR_KEYS = ("generation", "n_measured", "fit_error", "fit_error_se", "law_mean_reward", "law_error", "law_error_se",
              "sampler_error", "sampler_error_se", "sampler_steps", "sampler_ref_steps", "exact_sampler_error",
              "exact_sampler_error_se")
"""The per-generation errors a loop records (docs/empirical/compare.md defines each) that compare.json repeats."""


# ---------------------------------------------------------------------------------------------- output
def _pm(x, se, d=3) -> str:
    return f"{x:.{d}f} ± {se:.{d}f}"


def _is_points(res: dict) -> bool:
    return res.get("kind") == "point_loop"


def table(res: dict) -> str:
    """Markdown tables: rewards and the three errors per generation, class (or mode) proportions per generation,
    the checks."""
    pts = _is_points(res)
    unit = "points" if pts else "images"
    lines = [f"# Theory against measurement: {Path(res['folder']).name}", "",
             f"K = {res['K']}, lam = {res['lam']}, scheme {res['scheme']}, reward {res['reward']}. One-step: the exact "
             "curated step on generation t's candidates (samples of model t-1), mixed with the real "
             f"{unit} at lam. Multi-step: the exact dynamics from generation 1's candidates alone. Kept: the kept set "
             "(tests the selection). Measured: model t on its evaluation draws and the next generation's candidates "
             "(n_measured). One-step error = measured - one-step prediction; fit error = measured - the model's own "
             "training set; law error = measured - the exact curated trajectory of the data law (where it is known); "
             "z in combined SEs. All ± are one standard error.", "",
             "| t | one-step E[r] | multi-step E[r] | kept E[r] | measured E[r] | one-step error (z) | fit error (z) "
             "| law error (z) | sampler error (z) |", "|---|---|---|---|---|---|---|---|---|"]
    ms, meas, errs = res["multi_step"], res["measured"], res.get("errors", [{}] * len(res["measured"]))

    def ez(e: dict, key: str) -> str:
        v, se = e.get(key), e.get(f"{key}_se")
        return "-" if v is None else f"{v:+.4f} ({v / se:+.1f})" if se else f"{v:+.4f}"
    lines.append(f"| 0 | - | {_pm(ms['mean_reward'][0], ms['mean_reward_se'][0])} | - | "
                 f"{_pm(meas[0]['mean_reward'], meas[0]['mean_reward_se'])} | - | {ez(errs[0], 'fit_error')} | "
                 f"{ez(errs[0], 'law_error')} | {ez(errs[0], 'sampler_error')} |")
    for g in res["generations"]:
        t, p, k, m, c = g["generation"], g["prediction"], g["kept"], g["model"], g["comparison"]
        e = errs[t] if t < len(errs) else {}
        lines.append(f"| {t} | {_pm(p['predicted_mean_reward'], p['predicted_mean_reward_se'])} | "
                     f"{_pm(ms['mean_reward'][t], ms['mean_reward_se'][t])} | "
                     f"{_pm(k['mean_reward'], k['mean_reward_se'])} | "
                     f"{_pm(m['mean_reward'], m['mean_reward_se'])} | {c['onestep_error_mean_reward']:+.3f} "
                     f"({c['onestep_z_mean_reward']:+.1f}) | {ez(e, 'fit_error')} | {ez(e, 'law_error')} | "
                     f"{ez(e, 'sampler_error')} |")
    lines += ["", "Lemma 2.2 on the kept sets (units of e^r):", "",
              "| t | gain bound | predicted kept gain | kept gain |", "|---|---|---|---|"]
    for g in res["generations"]:
        p, k = g["prediction"], g["kept"]
        gain = k["mean_exp_reward"] - p["candidate_mean_exp_reward"]
        lines.append(f"| {g['generation']} | {_pm(p['lemma22_gain_bound'], p['lemma22_gain_bound_se'], 2)} | "
                     f"{_pm(p['predicted_kept_exp_gain'], p['predicted_kept_exp_gain_se'], 2)} | "
                     f"{_pm(gain, k['mean_exp_reward_se'], 2)} |")
    if len(res["classes"]) > 1:
        what = ("Mode proportions (each point labelled by its nearest mode)" if pts else
                "Class proportions (measured by the reward classifier's argmax)")
        lines += ["", f"{what} on each model's measured samples; per cell: one-step predicted / multi-step predicted "
                  "/ measured, SEs in the JSON.", "",
                  "| t | " + " | ".join(res["classes"]) + " |", "|---|" + "---|" * len(res["classes"])]
        lines.append("| 0 | " + " | ".join(f"- / {a:.3f} / {b:.3f}" for a, b in
                                            zip(ms["class_proportions"][0], meas[0]["class_proportions"])) + " |")
        for g in res["generations"]:
            t = g["generation"]
            cells = zip(g["prediction"]["predicted_class_proportions"], ms["class_proportions"][t],
                        g["model"]["class_proportions"])
            lines.append(f"| {t} | " + " | ".join(f"{a:.3f} / {b:.3f} / {c:.3f}" for a, b, c in cells) + " |")
    lines += ["", f"Checks (allowance {N_SE:g} SE; scope: 'model' checks fail when the network does not fit, 'kept set' "
              "checks test the selection, 'given the fit' checks add the measured fit error to their allowance; "
              "simtheory.predict.model_checks and loop_checks):", "",
              "| t | check | scope | value | allowance | holds |", "|---|---|---|---|---|---|"]
    for c in sorted(res["checks"], key=lambda c: c["generation"]):
        lines.append(f"| {c['generation']} | {c['check']} | {c.get('scope', '')} | {c['value']:.4g} | "
                     f"{c['allowance']:.4g} | {c['holds']} |")
    return "\n".join(lines) + "\n"


def figures(res: dict, out: Path) -> list[Path]:
    """compare_reward.png (E[r] per generation: measured, one-step, multi-step band, kept; fit error) and
    compare_classes.png (one panel per class: measured against one-step and multi-step predictions)."""
    from simtheory.plots import new_figure, save_figure
    T = len(res["measured"])
    ts = np.arange(T)
    gt = np.array([g["generation"] for g in res["generations"]])
    ms, meas = res["multi_step"], res["measured"]
    fig, (a, b) = new_figure(1, 2, figsize=(9, 3.2))
    mr, mse = np.array(ms["mean_reward"]), np.array(ms["mean_reward_se"])
    a.fill_between(ts, mr - 2 * mse, mr + 2 * mse, color="C1", alpha=0.25, lw=0)
    a.plot(ts, mr, "C1--", label="multi-step (from gen 1's candidates)")
    a.errorbar(gt, [g["prediction"]["predicted_mean_reward"] for g in res["generations"]],
               2 * np.array([g["prediction"]["predicted_mean_reward_se"] for g in res["generations"]]),
               fmt="s", color="C0", ms=4, capsize=2, label="one-step prediction")
    a.errorbar(gt + 0.08, [g["kept"]["mean_reward"] for g in res["generations"]],
               2 * np.array([g["kept"]["mean_reward_se"] for g in res["generations"]]),
               fmt="^", color="C2", ms=4, capsize=2, label="kept set (before mixing)")
    a.errorbar(ts - 0.08, [m["mean_reward"] for m in meas], 2 * np.array([m["mean_reward_se"] for m in meas]),
               fmt="o", color="k", ms=4, capsize=2, label="measured (model)")
    a.set_xlabel("generation")
    a.set_xticks(ts)
    a.set_ylabel("mean reward (± 2 SE)")
    a.legend(fontsize=7, frameon=False)
    c = [g["comparison"] for g in res["generations"]]
    b.axhline(0, color="0.6", lw=0.8)
    b.errorbar(gt, [x["onestep_error_mean_reward"] for x in c],
               2 * np.array([x["onestep_error_mean_reward_se"] for x in c]), fmt="s", color="C0", capsize=2,
               label="one-step error")
    for key, color, shift, name in (("fit_error", "C3", 0.08, "fit error (vs training set)"),
                                    ("law_error", "C2", 0.16, "law error (vs exact law)")):
        e = [(r["generation"], r[key], r[f"{key}_se"]) for r in res.get("errors", []) if r.get(key) is not None]
        if e:
            tt, v, se = (np.asarray(a) for a in zip(*e))
            b.errorbar(tt + shift, v, 2 * se, fmt="o", color=color, capsize=2, label=name)
    b.legend(fontsize=7, frameon=False)
    b.set_xlabel("generation")
    b.set_xticks(ts)
    b.set_ylabel("measured - reference (± 2 SE)")
    fig.suptitle(Path(res["folder"]).name, fontsize=9)
    fig.tight_layout()
    paths = [out / "compare_reward.png"]
    save_figure(fig, paths[0])
    C = len(res["classes"])
    ncol = min(C, 5)
    fig, axes = new_figure(int(math.ceil(C / ncol)), ncol, figsize=(2.2 * ncol, 2.0 * math.ceil(C / ncol)),
                             squeeze=False, sharex=True)
    mp, mps = np.array(ms["class_proportions"]), np.array(ms["class_proportions_se"])
    for j, ax in enumerate(axes.ravel()):
        if j >= C:
            ax.axis("off")
            continue
        ax.fill_between(ts, mp[:, j] - 2 * mps[:, j], mp[:, j] + 2 * mps[:, j], color="C1", alpha=0.25, lw=0)
        ax.plot(ts, mp[:, j], "C1--")
        ax.errorbar(gt, [g["prediction"]["predicted_class_proportions"][j] for g in res["generations"]],
                    2 * np.array([g["prediction"]["predicted_class_proportions_se"][j] for g in res["generations"]]),
                    fmt="s", color="C0", ms=3, capsize=2)
        ax.errorbar(ts - 0.08, [m["class_proportions"][j] for m in meas],
                    2 * np.array([m["class_proportions_se"][j] for m in meas]), fmt="o", color="k", ms=3, capsize=2)
        ax.set_title(res["classes"][j], fontsize=8)
        ax.set_xticks(ts)
    fig.suptitle(f"{Path(res['folder']).name}: class proportions; black measured, blue one-step, orange multi-step "
                 "(± 2 SE)", fontsize=8)
    fig.tight_layout()
    paths.append(out / "compare_classes.png")
    save_figure(fig, paths[1])
    return paths


def write(res: dict, out) -> list[Path]:
    """compare.json, compare.md and the two figures into ``out``."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write(out / "compare.json", (json.dumps(_json(res), indent=1) + "\n").encode())
    atomic_write(out / "compare.md", table(res).encode())
    return [out / "compare.json", out / "compare.md"] + figures(res, out)


def _json(x):
    """JSON-ready copy with floats to 12 significant digits: the file then stays byte-identical when a summation
    order changes the last bits (a tracked compare.json must not change on a rerun)."""
    if isinstance(x, dict):
        return {k: _json(v) for k, v in jsonable(x).items()}
    if isinstance(x, (list, tuple)):
        return [_json(v) for v in x]
    if isinstance(x, np.ndarray):
        return _json(x.tolist())
    if isinstance(x, (np.floating, np.integer)):
        x = x.item()
    if isinstance(x, float) and math.isfinite(x):
        return float(f"{x:.12g}")
    return x
