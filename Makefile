# Two commands for a new machine (Linux or macOS, Python >= 3.11):
#   make lab    set up, then open the course in JupyterLab
#   make test   set up, then run every test, the notebooks included
# The first Python >= 3.11 that actually runs (a pyenv shim may exist but not run).
PYTHON ?= $(shell for p in python3.13 python3.12 python3.11 python3; do \
	$$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' >/dev/null 2>&1 && { command -v $$p; break; }; done)
VENV   := .venv
BIN    := $(VENV)/bin
# The lessons are notebooks/NN_*.ipynb; a scratch notebook made in JupyterLab (Untitled.ipynb)
# lands in notebooks/ too, and is not a lesson to test.
LESSONS = $(wildcard notebooks/[0-9][0-9]_*.ipynb)

.PHONY: lab test setup clean
.PHONY: site

$(BIN)/.installed: pyproject.toml
	@test -n "$(PYTHON)" || { echo "FinPay Lab needs Python 3.11 or newer: install one, or run make PYTHON=/path/to/python3.11"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test,lab]'
	@touch $@

setup: $(BIN)/.installed

# The URL jupyter prints (and opens) is the lesson itself, not the launcher.
lab: setup
	$(BIN)/jupyter lab $(if $(filter 0,$(shell id -u)),--allow-root) --LabApp.default_url=/lab/tree/notebooks/00_welcome.ipynb

test: setup
	$(BIN)/ruff check finpay_lab tests benchmarks scripts
	$(BIN)/ruff format --check finpay_lab tests benchmarks scripts
	$(BIN)/pytest -p no:cacheprovider tests $(LESSONS) --nbval-lax --nbval-sanitize-with tests/nbval_sanitize.cfg

# The executed course as a static website in site/ (open site/index.html): every lesson run
# (solutions not), with the glossary and the instructor notes. Offline: nbconvert, no theme to fetch.
site: setup
	$(BIN)/python scripts/build_site.py --out site

clean:
	rm -rf $(VENV) .pytest_cache tests/artifacts
	rm -rf site
