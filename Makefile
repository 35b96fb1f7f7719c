# Two commands for a fresh clone: `make run` and `make test`. Each builds .venv itself.
# `make check`: lint, types and the tests that need no service, process or browser (the edit-test loop).
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
LOCK   := requirements.lock
UV     := uv==0.13.9

.PHONY: run test check install lint lock bench clean rehearse

# Installs exactly the versions (and hashes) of requirements.lock, then Parley itself without
# resolving anything again. A lock older than pyproject's dependencies stops here: `make lock`.
$(STAMP): pyproject.toml $(LOCK)
	@$(PYTHON) -c 'import sys; sys.exit("Parley needs Python 3.11 or newer") if sys.version_info < (3, 11) else None'
	@$(PYTHON) tools/lockfile.py check
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet --require-hashes -r $(LOCK)
	$(BIN)/python -m pip install --quiet --no-deps -e .
	@touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/parley db upgrade
	$(BIN)/parley serve

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	$(BIN)/mypy
	$(BIN)/vulture

test: lint
	$(BIN)/pytest

# The markers are put on by tests/conftest.py from what each test uses (tests/fixtures/tiers.py).
# Bytecode is cached even where PYTHONDONTWRITEBYTECODE is set: without it every run compiles and
# assertion-rewrites every test module again (about 15 s of CPU here).
check: lint
	PYTHONDONTWRITEBYTECODE= PARLEY_TEST_TIER=check $(BIN)/pytest -q -m "not postgres and not redis and not process and not browser"

# Resolve pyproject's dependencies (dev included) from PyPI for every platform and Python >= 3.11,
# with hashes, into requirements.lock. Run it after changing a dependency; commit both files.
lock:
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet '$(UV)'
	$(BIN)/uv pip compile pyproject.toml --extra dev --universal --python-version 3.11 --generate-hashes \
		--no-config --custom-compile-command 'make lock' --quiet --output-file $(LOCK)
	$(PYTHON) tools/lockfile.py stamp

bench: $(STAMP)
	$(BIN)/python -m bench
	$(BIN)/python -m bench scale

# A dress rehearsal of the shipped event on the real stack (docs/rehearsal.md); options in ARGS.
rehearse: $(STAMP)
	$(BIN)/parley rehearse --attendees 300 $(ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .import_linter_cache
