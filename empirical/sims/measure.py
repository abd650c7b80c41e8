"""What every SIMS experiment on one image base shares ([`Context`][empirical.sims.measure.Context]): the base, the reward classifier (the
loop's when the base is a loop generation, else trained as the loop trains it), the reference statistics of the
real test images, the metrics of a guided sample set and the experiment's auxiliaries."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from simtheory.runs import RunFolder, atomic_write

from .. import checkpoints
from .. import metrics as mt
from ..edm.guidance import guided_generate, num_classes, seed_labels
from ..images import cifar10 as cifar
from .auxiliary import base_folder, finetune_auxiliary, load_base
from .config import SimsConfig


def classifier_for(lc, base_run, folder: Path, progress: bool = False):
    """The reward classifier: the loop's, when the base is a loop generation; else trained into ``folder`` as the
    loop trains it ([`empirical.images.inputs.classifier_data`][empirical.images.inputs.classifier_data]: the same
    images for the same loop config and seed)."""
    from ..images.inputs import classifier_data
    from ..networks.classifier import load_classifier, train_classifier
    bf = base_folder(base_run)
    paths = [folder / "classifier.pt"]
    loop_cfg = bf.parent / "config.json"
    if loop_cfg.exists() and checkpoints.read_json(loop_cfg).get("kind") == "image_loop":
        paths.insert(0, bf.parent / "classifier" / "classifier.pt")
    for p in paths:
        if p.exists():
            clf, meta = load_classifier(p, lc.classifier.device)
            if meta.get("num_classes") != len(lc.class_names):
                raise ValueError(f"the classifier {p} has {meta.get('num_classes')} classes, the experiment "
                                 f"{len(lc.class_names)}")
            return clf
    x, y = classifier_data(lc, "classifier")
    xt, yt = cifar.dataset("test", lc.resolution, lc.classes, None, 0, lc.data)
    return train_classifier(lc.classifier, x, y, xt, yt, folder, progress)[0]


class Context:
    """What every measurement of one experiment shares: loop config, base, classifier, reference arrays."""

    def __init__(self, cfg: SimsConfig, lc, base_run, rf: RunFolder, progress: bool = False, inception: bool = True):
        self.cfg, self.lc, self.rf, self.progress = cfg, lc, rf, progress
        self.device = self.lc.train.device
        self.base_run = base_run
        self.D = load_base(base_run, self.device)
        self.clf = classifier_for(lc, base_run, rf.path / "classifier", progress)
        self.ref = self._reference(cfg, progress, inception and cfg.inception_n > 0)

    def _reference(self, cfg: SimsConfig, progress: bool, inception: bool) -> dict:
        """Reference arrays of the real test images (shuffled with seed 0), cached in the data cache under a key
        of the images, the classifier's weights and inception_ref_n (0 without Inception metrics), so that every
        experiment shares them."""
        import hashlib
        import io
        xt, _ = cifar.dataset("test", self.lc.resolution, self.lc.classes, None, 0, self.lc.data)
        xt = xt[np.random.default_rng(0).permutation(len(xt))]
        h = hashlib.sha1(np.ascontiguousarray(xt).tobytes())
        for v in self.clf.state_dict().values():
            h.update(v.detach().cpu().numpy().tobytes())
        ref_n = cfg.inception_ref_n if inception else 0
        h.update(str(ref_n).encode())
        path = cifar.CACHE / f"sims-reference-{h.hexdigest()[:16]}.npz"
        if path.exists():
            with np.load(path) as z:
                return {k: z[k] for k in z.files}
        ref = mt.reference(xt, self.clf, self.device, ref_n, progress)
        path.parent.mkdir(parents=True, exist_ok=True)
        buf = io.BytesIO()
        np.savez(buf, **ref)
        atomic_write(path, buf.getvalue())
        return ref

    def label_fn(self, images: np.ndarray) -> np.ndarray:
        from ..networks.classifier import predict_proba
        return predict_proba(self.clf, images, self.device).argmax(1)

    def measure(self, aux, w: float, seeds: np.ndarray, inception_n: int = 0) -> dict:
        labels = seed_labels(seeds, num_classes(self.D)) if num_classes(self.D) else None
        imgs = guided_generate(self.D, aux, w, seeds, self.device, self.cfg.num_steps, progress=self.progress,
                               interval=self.cfg.interval, labels=labels)
        return mt.sample_set_metrics(imgs, seeds, self.clf, self.ref, self.lc.class_names, self.lc.reward,
                                     self.lc.target, self.lc.gamma, inception_n, device=self.device)

    def auxiliary(self, n_s: int, images: int, name: str | None = None, **kw):
        out = self.rf.path / (name or f"aux-ns{n_s}-B{images}")
        kw = {"ema": self.cfg.ema, **kw}
        return finetune_auxiliary(self.base_run, out, n_s, images, self.cfg.lr, self.cfg.seed,
                                  num_steps=self.cfg.num_steps, device=self.device, progress=self.progress, **kw)
