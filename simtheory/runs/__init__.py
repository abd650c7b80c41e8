"""Run folders and the runs written into them, one module per kind, sharing one resume protocol.

folder: RunFolder (config.json, metrics.jsonl, atomic arrays, append-only records; one writing process at a
time, FolderInUse for a second), atomic_write, jsonable,
code_version, fold_steps (resume), computed (cached arrays); exact: exact population runs (ExactConfig,
run_exact); loop: finite-sample loop runs (run_loop_folder); sweep: grids of loops on dask (SweepConfig,
run_sweep). The kind modules are imported on use: ``from simtheory.runs.exact import run_exact``.
"""
from .folder import (ConfigMismatch, FolderInUse, RunFolder, atomic_write, code_version, computed, config_diff,
                     fold_steps, jsonable, read_metrics)

__all__ = ["ConfigMismatch", "FolderInUse", "RunFolder", "atomic_write", "code_version", "computed", "config_diff",
           "fold_steps", "jsonable", "read_metrics"]
