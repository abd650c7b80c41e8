"""One module per claim (or closely tied group of claims) of the two seed papers and the closed forms they
rest on; ``python -m paper_checks`` runs them all and writes paper_checks/REPORT.md."""
