"""Distribution shifting on one image base: the base's class proportions measured on seed set 0 (with add-one
smoothing), the auxiliary's synthetic set composed with the proportions of the product form
([`simtheory.diffusion.shifting.aux_weights_for_target`][simtheory.diffusion.shifting.aux_weights_for_target]) for a
target share of one class, and the achieved
proportions (by the reward classifier) on the report sets against the target and the base."""
from __future__ import annotations

import json

import numpy as np

from simtheory.diffusion.shifting import aux_weights_for_target, product_form_masses
from simtheory.runs import RunFolder, atomic_write

from ..edm.guidance import num_classes
from .auxiliary import load_base
from .config import SimsConfig, lc_of, seed_set
from .measure import Context


def base_estimate(proportions, n: int) -> np.ndarray:
    """The base's class proportions from n labelled samples with add-one (Laplace) smoothing,
    (count + 1) / (n + C): the derivation needs every class > 0, and a class unseen in n draws is rare, not absent."""
    counts = np.rint(np.asarray(proportions, float) * n)
    return (counts + 1) / (counts.sum() + len(counts))


def shift_target(class_names, base_props: np.ndarray, cls: str, share: float) -> np.ndarray:
    """Target proportions: ``share`` on class ``cls``, the rest split among the others in their base proportions."""
    names = list(class_names)
    if cls not in names:
        raise ValueError(f"shift class {cls!r} is not among {names}")
    i = names.index(cls)
    b = np.asarray(base_props, float)
    t = b * (1 - share) / (1 - b[i])
    t[i] = share
    return t


def run_shift(cfg: SimsConfig, base_run, out, progress: bool = False, lc=None) -> RunFolder:
    """Distribution shifting: base proportions measured on seed set 0 ([`base_estimate`][empirical.sims.shift.base_estimate]), the auxiliary's set composed with
    [`simtheory.diffusion.shifting.aux_weights_for_target`][simtheory.diffusion.shifting.aux_weights_for_target] for the
    target (``shift_class`` at ``shift_share``) and
    ``shift_w``, then achieved proportions (classifier) on the report sets against the target and the base.
    Needs one n_s and one B, and an unconditional base (a conditional one samples chosen classes directly)."""
    if len(cfg.n_s) != 1 or len(cfg.images) != 1:
        raise ValueError(f"distribution shifting builds one auxiliary: pass one n_s and one B, got n_s {list(cfg.n_s)}, "
                         f"B {list(cfg.images)}")
    if cfg.shift_w == 0:
        raise ValueError("distribution shifting needs shift_w > 0 (w = 0 ignores the auxiliary)")
    lc = lc_of(cfg, base_run, lc)
    if cfg.shift_class not in lc.class_names:
        raise ValueError(f"shift class {cfg.shift_class!r} is not among the base's classes {list(lc.class_names)}")
    if num_classes(load_base(base_run)):
        raise ValueError("distribution shifting is for an unconditional base: a class-conditional base samples the "
                         "classes it is given")
    # the folder is held until the run ends
    with RunFolder.open(out, {**cfg.to_dict(), "kind": "sims_shift", "base": str(base_run)}) as rf:
        ctx = Context(cfg, lc, base_run, rf, progress, inception=False)
        done = {(r["stage"], r.get("set")): r for r in rf.metrics()}
        n_s, B, w = cfg.n_s[0], cfg.images[0], cfg.shift_w
        if ("base", 0) not in done:
            done["base", 0] = {"stage": "base", "set": 0, "w": 0.0, **ctx.measure(None, 0.0, seed_set(0, cfg.n))}
            rf.append(done["base", 0])
        base_p = base_estimate(done["base", 0]["class_proportions"], cfg.n)
        target = shift_target(ctx.lc.class_names, base_p, cfg.shift_class, cfg.shift_share)
        aux_p = aux_weights_for_target(base_p, target, w)
        aux = ctx.auxiliary(n_s, B, name=f"aux-shift-ns{n_s}-B{B}", class_proportions=aux_p, label_fn=ctx.label_fn)
        plain_aux = ctx.auxiliary(n_s, B)
        for j in range(1, cfg.n_sets):
            for stage, a, ww in (("base", None, 0.0), ("sims", plain_aux, w), ("shift", aux, w)):
                if (stage, j) not in done:
                    rec = {"stage": stage, "set": j, "w": ww, **ctx.measure(a, ww, seed_set(j, cfg.n))}
                    if stage == "shift":
                        rec.update({"target": target.tolist(), "aux_proportions": aux_p.tolist(),
                                    "predicted_product_form": product_form_masses(base_p, aux_p, w).tolist()})
                    rf.append(rec)
                    done[stage, j] = rec
        write_shift_summary(rf, cfg, target, aux_p)
    return rf


def shift_summary(rows: list[dict], class_name: str, target) -> dict:
    """Target-class share and TV distance to the target, per stage (base, sims, shift), over the report sets."""
    t = np.asarray(target)
    out = {}
    for stage in ("base", "sims", "shift"):
        rs = [r for r in rows if r["stage"] == stage and r["set"] > 0]
        if not rs:
            continue
        i = rs[0]["classes"].index(class_name)
        share = [r["class_proportions"][i] for r in rs]
        tv = [0.5 * float(np.abs(np.asarray(r["class_proportions"]) - t).sum()) for r in rs]
        out[stage] = {"share": share, "tv_to_target": tv, "n": rs[0]["n"], "sets": [r["set"] for r in rs]}
    return out


def write_shift_summary(rf: RunFolder, cfg: SimsConfig, target, aux_p) -> None:
    s = shift_summary(rf.metrics(), cfg.shift_class, target)
    i = rf.metrics()[0]["classes"].index(cfg.shift_class)
    lines = [f"# SIMS distribution shifting: target {cfg.shift_class} = {cfg.shift_share}, w = {cfg.shift_w}", "",
             f"Auxiliary set proportions (product-form derivation): {np.round(aux_p, 4).tolist()}", "",
             f"Target: {np.round(np.asarray(target), 4).tolist()}", "",
             f"| stage | {cfg.shift_class} share per report set | TV to target per set |", "|---|---|---|"]
    for stage, v in s.items():
        lines.append(f"| {stage} | {', '.join(f'{x:.3f}' for x in v['share'])} | "
                     f"{', '.join(f'{x:.3f}' for x in v['tv_to_target'])} |")
    lines += ["", f"n = {cfg.n} images per set (classifier labels); target-class index {i}."]
    atomic_write(rf.path / "shift.md", ("\n".join(lines) + "\n").encode())
    atomic_write(rf.path / "shift.json", json.dumps({"target": list(map(float, target)),
                                                      "aux_proportions": list(map(float, aux_p)),
                                                      "summary": s}, indent=2).encode())
