# Two commands set everything up on a fresh machine: `make run` and `make test`.
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip
HOST   ?= 127.0.0.1
PORT   ?= 8000
PYTEST_ARGS ?=

# Debian packages the app needs: opencore-amr decodes phones' AMR voice notes with DTX,
# which FFmpeg's own decoder stops reading at the first pause.
RUN_DEBS := libopencore-amrnb0 libopencore-amrwb0
# And those the tests drive for real: a browser for the UI tests; sox (with its AMR format,
# in libsox-fmt-base) and VisualOn's AMR-WB encoder (libvo-amrwbenc0) make DTX voice notes; postgresql-client's pg_dump and pg_restore back up
# PostgreSQL installations (`dictation backup`); dovecot-imapd is the IMAP mailbox mail-in is
# tested against; espeak-ng speaks the memos full of names that learning is measured on; the
# fault tests (tests/test_faults_*.py) start PostgreSQL (/usr/lib/postgresql/*/bin) and
# redis-server instances of their own, to stop and kill them without touching shared ones. jq:
# Ghost's start script needs it and would apt-get it itself, without waiting for the package
# lock that WordPress's start script, started beside it (tests/support/peers.py), may hold.
TEST_DEBS := $(RUN_DEBS) chromium chromium-driver sox libsox-fmt-base libvo-amrwbenc0 postgresql-client dovecot-imapd espeak-ng \
	postgresql redis-server jq
DEBS ?= $(TEST_DEBS)

.PHONY: scale-test run test check install install-dev system-deps bench clean fuzz

$(PY):
	python3 -m venv $(VENV)
	$(PIP) install -q --upgrade pip

# The stamp files re-run pip only when pyproject.toml changes.
$(VENV)/.installed: pyproject.toml | $(PY)
	$(PIP) install -q -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(PY)
	$(PIP) install -q -e '.[openai,dev]'
	touch $@ $(VENV)/.installed

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

system-deps:
	@missing=""; for p in $(DEBS); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing Debian packages:$$missing"; \
	    apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $$missing >/dev/null; \
	  else echo "missing Debian packages:$$missing (run as root or install them; what needs them will say so)"; fi; \
	fi

run: install
	@$(MAKE) --no-print-directory system-deps DEBS="$(RUN_DEBS)"
	$(PY) -m dictation doctor
	$(PY) -m dictation serve --host $(HOST) --port $(PORT)

# Lint, types and layering (pyproject.toml) fail in seconds, before the suite's long run.
check: install-dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

test: install-dev system-deps check
	$(PY) -m pytest $(PYTEST_ARGS)

# The API fuzzed much longer than in `make test` (FUZZ_EXAMPLES per operation; needs PostgreSQL).
fuzz: install-dev
	FUZZ_EXAMPLES=$${FUZZ_EXAMPLES:-500} $(PY) -m pytest -q tests/test_fuzz.py

bench: install-dev
	$(PY) bench/transcribe.py
	$(PY) bench/server.py
	$(PY) bench/scale.py
	$(PY) bench/load.py
	$(PY) bench/learning.py

# Several worker processes on PostgreSQL and Redis (issue 13) alone; `make test` runs it too.
scale-test: install-dev
	$(PY) -m pytest -q tests/test_many_workers.py

clean:
	rm -rf $(VENV) build *.egg-info test-output
