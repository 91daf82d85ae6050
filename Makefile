# Two commands do all the set-up: `make run` and `make test` build .venv here when needed.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt

.PHONY: run test lint test-unit test-integration test-deployment bench bench-instructions bench-scale soak profile clean

run: $(VENV)/.runtime
	$(BIN)/users-api serve

test: lint test-unit test-integration

lint: $(VENV)/.dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

test-unit: $(VENV)/.dev
	$(BIN)/pytest tests/unit

test-integration: $(VENV)/.dev
	$(BIN)/pytest tests/integration --ignore=tests/integration/deployment

# The service as deploy/ runs it, behind PgBouncer and HAProxy: needs both installed
# (Debian: apt-get install pgbouncer haproxy), so it is not part of `make test`; CI runs it.
test-deployment: $(VENV)/.dev
	$(BIN)/pytest tests/integration/deployment

# Benchmarks print figures; they assert nothing. They need wrk (installed from the OS packages
# when missing) and a PostgreSQL, found as for the integration tests (USERS_BENCH_DATABASE_URL).
# `make bench BASELINE=<git revision>` also serves the service as it was then.
bench: $(VENV)/.dev
	$(BIN)/python -m benchmarks.bench $(if $(BASELINE),--baseline $(BASELINE))

# Instructions per request, counted by callgrind: needs valgrind (installed when missing).
bench-instructions: $(VENV)/.dev
	$(BIN)/python -m benchmarks.instructions

bench-scale: $(VENV)/.dev
	$(BIN)/python -m benchmarks.scale

soak: $(VENV)/.dev
	$(BIN)/python -m benchmarks.soak

profile: $(VENV)/.dev
	$(BIN)/python -m benchmarks.profile

$(VENV)/.venv:
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11) and "Python 3.11 or newer is needed; set PYTHON=python3.x")'
	$(PYTHON) -m venv $(VENV)
	touch $@

$(VENV)/.runtime: $(VENV)/.venv pyproject.toml constraints.txt
	$(PIP) -e .
	touch $@

$(VENV)/.dev: $(VENV)/.venv pyproject.toml constraints.txt
	$(PIP) -e '.[dev]'
	touch $@ $(VENV)/.runtime

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .hypothesis
