"""Experiments built on the fold: each chooses on one seed set and reports on the others (:mod:`.protocol`).

    protocol    pick on one seed set, report on the others (written once)
    ladder      the capacity ladder of neural point loops on dask
    ladder_results  a ladder's results.csv read back, and its summary table
    point_sims  SIMS in neural point loops: augmentation and fully synthetic loops, small and ample networks
    gpu_check   the gpu preset's pipeline on one GPU within a time budget

Imported one module at a time (``from empirical.experiments import ladder``): this package imports nothing itself.
"""
