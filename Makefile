# The README's two commands: `make run` and `make test`. Both create .venv and install on first use.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run serve test data bench clean

run: $(STAMP)
	$(VENV)/bin/streamlit run app.py --server.headless true

serve: $(STAMP)  # for a class: every address of this machine, port 8501
	$(VENV)/bin/streamlit run app.py --server.headless true --server.address 0.0.0.0 --server.port 8501

test: $(STAMP)
	$(PY) -m digitdnn data
	$(PY) -m pytest

data: $(STAMP)
	$(PY) -m digitdnn data

bench: $(STAMP)
	$(PY) -m benchmarks

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

clean:
	rm -rf $(VENV) build *.egg-info
