"""The old import paths of modules that moved in the restructure into subpackages, kept working with a
DeprecationWarning: ``import empirical.ladder`` (or ``from empirical import ladder``) gives the module
``empirical.experiments.ladder`` itself, one module object under two names, so that what a caller sets on it
reaches the code that reads it. Installed by ``empirical/__init__.py``; a module that was split rather than moved
keeps a file of re-exports at its old path instead (``empirical/loop.py``, ``empirical/sims_sweep.py``)."""
from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import sys
import warnings

MOVED = {
    "empirical.unet": "empirical.networks.unet",
    "empirical.mlp": "empirical.networks.mlp",
    "empirical.classifier": "empirical.networks.classifier",
    "empirical.configs": "empirical.images.config",
    "empirical.data": "empirical.images.cifar10",
    "empirical.reward": "empirical.images.score",
    "empirical.ladder": "empirical.experiments.ladder",
    "empirical.points_sims": "empirical.experiments.point_sims",
}
"""Old module path -> the path it moved to (the module is unchanged but for its place)."""


class MovedModules(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Finds the old paths of `MOVED` and loads each as the module at its new path."""

    def find_spec(self, fullname, path=None, target=None):
        if fullname not in MOVED:
            return None
        return importlib.machinery.ModuleSpec(fullname, self)

    def create_module(self, spec):
        new = MOVED[spec.name]
        warnings.warn(f"{spec.name} moved to {new}; import it from there (the old path will go)", DeprecationWarning,
                      stacklevel=2)
        module = importlib.import_module(new)
        self._spec = module.__spec__            # the import system sets the alias's spec on it: put it back
        return module

    def exec_module(self, module) -> None:
        module.__spec__ = self._spec


def install() -> None:
    """Put the finder first on sys.meta_path (once per process)."""
    if not any(isinstance(f, MovedModules) for f in sys.meta_path):
        sys.meta_path.insert(0, MovedModules())
