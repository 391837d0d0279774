# The two commands of the README: `make run` and `make test`.
# Each does its own set-up: a virtual environment with the package, the Docker engine, the images.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
HOST   ?= 127.0.0.1
PORT   ?= 5000

.PHONY: run run-dev test venv engine images browser nginx cluster-services test-unit test-integration bench clean-sandboxes

# Gunicorn (one worker process of threads, real WebSockets); `make run-dev` for Werkzeug's.
run: images
	$(BIN)/labapp serve --host $(HOST) --port $(PORT)

run-dev: images
	$(BIN)/labapp serve --dev --host $(HOST) --port $(PORT)

# Two workers (pytest-xdist), a test file per worker at a time, the slow suites first; the
# 25 slowest tests are listed at the end. TEST_WORKERS=0 runs everything in one process.
TEST_WORKERS ?= 2

test: images browser nginx cluster-services
	$(BIN)/labapp lessons check
	LABAPP_REQUIRE_INTEGRATION=1 $(BIN)/python -m pytest -q -rs --durations=25 \
		$(if $(filter-out 0,$(TEST_WORKERS)),-n $(TEST_WORKERS) --dist loadfile) tests

test-unit: venv
	$(BIN)/python -m pytest -q tests/unit

venv: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $(STAMP)

engine: venv
	scripts/ensure-engine.sh $(BIN)/python

images: engine
	$(BIN)/labapp images build

browser:
	scripts/ensure-browser.sh

nginx:
	scripts/ensure-nginx.sh

# Debian's PostgreSQL and Redis, for the tests of instances sharing them (tests/servers.py)
cluster-services:
	scripts/ensure-cluster.sh

bench: images
	$(BIN)/python bench/sandbox_up.py
	$(BIN)/python bench/lesson_solve.py
	$(BIN)/python bench/stream_latency.py
	$(BIN)/python bench/concurrent_learners.py
	$(BIN)/python bench/pool.py
	$(BIN)/python bench/workshop.py -n 3 --scale 0.25

clean-sandboxes: venv
	$(BIN)/labapp sandbox down --all
