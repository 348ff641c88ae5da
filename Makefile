# Two commands do all the set-up:  `make lab` (install + open the course) and `make test`.
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp
export OMP_NUM_THREADS ?= 1

.PHONY: install lab test book notebooks student bench clean

# Create the virtual environment and install fmkit with its test extras. torch is pinned
# below 2.14 in pyproject.toml so that pip takes the CPU build, never a CUDA one.
$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

lab: install
	$(VENV)/bin/jupyter lab notebooks/

# Unit tests, doctests, every chapter under nbval, the book preview, and the browser tests.
test: install
	$(PY) -m pytest

# The book: `quarto render` when Quarto is installed, else an executed HTML preview in _book/.
book: install
	$(PY) tools/build_book.py

# The student edition of every chapter (solutions stubbed, hidden tests removed) in student/.
student: install
	$(PY) tools/make_student.py

# Re-execute the chapters and store their key numbers (after editing a chapter).
notebooks: install
	$(PY) tools/refresh_notebooks.py

bench: install
	$(PY) benchmarks/train_throughput.py
	$(PY) benchmarks/quality_vs_nfe.py
	$(PY) benchmarks/recipe_cost.py

clean:
	rm -rf $(VENV) _book student test-output .pytest_cache
