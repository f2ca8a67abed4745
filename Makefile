# Two commands do everything: `make run` (the paper rebuild) and `make test` (the test suite).
# Both create .venv with the pinned versions on first use.
PYTHON ?= python3
VENV := .venv
STAMP := $(VENV)/.installed
CORES ?= 2

.PHONY: run test lint dry-run clean

$(STAMP): requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet torch==2.13.0
	$(VENV)/bin/pip install --quiet -r requirements.lock
	$(VENV)/bin/python -c "import site, os; open(os.path.join(site.getsitepackages()[0], 'tripost-src.pth'), 'w').write(os.getcwd())"
	touch $(STAMP)

run: $(STAMP)
	$(VENV)/bin/snakemake --cores $(CORES)

test: $(STAMP)
	$(VENV)/bin/python -m pytest -q tests

lint: $(STAMP)
	$(VENV)/bin/snakemake --lint

dry-run: $(STAMP)
	$(VENV)/bin/snakemake -n

clean:
	rm -rf results .snakemake
