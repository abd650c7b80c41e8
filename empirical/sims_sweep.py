"""Deprecated: the SIMS experiments' old module, split into [`empirical.sims.config`][empirical.sims.config] (SimsConfig, presets,
resolve_config), [`empirical.sims.measure`][empirical.sims.measure] (Context),
[`empirical.sims.sweep`][empirical.sims.sweep] (run_guidance_sweep and its
tables), [`empirical.sims.shift`][empirical.sims.shift] and [`empirical.sims.explore`][empirical.sims.explore]. Its
names are re-exported from there (run_sweep
is run_guidance_sweep, resolve is resolve_config, summary is setting_summary); importing this module warns."""
import warnings

from .sims.config import (METRICS_LOWER_BETTER, PRESETS, SimsConfig, recorded_loop_config,  # noqa: F401
                          resolve_config, seed_set, sims_preset)
from .sims.config import resolve_config as resolve  # noqa: F401
from .sims.explore import explore_hyperparameters, write_explore_table  # noqa: F401
from .sims.measure import Context, classifier_for  # noqa: F401
from .sims.shift import base_estimate, run_shift, shift_summary, shift_target, write_shift_summary  # noqa: F401
from .sims.sweep import (pick_setting, plot_sweep, run_guidance_sweep, setting_summary, sweep_rows,  # noqa: F401
                         sweep_verdict, write_table)
from .sims.sweep import run_guidance_sweep as run_sweep  # noqa: F401
from .sims.sweep import setting_summary as summary  # noqa: F401

warnings.warn("empirical.sims_sweep is split into empirical.sims.config, .measure, .sweep, .shift and .explore; "
              "import from there", DeprecationWarning, stacklevel=2)
