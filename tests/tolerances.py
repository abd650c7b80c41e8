"""Tolerances in one place. Statistical ones are in standard errors; numerical ones in absolute units."""
EXACT = 1e-10          # issue 3: the quadrature against enumeration / closed forms
ROUNDING = 1e-12       # two exact computations of the same quantity (kernel vs reference)
N_SE = 4.0             # Monte Carlo checks: |estimate - target| <= N_SE standard errors
