"""One module per figure; ``python -m figures`` regenerates them all into figures/out/ (PNG and PDF).

Every figure reads run folders written by the library (exact runs, loop runs, sweeps, cached arrays in the
same format), so a researcher's own runs plot with the same code.
"""
