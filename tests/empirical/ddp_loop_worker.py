"""Runs a small image loop; run plainly or under torchrun (tests/empirical/test_ddp.py)."""
import sys
from dataclasses import replace

import torch

from empirical.images.config import preset
from empirical.images import run_image_loop

torch.set_num_threads(1)
cfg = preset("tiny")
cfg = replace(cfg, generations=2, n_eval=32, finetune_samples=512,
              train=replace(cfg.train, total_samples=1024, checkpoint_samples=512))
run_image_loop(cfg, sys.argv[1], progress=False)
