"""The Heun sampler's share of the mixture rung's error: the exact denoiser of the law through the loop's sampler at
several step counts, against the law's E[r] and class shares and, paired on the same latents, against a reference
step count (empirical.mixture.exact_sampler_steps).

    OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 NUMBA_NUM_THREADS=1 PYTHONPATH=. python \
        results/mixture-sampler-steps/measure.py --config cpu --out results/mixture-sampler-steps/cpu.json

No network is trained: the denoiser is the law's own (Tweedie), so every error is the sampler's.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--config", default="cpu", help="mixture preset whose law and reward are used (default: cpu)")
    p.add_argument("--steps", default="8,12,18,24,32,48,64,96,128", help="step counts to measure")
    p.add_argument("--ref", type=int, default=256, help="reference step count (default: 256)")
    p.add_argument("--n", type=int, default=8192, help="latents per step count (default: 8192)")
    p.add_argument("--seed", type=int, default=0, help="seed of the latents' seed block (default: 0)")
    p.add_argument("--device", default="cpu", help="device of the sampler (default: cpu)")
    p.add_argument("--out", required=True, help="the JSON file to write")
    args = p.parse_args()
    import torch

    from empirical.mixture import exact_sampler_steps, mixture_preset
    t0, w0 = time.process_time(), time.perf_counter()
    cfg = mixture_preset(args.config, device=args.device)
    res = exact_sampler_steps(cfg, [int(s) for s in args.steps.split(",")], args.n, args.ref, seed=args.seed)
    res.update(config=args.config, cpu_seconds=time.process_time() - t0, wall_seconds=time.perf_counter() - w0,
               torch_threads=torch.get_num_threads())
    Path(args.out).write_text(json.dumps(res, indent=1) + "\n")
    for r in res["rows"]:
        print(r["steps"], f"{r['law_error']:+.4f} +- {r['law_error_se']:.4f}",
              f"paired {r['paired_error']:+.4f} +- {r['paired_error_se']:.4f}",
              f"max share {max(abs(v) for v in r['paired_class_share_error']):.4f}")


if __name__ == "__main__":
    main()
