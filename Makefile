# `make run` (the first seed's ft rationale and TriPosT), `make paper` (every table and figure),
# `make report` (the Snakemake report of what was built) and `make test` (the test suite).
# Both create .venv with the pinned versions on first use.
PYTHON ?= python3
VENV := .venv
STAMP := $(VENV)/.installed
CORES ?= 2
# pytest workers for `make test` (tests/conftest.py says which files go first)
TEST_WORKERS ?= 2
# More Snakemake arguments for `make run`, `make paper` and `make report`,
# e.g. ARGS="--config 'seeds=[0]'" (one seed).
ARGS ?=

.PHONY: run paper report test test-fast fetch lint dry-run clean

$(STAMP): requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet torch==2.13.0
	$(VENV)/bin/pip install --quiet -r requirements.lock
	$(VENV)/bin/python -c "import site, os; open(os.path.join(site.getsitepackages()[0], 'tripost-src.pth'), 'w').write(os.getcwd())"
	touch $(STAMP)

run: $(STAMP)
	$(VENV)/bin/snakemake --cores $(CORES) core $(ARGS)

paper: $(STAMP)
	$(VENV)/bin/snakemake --cores $(CORES) paper $(ARGS)

report: $(STAMP)
	$(VENV)/bin/snakemake paper --report results/report.html $(ARGS)

test: fetch  # the BIG-Bench files first: the tests on every puzzle need them, and a skip fails the suite
	$(VENV)/bin/python -m pytest -q -rs --durations=25 -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder tests

# Without the end-to-end runs (tests marked slow): a few minutes, while working on the code.
test-fast: fetch
	$(VENV)/bin/python -m pytest -q -rs -m "not slow" tests

# The BIG-Bench task files (bigbench==1.0.0's, shipped in tripost/data/bigbench, sha256-checked) into .cache/bigbench:
# `make run` fetches them itself; the tests that need them skip without them.
fetch: $(STAMP)
	$(VENV)/bin/python -c "from pathlib import Path; from tripost.stages import fetch_bigbench; fetch_bigbench(Path('.cache/bigbench'))"

# Snakemake's own lint, the rule files' format (snakefmt) and the Python code's (ruff; both set
# in pyproject.toml).
lint: $(STAMP)
	$(VENV)/bin/snakemake --lint
	$(VENV)/bin/snakefmt --check Snakefile rules/
	$(VENV)/bin/ruff check .

dry-run: $(STAMP)
	$(VENV)/bin/snakemake -n paper

clean:
	rm -rf results .snakemake
