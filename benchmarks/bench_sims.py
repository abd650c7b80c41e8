"""Wall time of SIMS-guided sampling against plain sampling (the reference, measured in the same run), at the
image-loop preset's network and a batch of its size: guided with both networks in one vmapped call, guided with
two calls, and plain. Goal from the issue: guided / plain <= 1.5x. Thread count: whatever the environment sets
(run with OMP_NUM_THREADS=1 for the 1-thread figure).

    python benchmarks/bench_sims.py [--config cpu] [--batch 128] [--steps 8] [--device cpu]
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _timing import best_time  # noqa: E402

from empirical.images.config import preset  # noqa: E402
from empirical.edm import generate  # noqa: E402
from empirical.networks.unet import Denoiser  # noqa: E402
from empirical.sims import guided_generate  # noqa: E402


def _net(cfg, seed, device):
    torch.manual_seed(seed)
    D = Denoiser(cfg.train.unet).to(device).eval()
    with torch.no_grad():
        for p in D.parameters():
            p.add_(0.02 * torch.randn_like(p))
    return D


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--config", default="cpu")
    ap.add_argument("--batch", type=int, default=128, help="images per sampler batch (the cpu preset's batch size)")
    ap.add_argument("--steps", type=int, default=None, help="Heun steps (default: the preset's)")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args(argv)
    cfg = preset(args.config)
    steps = args.steps or cfg.num_steps
    D, A = _net(cfg, 0, args.device), _net(cfg, 1, args.device)
    seeds = range(args.batch)
    sync = torch.cuda.synchronize if args.device.startswith("cuda") else (lambda: None)

    fns = [lambda: generate(D, seeds, args.device, steps, batch=args.batch),
           lambda: guided_generate(D, A, 1.0, seeds, args.device, steps, batch=args.batch, batched=True),
           lambda: guided_generate(D, A, 1.0, seeds, args.device, steps, batch=args.batch, batched=False)]
    # interleaved rounds, best of each: a shared machine's load then hits the three alike
    best = [float("inf")] * 3
    for _ in range(args.repeat):
        for i, f in enumerate(fns):
            best[i] = min(best[i], best_time(lambda: (f(), sync()), 1))
    t_plain, t_one, t_two = best
    print(f"config {args.config}, device {args.device}, threads {torch.get_num_threads()}, batch {args.batch}, "
          f"{steps} Heun steps ({2 * steps - 1} evaluations per network)")
    print(f"plain sampling          {t_plain:8.3f} s   1.00x (reference)")
    print(f"guided, one vmapped call {t_one:7.3f} s   {t_one / t_plain:.2f}x")
    print(f"guided, two calls       {t_two:8.3f} s   {t_two / t_plain:.2f}x")
    best = min(t_one, t_two)
    print(f"best guided / plain     {best / t_plain:.2f}x (goal <= 1.5x: {'met' if best / t_plain <= 1.5 else 'not met'})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
