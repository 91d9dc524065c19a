# Two commands on a fresh machine: `make demo` and `make test`; `make docs` builds the site.
# Each creates its own virtual environment and installs from pyproject.toml.
PYTHON ?= python3
VENV   ?= .venv
PY      = $(VENV)/bin/python

.PHONY: demo test docs bench fuzz clean

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

# Stamp files: reinstall only when pyproject.toml changes.
$(VENV)/.demo-installed: pyproject.toml | $(VENV)/bin/python
	$(PY) -m pip install --quiet -e ".[models,plot]"
	touch $@

$(VENV)/.test-installed: pyproject.toml | $(VENV)/bin/python
	$(PY) -m pip install --quiet -e ".[test]"
	touch $@

$(VENV)/.docs-installed: pyproject.toml | $(VENV)/bin/python
	$(PY) -m pip install --quiet -e ".[docs]"
	touch $@

demo: $(VENV)/.demo-installed
	$(PY) -m trustfit demo --out out/demo

# The layering first (imports only look down, no cycles: pyproject.toml [tool.importlinter]),
# then lint for real defects and the type check (pyproject.toml [tool.ruff], [tool.mypy]).
test: $(VENV)/.test-installed
	$(VENV)/bin/lint-imports
	$(VENV)/bin/ruff check src tests
	$(VENV)/bin/mypy
	$(PY) -m pytest -q

# The documentation site (docs/, Sphinx), every warning an error; the gallery and the
# tutorial are executed, so a broken example fails the build. Then every internal link of
# the built pages is checked (docs/check_links.py). Output: docs/_build/html/index.html.
# Not part of `make test`: it takes minutes.
docs: $(VENV)/.docs-installed
	$(VENV)/bin/sphinx-build -W --keep-going -b html docs docs/_build/html
	$(PY) docs/check_links.py docs/_build/html

bench: $(VENV)/.test-installed
	$(PY) bench/nist.py

# The fuzz tests (marker `fuzz`) with the long hypothesis profile registered in
# tests/conftest.py; the normal suite runs them with a few examples each.
fuzz: $(VENV)/.test-installed
	HYPOTHESIS_PROFILE=fuzz $(PY) -m pytest -q -m fuzz -p no:cacheprovider --hypothesis-show-statistics

clean:
	rm -rf $(VENV) build *.egg-info src/*.egg-info docs/_build docs/generated docs/api/generated docs/auto_examples docs/tutorial
