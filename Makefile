# Two commands for a new machine (Linux or macOS, Python >= 3.11):
#   make lab    set up, then open the course in JupyterLab
#   make test   set up, then run every test, the notebooks included
PYTHON ?= $(shell command -v python3.13 || command -v python3.12 || command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin

.PHONY: lab test setup clean

$(BIN)/.installed: pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "FinPay Lab needs Python 3.11 or newer; set PYTHON=/path/to/python3.11")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test,lab]'
	@touch $@

setup: $(BIN)/.installed

lab: setup
	$(BIN)/jupyter lab notebooks/00_welcome.ipynb

test: setup
	$(BIN)/ruff check finpay_lab tests benchmarks
	$(BIN)/pytest -p no:cacheprovider tests $(wildcard notebooks/*.ipynb) --nbval-lax --sanitize-with tests/nbval_sanitize.cfg

clean:
	rm -rf $(VENV) .pytest_cache tests/artifacts
