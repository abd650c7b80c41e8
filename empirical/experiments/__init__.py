"""Experiments built on the fold: each chooses on one seed set and reports on the others ([`protocol`][empirical.experiments.protocol]).

    protocol        pick on one seed set, report on the others (written once)
    ladder          the capacity ladder of neural point loops on dask (bases trained once, loops started from them)
    ladder_results  a ladder's results.csv read back, and its summary table (torch-free)
    point_sims      SIMS in neural point loops: augmentation and fully synthetic loops, small and ample networks

Imported one module at a time (``from empirical.experiments import ladder``): this package imports nothing itself.
The GPU check of the image pipeline is [`empirical.gpu_check`][empirical.gpu_check].
"""
