"""The reward model and the judge: small CIFAR-10 classifiers trained by the project, test accuracy recorded.

The reward classifier (``arch='cnn'``) defines the reward; an independent judge (``arch='resnet'``: another
architecture, seed and data split) measures class proportions, so a real class shift can be told from
images that merely fool the reward classifier (reward hacking)."""
from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from .. import checkpoints
from .unet import to_float


ARCHS = ("cnn", "resnet")


@dataclass(frozen=True)
class ClassifierConfig:
    arch: str = "cnn"                    # 'cnn' (SmallCNN) or 'resnet' (SmallResNet)
    resolution: int = 32
    num_classes: int = 10
    width: int = 32
    epochs: int = 10
    batch_size: int = 128
    lr: float = 2e-3
    seed: int = 0
    device: str = "cpu"

    def __post_init__(self):
        if self.arch not in ARCHS:
            raise ValueError(f"classifier arch must be one of {ARCHS}, got {self.arch!r}")
        for name in ("num_classes", "width", "epochs", "batch_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"classifier {name} must be >= 1, got {getattr(self, name)}")

    def to_dict(self) -> dict:
        return asdict(self)


class SmallCNN(nn.Module):
    """conv-BN-ReLU blocks, max-pooling to 4x4 (or less), global average pooling, linear head."""

    def __init__(self, cfg: ClassifierConfig):
        super().__init__()
        w, layers, ch, res = cfg.width, [], 3, cfg.resolution
        for m in (1, 2, 4):
            layers += [nn.Conv2d(ch, w * m, 3, padding=1), nn.BatchNorm2d(w * m), nn.ReLU(),
                       nn.Conv2d(w * m, w * m, 3, padding=1), nn.BatchNorm2d(w * m), nn.ReLU()]
            ch = w * m
            if res > 4:
                layers.append(nn.MaxPool2d(2))
                res //= 2
        self.features = nn.Sequential(*layers)
        self.head = nn.Linear(ch, cfg.num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x).mean(dim=(2, 3)))


class _Residual(nn.Module):
    def __init__(self, c_in: int, c_out: int):
        super().__init__()
        self.body = nn.Sequential(nn.GroupNorm(min(8, c_in // 4), c_in), nn.SiLU(), nn.Conv2d(c_in, c_out, 3, padding=1),
                                  nn.GroupNorm(min(8, c_out // 4), c_out), nn.SiLU(), nn.Conv2d(c_out, c_out, 3, padding=1))
        self.skip = nn.Conv2d(c_in, c_out, 1) if c_in != c_out else nn.Identity()

    def forward(self, x):
        return self.skip(x) + self.body(x)


class SmallResNet(nn.Module):
    """The judge's architecture: a stem convolution, pre-activation residual blocks (GroupNorm, SiLU) with
    average-pool downsampling to 4x4 (or less), global average pooling, linear head."""

    def __init__(self, cfg: ClassifierConfig):
        super().__init__()
        w, res = cfg.width, cfg.resolution
        layers: list[nn.Module] = [nn.Conv2d(3, w, 3, padding=1)]
        ch = w
        for m in (1, 2, 4):
            layers.append(_Residual(ch, w * m))
            ch = w * m
            if res > 4:
                layers.append(nn.AvgPool2d(2))
                res //= 2
        layers += [nn.GroupNorm(min(8, ch // 4), ch), nn.SiLU()]
        self.features = nn.Sequential(*layers)
        self.head = nn.Linear(ch, cfg.num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x).mean(dim=(2, 3)))


def build(cfg: ClassifierConfig) -> nn.Module:
    """The network of ``cfg.arch``."""
    return SmallResNet(cfg) if cfg.arch == "resnet" else SmallCNN(cfg)


@torch.no_grad()
def predict_proba(model: nn.Module, images: np.ndarray, device="cpu", batch: int = 512) -> np.ndarray:
    """Class probabilities (n, C) for uint8 NCHW images."""
    model.eval()
    out = [F.softmax(model(to_float(images[s:s + batch], device)), dim=1).double().cpu().numpy()
           for s in range(0, len(images), batch)]
    head: Any = model.head
    return np.concatenate(out) if out else np.zeros((0, int(head.out_features)))


def train_classifier(cfg: ClassifierConfig, x: np.ndarray, y: np.ndarray, x_test: np.ndarray, y_test: np.ndarray,
                     out: Path | None = None, progress: bool = False) -> tuple[nn.Module, float]:
    """Train with flips and AdamW (cosine schedule); returns the model and its test accuracy, saved with it."""
    g = torch.Generator().manual_seed(cfg.seed)
    with torch.random.fork_rng(devices=[]):       # the weights' initialisation, without touching the caller's generator
        torch.manual_seed(cfg.seed)
        model = build(cfg).to(cfg.device)
    steps = cfg.epochs * int(np.ceil(len(x) / cfg.batch_size))
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=5e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, cfg.lr, total_steps=steps)
    xt, yt = torch.as_tensor(x), torch.as_tensor(y)
    it = range(cfg.epochs)
    if progress:
        from tqdm import tqdm
        it = tqdm(it, desc=f"classifier ({cfg.arch})", unit="epoch", disable=None)
    for _ in it:
        model.train()
        perm = torch.randperm(len(x), generator=g)
        for s in range(0, len(x), cfg.batch_size):
            b = perm[s:s + cfg.batch_size]
            xb = to_float(xt[b], cfg.device)
            flip = torch.rand(len(b), generator=g) < 0.5
            xb[flip] = xb[flip].flip(-1)
            loss = F.cross_entropy(model(xb), yt[b].to(cfg.device))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
    acc = float((predict_proba(model, x_test, cfg.device).argmax(1) == y_test).mean())
    if out is not None:
        checkpoints.save(Path(out) / "classifier.pt", model.state_dict(), {**cfg.to_dict(), "test_accuracy": acc})
    return model, acc


def load_classifier(path: Path, device="cpu") -> tuple[nn.Module, dict]:
    """A classifier saved by [`train_classifier`][empirical.networks.classifier.train_classifier] and its stored config (with test_accuracy)."""
    state, cfg = checkpoints.load(path)
    try:
        model = build(ClassifierConfig(**{k: v for k, v in cfg.items() if k not in ("test_accuracy", "device")}))
        model.load_state_dict(state)
    except (KeyError, TypeError, ValueError, RuntimeError) as e:
        raise checkpoints.unreadable(path, f"does not match its JSON: {e}") from None
    return model.to(device).eval(), cfg
