"""Wall time of the mixture loop's parts at one thread: the law's set-up (its exact curated trajectory, moments and
Frechet floors), the base with its generation-0 measurements, and one curated generation (fine-tune, K N candidates
sampled and scored, evaluation draws, the sampler check, the Frechet distances), for a preset.

    OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 NUMBA_NUM_THREADS=1 PYTHONPATH=. python \\
        results/mixture-generation-time/measure.py --config cpu --train-samples 20000 \\
        --out results/mixture-generation-time/cpu.json

``--train-samples`` shortens the base only (the generation's cost does not depend on how long the base trained:
the fine-tune's budget, the sample counts and the steps are the preset's). The run folder goes to a temporary
folder and is removed.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--config", default="cpu", help="mixture preset (default: cpu)")
    p.add_argument("--train-samples", type=int, default=None, help="the base's budget (default: the preset's)")
    p.add_argument("--out", required=True, help="the JSON file to write")
    args = p.parse_args()
    import torch

    from empirical.mixture import kind as mixture_kind
    from empirical.mixture import mixture_preset
    from simtheory.runs import RunFolder
    torch.set_num_threads(1)
    over = {} if args.train_samples is None else {"train_samples": args.train_samples}
    cfg = mixture_preset(args.config, generations=1, **over)
    marks: list = []
    append, start = RunFolder.append, mixture_kind.MixtureData.start

    def timed_append(self, rec):
        marks.append(("metrics", (time.perf_counter(), time.process_time())))
        return append(self, rec)

    def timed_start(self, rf):
        t, c = time.perf_counter(), time.process_time()
        start(self, rf)
        marks.append(("law", (time.perf_counter() - t, time.process_time() - c)))
    RunFolder.append, mixture_kind.MixtureData.start = timed_append, timed_start
    with tempfile.TemporaryDirectory() as tmp:
        t0, c0 = time.perf_counter(), time.process_time()
        rf = mixture_kind.run_mixture_loop(cfg, Path(tmp) / "run", progress=False)
        total, cpu = time.perf_counter() - t0, time.process_time() - c0
        rows = rf.metrics()
    law_s = next(v for k, v in marks if k == "law")
    m0, m1 = (v for k, v in marks if k == "metrics")
    res = {"config": args.config, "base_samples": cfg.train.total_samples, "finetune_samples": cfg.finetune_samples,
           "n_samples": cfg.n_samples, "K": cfg.K, "num_steps": cfg.num_steps, "n_eval": cfg.n_eval,
           "sampler_ref_steps": cfg.sampler_ref_steps, "n_sampler": cfg.n_sampler, "n_law": cfg.n_law,
           "law_setup_s": law_s[0], "base_and_generation0_s": m0[0] - t0 - law_s[0], "generation1_s": m1[0] - m0[0],
           "law_setup_cpu_s": law_s[1], "base_and_generation0_cpu_s": m0[1] - c0 - law_s[1],
           "generation1_cpu_s": m1[1] - m0[1],
           "total_wall_s": total, "total_cpu_s": cpu, "torch_threads": torch.get_num_threads(),
           "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS"), "load_average": os.getloadavg(),
           "machine": platform.processor() or platform.machine(),
           "fit_error_1": rows[1]["fit_error"], "law_error_1": rows[1]["law_error"]}
    Path(args.out).write_text(json.dumps(res, indent=1) + "\n")
    print(json.dumps(res, indent=1))


if __name__ == "__main__":
    main()
