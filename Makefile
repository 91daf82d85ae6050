# Two commands do all the set-up: `make run` and `make test` build .venv here when needed.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt

.PHONY: run test lint test-unit fuzz test-integration test-deployment coverage mutation bench bench-instructions bench-scale soak profile clean

run: $(VENV)/.runtime
	$(BIN)/users-api serve

test: lint test-unit fuzz test-integration

# Style, types, the import contracts, and the schema steps that would stall traffic or break a
# build still serving (docs/schema-changes.md).
lint: $(VENV)/.dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports
	$(BIN)/python -m tools.lint_migrations src/users/adapters/sql/migrations/versions tests/integration/later_build

# The loop to run after every edit: the domain and the API on the in-memory fake, in seconds.
# It has no Hypothesis test, so it skips the plugins that import Hypothesis (about 2 s).
test-unit: $(VENV)/.dev
	$(BIN)/pytest -p no:schemathesis -p no:hypothesispytest tests/unit

# Generated input: the domain's rules as properties, and Schemathesis on the fake and PostgreSQL.
fuzz: $(VENV)/.dev
	$(BIN)/pytest tests/fuzz

test-integration: $(VENV)/.dev
	$(BIN)/pytest tests/integration

# The service as deploy/ runs it, behind PgBouncer and HAProxy: needs both installed
# (Debian: apt-get install pgbouncer haproxy), so it is not part of `make test`; CI runs it.
test-deployment: $(VENV)/.dev
	$(BIN)/pytest tests/integration/deployment

# Branch coverage of src/ by the unit, fuzz and integration layers, one xdist worker per core;
# below 97 % fails (it stands at 98.7 %). The report: htmlcov/index.html.
COVERAGE_FLOOR := 97
coverage: $(VENV)/.dev
	$(BIN)/pytest -n auto --cov --cov-report=term --cov-report=html --cov-fail-under=$(COVERAGE_FLOOR)

# How strong the tests are (docs/testing.md): mutmut changes the domain and the adapters behind
# its ports one small thing at a time and runs the tests that reach it; it prints every mutant no
# test failed on and a score per folder, and fails below 90 % (killed / non-equivalent mutants).
# About 5 minutes on 2 cores, on a throwaway PostgreSQL of its own (docs/testing.md).
mutation: $(VENV)/.dev
	$(BIN)/python -m tools.mutation

# Benchmarks print figures; they assert nothing. They need wrk (installed from the OS packages
# when missing) and a running PostgreSQL: USERS_BENCH_DATABASE_URL, by default the local one.
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
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .hypothesis htmlcov .coverage .coverage.* mutants
