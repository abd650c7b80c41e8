"""Deprecated: the image loop's old module, split into the fold ([`empirical.fold`][empirical.fold]: run_fold, the DataKind
protocol, synthetic.npz I/O, resume) and the image kind (`empirical.images`). Its names are re-exported from
there; importing this module warns."""
import warnings

from .fold import read_synthetic as _load_synthetic  # noqa: F401
from .fold import resume_point as _resume_point  # noqa: F401
from .fold import run_fold, sample_candidates  # noqa: F401
from .fold import training_set as _training_set  # noqa: F401
from .images.config import ImageLoopConfig  # noqa: F401
from .images.inputs import classifier_data, real_images  # noqa: F401
from .images.kind import ImageData, run_image_loop  # noqa: F401
from .images.measure import save_grid  # noqa: F401
from .images.score import rewards_of  # noqa: F401
from .images.score import run_classifier as _classifier  # noqa: F401

warnings.warn("empirical.loop is split into empirical.fold (run_fold) and empirical.images (ImageData, "
              "run_image_loop, real_images, ...); import from there", DeprecationWarning, stacklevel=2)
