# Two commands do all the set-up:  `make lab` (install + open the course) and `make test`.
#
# Two virtual environments: .venv holds what a student needs (fmkit, JupyterLab, ipywidgets);
# .venv-test adds the test, grading (nbgrader) and browser-test tools, so a student's
# JupyterLab never loads the graders' extensions.
VENV      ?= .venv
TEST_VENV ?= .venv-test
PY        := $(TEST_VENV)/bin/python
export OMP_NUM_THREADS ?= 1

# `make lab` serves on 127.0.0.1 with a token (printed in the link it opens); it runs as any
# user, root included, as containers and hosted machines often are.
LAB_IP    ?= 127.0.0.1
LAB_ARGS  ?=

.PHONY: install install-test lab test check lint format book notebooks student bench bench-peers clean

# torch is pinned below 2.14 in pyproject.toml so that pip takes the CPU build, never a CUDA one.
$(VENV)/.installed-stamp: pyproject.toml
	python3 -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet -e .
	touch $@

$(TEST_VENV)/.installed-stamp: pyproject.toml
	python3 -m venv $(TEST_VENV)
	$(TEST_VENV)/bin/python -m pip install --quiet -e '.[test]'
	touch $@

install: $(VENV)/.installed-stamp

install-test: $(TEST_VENV)/.installed-stamp

lab: install
	$(VENV)/bin/jupyter lab --ip=$(LAB_IP) --allow-root $(LAB_ARGS) notebooks/

# Lint and format check, unit tests, doctests, every chapter under nbval, the book preview,
# the coursework and the browser tests.
test: install-test lint
	$(PY) -m pytest

# The fast tier for contributors (about a minute): lint, unit tests and doctests.
check: install-test lint
	$(PY) -m pytest -m "not slow and not browser" tests fmkit

lint: install-test
	$(TEST_VENV)/bin/ruff check .
	$(TEST_VENV)/bin/ruff format --check .

format: install-test
	$(TEST_VENV)/bin/ruff format .
	$(TEST_VENV)/bin/ruff check --fix .

# The book: `quarto render` when Quarto is installed, else an executed HTML preview in _book/.
book: install-test
	$(PY) tools/build_book.py

# The student edition of every chapter (solutions stubbed, hidden tests and answer keys removed).
student: install-test
	$(PY) tools/make_student.py

# Re-execute the chapters and store their key numbers (after editing a chapter).
notebooks: install-test
	$(PY) tools/refresh_notebooks.py

bench: install-test
	$(PY) benchmarks/train_throughput.py
	$(PY) benchmarks/quality_vs_nfe.py
	$(PY) benchmarks/recipe_cost.py
	$(PY) benchmarks/digits.py
	$(PY) benchmarks/recipe_ablation.py
	$(PY) benchmarks/onestep.py
	$(PY) benchmarks/ot_sub_batch.py

# fmkit against TorchCFM 1.0.7 (benchmarks/peers.py). Its package and torchdyn (whose moons
# TorchCFM's sample_moons draws) go in with --no-deps, so pip never touches torch; what their
# matchers and samplers import (NumPy, SciPy, scikit-learn, POT, matplotlib) is there already.
bench-peers: install-test
	$(TEST_VENV)/bin/python -m pip install --quiet --no-deps torchcfm==1.0.7 torchdyn==1.0.6
	$(PY) benchmarks/peers.py

clean:
	rm -rf $(VENV) $(TEST_VENV) _book student test-output .pytest_cache .ruff_cache .browser-assets
