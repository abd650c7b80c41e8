"""Trains a tiny EDM model on fixed random images; run plainly or under torchrun (tests/empirical/test_ddp.py)."""
import sys
from pathlib import Path

import numpy as np
import torch

from empirical.train import TrainConfig, train
from empirical.networks.unet import UNetConfig

torch.set_num_threads(1)
x = np.random.default_rng(0).integers(0, 256, (64, 3, 8, 8), dtype=np.uint8)
cfg = TrainConfig(UNetConfig(img_resolution=8, channels=16, channel_mult=(1, 2), num_blocks=1, attn_resolutions=(8,),
                             dropout=0.0), batch_size=16, total_samples=64, warmup_samples=16, ema_halflife_samples=32,
                  checkpoint_samples=64, seed=3)
train(cfg, x, None, Path(sys.argv[1]))
