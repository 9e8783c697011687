# `make run` and `make test` create .venv themselves; nothing else needs installing.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp

.PHONY: run test bench clean

$(STAMP): setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)  ## the whole product on the sandbox, in one terminal
	$(VENV)/bin/connector run

test: $(STAMP)  ## the test suite (machine services when DATABASE_URL/REDIS_URL are set, embedded ones otherwise)
	$(PY) -m pytest $(PYTEST_ARGS)

bench: $(STAMP)  ## benchmarks; each prints its ratio against a baseline measured in the same run
	$(PY) -m bench.ingest
	$(PY) -m bench.e2e
	$(PY) -m bench.reconcile
	$(PY) -m bench.outage

clean:
	rm -rf $(VENV) var .pytest_cache
