# One-command set-up: each target creates .venv, installs the pinned dependencies, builds the
# engine jar (Maven) and the wheel, and installs the wheel, before it does its own work.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
MVN ?= mvn -q -B

.PHONY: all venv wheel install test test-java test-python demo clean jmh bench

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

# JMH microbenchmarks of the hot Java paths (framing, CRC32C, copy)
jmh:
	$(MVN) -Pjmh -DskipTests compile
	java -cp target-jmh/classes:$$(cat target-jmh/jmh.classpath) \
	    org.openjdk.jmh.Main -f 1 -wi 3 -i 5 -w 1s -r 1s $(JMH_ARGS)

# The benchmark: ours against vineyard's own migration and the machine's limits (see bench/run.py)
bench: install
	$(PY) -m pip install -q -r bench/requirements.txt
	$(PY) bench/run.py $(BENCH_ARGS)
