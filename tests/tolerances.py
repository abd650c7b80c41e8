"""Tolerances in one place. Statistical ones are in standard errors; numerical ones in absolute units."""
EXACT = 1e-10          # the quadrature against enumeration / closed forms
ROUNDING = 1e-12       # two exact computations of the same quantity (kernel vs reference)
N_SE = 4.0             # Monte Carlo checks: |estimate - target| <= N_SE standard errors
# tracked outputs recomputed on another CPU (another BLAS kernel, another summation order) agree with the committed
# files to rounding: floats within TRACKED_REL relative or TRACKED_ABS absolute (a quantity that is zero up to
# rounding, e.g. the difference of two computations of one prediction), printed numbers within one unit of their
# last printed digit; strings and integers exactly
TRACKED_REL = 1e-9
TRACKED_ABS = 1e-12
