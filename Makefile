# The README's two commands: `make run` and `make test`. Both create .venv and install on first use,
# printing each step (the first install downloads TensorFlow, several hundred MB: minutes).
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run serve test lint data bench clean

run: data
	@echo "== 3/3 the page: open http://localhost:8501 (Ctrl-C stops it)"
	$(VENV)/bin/streamlit run app.py --server.headless true

serve: data  # for a class: every address of this machine, port 8501, the class-server settings
	$(VENV)/bin/digitdnn serve --address 0.0.0.0 --port 8501

test: data
	$(PY) -m pytest

lint: $(STAMP)  # style and import order (ruff), then types (mypy); both configured in pyproject.toml
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

data: $(STAMP)
	@echo "== 2/3 MNIST: fetched and verified once (about 20 MB), then read from the cache"
	$(PY) -m digitdnn data

bench: $(STAMP)  # every benchmark, one table; a full run also writes it into docs/benchmarks.md
	$(PY) -m benchmarks

$(STAMP): pyproject.toml
	@echo "== 1/3 installing into $(VENV) with $(PYTHON): pip, then digitdnn and its dependencies"
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --upgrade pip
	$(PY) -m pip install --progress-bar on -e '.[test]'
	@echo "== installed"
	touch $(STAMP)

clean:
	rm -rf $(VENV) build *.egg-info
