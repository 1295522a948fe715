# One-command set-up: each target creates .venv, installs the pinned dependencies, builds the
# engine jar (Maven) and the wheel, and installs the wheel, before it does its own work.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
MVN ?= mvn -q -B

.PHONY: all venv wheel install test test-java test-python demo clean

all: install

$(VENV)/.deps: requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements-dev.txt
	touch $@

venv: $(VENV)/.deps

wheel: venv
	rm -rf dist build
	$(PY) -m pip wheel -q --no-deps --no-build-isolation -w dist .

install: wheel
	$(PY) -m pip install -q --force-reinstall --no-deps dist/vineyard_migrate-*.whl

test-java:
	$(MVN) test

test-python: install
	$(PY) -m pytest -v -p no:cacheprovider tests

test: test-java test-python

demo: install
	$(PY) examples/demo.py

clean:
	rm -rf $(VENV) dist build target python/vineyard_migrate/_jars
