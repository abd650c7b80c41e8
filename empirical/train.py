"""Training of an EDM denoiser of any architecture (the U-Net on images, the MLP on points), counted in samples
seen (EDM counts images; a point run counts points): Adam with a linear warm-up, EMA with a half-life in samples,
resumable checkpoints, bf16 autocast and torch.compile as options, and
DistributedDataParallel when WORLD_SIZE > 1 (torchrun; each rank on the device of its LOCAL_RANK, starting
from rank 0's weights and optimizer state), a plain process otherwise.

Every step's batch indices and noise come from a generator seeded by (seed, step) and are drawn for the whole
global batch; each process takes its slice; dropout masks come from the global generators seeded by (seed, step,
rank) for that step only ([`empirical.seeds.step_seed`][empirical.seeds.step_seed]). So a run resumes exactly, dropout
included, and N processes compute the gradient of the same global batch as one process does.

Architectures: `ARCHITECTURES` maps a name to (config class, denoiser class). A TrainConfig holds the
config of one of them in the field of that name (``unet`` or ``mlp``); checkpoints record it under the same
key, and [`load_network`][empirical.train.load_network] builds the denoiser from that key. One loop trains both: the
denoiser's own ``encode`` maps a batch of data (uint8 images, float points) into its space.
"""
from __future__ import annotations

import copy
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from . import checkpoints, distributed
from .edm.loss import draw_noise, edm_loss
from .edm.precond import Preconditioned
from .networks import ARCHITECTURES, build_network
from .networks.mlp import MLPConfig
from .networks.unet import UNetConfig
from .seeds import step_seed

FINETUNE_EMA = 0.1
"""Every fine-tune's EMA half-life as a fraction of its budget (loops, SIMS auxiliaries, ladders): the weights a
fine-tune starts from keep a share 0.5^(1 / 0.1) ~ 0.1% of its average, so model t is not partly model t - 1."""

@dataclass(frozen=True)
class TrainConfig:
    """What a training run needs besides the data; validated on construction.

    The network is ``unet`` (the default) or ``mlp``: passing ``mlp`` selects the MLP and clears ``unet``."""

    unet: UNetConfig | None = field(default_factory=UNetConfig)
    batch_size: int = 128
    lr: float = 1e-3
    warmup_samples: int = 100_000
    total_samples: int = 1_000_000
    ema_halflife_samples: float = 50_000
    seed: int = 0
    device: str = "cpu"
    bf16: bool = False
    compile: bool = False
    checkpoint_samples: int = 250_000
    conditional: bool = False
    mlp: MLPConfig | None = None

    def __post_init__(self):
        if isinstance(self.unet, dict):
            object.__setattr__(self, "unet", UNetConfig(**self.unet))
        if isinstance(self.mlp, dict):
            object.__setattr__(self, "mlp", MLPConfig(**self.mlp))
        if self.mlp is not None:
            object.__setattr__(self, "unet", None)
        if self.unet is None and self.mlp is None:
            raise ValueError(f"a TrainConfig needs a network: one of {sorted(ARCHITECTURES)}")
        if self.conditional and self.arch != "unet":
            raise ValueError(f"class-conditional training needs the U-Net, got {self.arch}")
        for name in ("batch_size", "total_samples", "checkpoint_samples"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.lr <= 0 or self.ema_halflife_samples < 0 or self.warmup_samples < 0:
            raise ValueError("lr must be > 0; ema_halflife_samples and warmup_samples >= 0")

    @classmethod
    def from_stored(cls, stored: dict) -> TrainConfig:
        """The TrainConfig of a stored dict (a run's config.json, a checkpoint's JSON), older keys read
        ([`empirical.checkpoints.upgrade_keys`][empirical.checkpoints.upgrade_keys]), keys of no field left out."""
        d = checkpoints.upgrade_keys(stored)
        return cls(**{k: v for k, v in d.items() if k in cls.__dataclass_fields__})

    @property
    def arch(self) -> str:
        """The network's architecture: a key of `ARCHITECTURES`."""
        return "mlp" if self.mlp is not None else "unet"

    @property
    def network(self) -> UNetConfig | MLPConfig:
        """The network's config."""
        return getattr(self, self.arch)

    def to_dict(self) -> dict:
        """Every field, the network under its architecture's key only (a U-Net run's dict is what it was before
        the MLP existed, so its run folders stay resumable)."""
        d = asdict(self)
        for k in ARCHITECTURES:
            del d[k]
        d[self.arch] = self.network.to_dict()
        return d

    def compared(self) -> dict:
        """The fields a resumed run must share with the saved one: all but the device (a run may move)."""
        d = self.to_dict()
        del d["device"]
        return d

    def network_config(self) -> dict:
        """{arch: config} as network.json stores it (`build_network` reads it back)."""
        return {self.arch: self.network.to_dict()}


def ema_beta(batch_size: int, half_life_samples: float) -> float:
    """EMA decay per step: the old weights' share halves every half_life samples (0 half-life: no averaging)."""
    return 0.5 ** (batch_size / half_life_samples) if half_life_samples > 0 else 0.0


@torch.no_grad()
def ema_update(ema: nn.Module, net: nn.Module, beta: float) -> None:
    for pe, pn in zip(ema.parameters(), net.parameters()):
        pe.copy_(pn.detach().lerp(pe, beta))
    for be, bn in zip(ema.buffers(), net.buffers()):
        be.copy_(bn)


def _step_generator(seed: int, step: int) -> torch.Generator:
    return torch.Generator().manual_seed(step_seed(seed, step))


def load_network(path: Path, device="cpu") -> Preconditioned:
    """The inference (EMA) network saved by [`train`][empirical.train.train] (or a loop generation), of the architecture its JSON
    names."""
    state, cfg = checkpoints.load(path)
    try:
        D = build_network(cfg)
        D.load_state_dict(state)
    except (KeyError, TypeError, ValueError, RuntimeError) as e:
        raise checkpoints.unreadable(path, f"does not match its JSON: {e}") from None
    return D.to(device).eval()


def train(cfg: TrainConfig, samples: np.ndarray, labels: np.ndarray | None, out: Path,
          init: dict | None = None, progress: bool = False) -> Preconditioned:
    """Train (or resume, or fine-tune from ``init``, a network state_dict) on ``samples``, the data of the
    config's architecture (uint8 NCHW images for the U-Net, float (n, d) points for the MLP); writes
    <out>/network.pt (+ .json: the EMA weights) and <out>/training-state.pt; returns the EMA denoiser."""
    out = Path(out)
    rank, world = distributed.world()
    if cfg.batch_size % world:
        raise ValueError(f"batch_size {cfg.batch_size} is not divisible by WORLD_SIZE {world}")
    dev = distributed.init(cfg.device)
    if cfg.conditional and labels is None:
        raise ValueError("a conditional run needs labels")
    rng_devices = [dev.index or 0] if dev.type == "cuda" else []
    with torch.random.fork_rng(devices=rng_devices):     # the caller's global generators are left as they were
        torch.manual_seed(cfg.seed)
        D = build_network({cfg.arch: cfg.network}).to(dev)
    if init is not None:
        D.load_state_dict(init)
    ema = copy.deepcopy(D).eval().requires_grad_(False)
    stochastic = any(isinstance(m, nn.modules.dropout._DropoutNd) and m.p > 0 for m in D.modules())
    opt = torch.optim.Adam(D.parameters(), lr=cfg.lr, betas=(0.9, 0.999), eps=1e-8)
    seen = 0
    state_path = out / "training-state.pt"
    if rank == 0 and state_path.exists():
        st, _ = checkpoints.load(state_path, cfg.compared(), map_location="cpu")
        try:
            D.load_state_dict(st["net"])
            ema.load_state_dict(st["ema"])
            opt.load_state_dict(st["opt"])
            seen = int(st["samples_seen"] if "samples_seen" in st else st["images_seen"])   # an earlier version's
        except (KeyError, TypeError, ValueError, RuntimeError) as e:
            raise checkpoints.unreadable(state_path, f"does not match the network: {e}") from None
    if world > 1:     # every rank starts from rank 0's weights, EMA, optimizer state and count
        start = distributed.share({"net": D.state_dict(), "ema": ema.state_dict(), "opt": opt.state_dict(),
                                   "seen": seen} if rank == 0 else None)
        D.load_state_dict(start["net"])
        ema.load_state_dict(start["ema"])
        opt.load_state_dict(start["opt"])
        seen = start["seen"]
    model: nn.Module = D
    if world > 1:
        model = nn.parallel.DistributedDataParallel(D, device_ids=[dev.index] if dev.type == "cuda" else None)
    fwd: Any = torch.compile(model) if cfg.compile else model
    x_all = torch.as_tensor(samples)
    y_all = None if labels is None else torch.as_tensor(labels)
    ncls = getattr(cfg.network, "num_classes", 0)
    shape = tuple(x_all.shape[1:])
    local = cfg.batch_size // world
    beta = ema_beta(cfg.batch_size, cfg.ema_halflife_samples)
    bar = None
    if progress and rank == 0:
        from tqdm import tqdm
        bar = tqdm(total=cfg.total_samples, initial=seen, desc="train", unit="sample", unit_scale=True,
                   disable=None)
    while seen < cfg.total_samples:
        step = seen // cfg.batch_size
        g = _step_generator(cfg.seed, step)
        idx = torch.randint(x_all.shape[0], (cfg.batch_size,), generator=g)
        sigma, noise = draw_noise(g, cfg.batch_size, shape)
        sl = slice(rank * local, (rank + 1) * local)
        y = D.encode(x_all[idx[sl]], dev)
        lab = None
        if cfg.conditional:
            assert y_all is not None, "a conditional run has labels"
            lab = nn.functional.one_hot(y_all[idx[sl]], ncls).float().to(dev)
        for pg in opt.param_groups:
            pg["lr"] = cfg.lr * min(1.0, (seen + cfg.batch_size) / max(cfg.warmup_samples, 1))
        # dropout draws from the global generators: seeded per step and process, so a resumed run draws what an
        # uninterrupted one draws, and restored afterwards (networks without dropout skip the ~ms this costs)
        with torch.random.fork_rng(devices=rng_devices, enabled=stochastic):
            if stochastic:
                torch.manual_seed(step_seed(cfg.seed, step, rank))
            with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=cfg.bf16):
                loss = edm_loss(fwd, y, lab, sigma[sl], noise[sl]).mean()
            opt.zero_grad(set_to_none=True)
            loss.backward()
        for p in D.parameters():      # as EDM's training loop: a rare non-finite gradient does not poison Adam
            if p.grad is not None:
                torch.nan_to_num(p.grad, nan=0.0, posinf=1e5, neginf=-1e5, out=p.grad)
        opt.step()
        ema_update(ema, D, beta)
        seen += cfg.batch_size
        if bar is not None:
            bar.update(cfg.batch_size)
            bar.set_postfix(loss=f"{loss.item():.3f}")
        done = seen >= cfg.total_samples
        if rank == 0 and (done or seen // cfg.checkpoint_samples != (seen - cfg.batch_size) // cfg.checkpoint_samples):
            out.mkdir(parents=True, exist_ok=True)
            # the network first: a kill between the two writes then resumes from the older state and
            # rewrites both, while the other order would keep a stale network.pt for good
            checkpoints.save(out / "network.pt", ema.state_dict(), cfg.network_config())
            checkpoints.save(state_path, {"net": D.state_dict(), "ema": ema.state_dict(), "opt": opt.state_dict(),
                                          "samples_seen": torch.tensor(seen)}, cfg.compared())
    if bar is not None:
        bar.close()
    if world > 1:
        torch.distributed.barrier()
    return ema


def finetune_config(cfg: TrainConfig, samples: int, seed: int, lr: float | None = None,
                    ema: float = FINETUNE_EMA) -> TrainConfig:
    """The same hyperparameters for a fine-tune of ``samples`` samples seen (SIMS and the loops fine-tune so), with
    no warm-up and the EMA half-life ``ema`` x ``samples`` ([`FINETUNE_EMA`][empirical.train.FINETUNE_EMA]; 0: the raw
    fine-tuned weights)."""
    return replace(cfg, total_samples=int(samples), seed=int(seed), warmup_samples=0,
                   checkpoint_samples=int(samples), lr=cfg.lr if lr is None else lr,
                   ema_halflife_samples=float(ema) * int(samples))
