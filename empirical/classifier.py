"""The reward model: a small CIFAR-10 CNN classifier trained by the project, its test accuracy recorded."""
from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from . import checkpoints
from .edm import to_float


@dataclass(frozen=True)
class ClassifierConfig:
    resolution: int = 32
    num_classes: int = 10
    width: int = 32
    epochs: int = 10
    batch_size: int = 128
    lr: float = 2e-3
    seed: int = 0
    device: str = "cpu"

    def to_dict(self) -> dict:
        return asdict(self)


class SmallCNN(nn.Module):
    """conv-BN-ReLU blocks, max-pooling to 4x4 (or less), global average pooling, linear head."""

    def __init__(self, cfg: ClassifierConfig):
        super().__init__()
        w, layers, ch, res = cfg.width, [], 3, cfg.resolution
        for i, m in enumerate((1, 2, 4)):
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


@torch.no_grad()
def predict_proba(model: nn.Module, images: np.ndarray, device="cpu", batch: int = 512) -> np.ndarray:
    """Class probabilities (n, C) for uint8 NCHW images."""
    model.eval()
    out = [F.softmax(model(to_float(images[s:s + batch], device)), dim=1).double().cpu().numpy()
           for s in range(0, len(images), batch)]
    return np.concatenate(out) if out else np.zeros((0, model.head.out_features))


def train_classifier(cfg: ClassifierConfig, x: np.ndarray, y: np.ndarray, x_test: np.ndarray, y_test: np.ndarray,
                     out: Path | None = None, progress: bool = False) -> tuple[SmallCNN, float]:
    """Train with flips and AdamW (cosine schedule); returns the model and its test accuracy, saved with it."""
    torch.manual_seed(cfg.seed)
    g = torch.Generator().manual_seed(cfg.seed)
    model = SmallCNN(cfg).to(cfg.device)
    steps = cfg.epochs * int(np.ceil(len(x) / cfg.batch_size))
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=5e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, cfg.lr, total_steps=steps)
    xt, yt = torch.as_tensor(x), torch.as_tensor(y)
    it = range(cfg.epochs)
    if progress:
        from tqdm import tqdm
        it = tqdm(it, desc="classifier", unit="epoch")
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


def load_classifier(path: Path, device="cpu") -> tuple[SmallCNN, dict]:
    state, cfg = checkpoints.load(path)
    model = SmallCNN(ClassifierConfig(**{k: v for k, v in cfg.items() if k != "test_accuracy"}))
    model.load_state_dict(state)
    return model.to(device).eval(), cfg
