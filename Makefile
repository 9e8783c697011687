# `make run` and `make test` create .venv themselves; nothing else needs installing.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp

.PHONY: run test bench clean audit faults

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

faults: $(STAMP)  ## every fault scenario (tests/faults, slow ones too, and the worker fleet); figures into var/faults.json
	rm -rf var/faults
	$(PY) -m pytest tests/faults tests/e2e/test_fleet.py -m "slow or not slow" $(PYTEST_ARGS)
	$(PY) -m tests.faults.figures var/faults.json

# pip-audit is installed into .venv on first use (it is not a dev extra: `make test` and CI do not
# need it). Everything that talks to the network is bounded, so an offline machine gets one line
# and a non-zero exit instead of a wait: AUDIT_TIMEOUT for each step, AUDIT_SOCKET_TIMEOUT per request.
AUDIT_TIMEOUT        ?= 180
AUDIT_SOCKET_TIMEOUT ?= 15
AUDIT_LOG            := $(VENV)/audit.log
AUDIT_BOUND          := $(shell command -v timeout >/dev/null 2>&1 && echo timeout $(AUDIT_TIMEOUT))

audit:  ## known vulnerabilities in the pinned runtime dependencies (constraints.txt); needs network to pypi.org
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PY) -m pip_audit --version >/dev/null 2>&1 || \
	  $(AUDIT_BOUND) $(PY) -m pip install --quiet --disable-pip-version-check --retries 0 \
	    --timeout $(AUDIT_SOCKET_TIMEOUT) 'pip-audit>=2.7,<3' >$(AUDIT_LOG) 2>&1 || \
	  { echo "make audit: could not install pip-audit into $(VENV) (no network to the package index?); see $(AUDIT_LOG)" >&2; exit 1; }
	@# --no-deps --disable-pip: the file is fully pinned, nothing to resolve or install;
	@# --strict: a dependency the advisory database cannot answer for fails the audit, not passes it.
	@$(AUDIT_BOUND) $(PY) -m pip_audit --requirement constraints.txt --no-deps --disable-pip --strict \
	    --progress-spinner off --timeout $(AUDIT_SOCKET_TIMEOUT) >$(AUDIT_LOG) 2>&1; rc=$$?; \
	  if [ $$rc -eq 0 ]; then grep -v '^WARNING:' $(AUDIT_LOG); \
	  elif grep -q 'known vulnerabilit' $(AUDIT_LOG); then grep -v '^WARNING:' $(AUDIT_LOG); exit 1; \
	  elif [ $$rc -eq 124 ]; then echo "make audit: no answer from the advisory database within $(AUDIT_TIMEOUT) s (no network to pypi.org?); see $(AUDIT_LOG)" >&2; exit 1; \
	  else echo "make audit: constraints.txt not audited (it needs the PyPI advisory database, network to pypi.org): $$(tail -n 1 $(AUDIT_LOG) | sed 's/^ERROR:pip_audit[._a-z]*://' | cut -c1-240); see $(AUDIT_LOG)" >&2; exit 1; fi

clean:
	rm -rf $(VENV) var .pytest_cache
