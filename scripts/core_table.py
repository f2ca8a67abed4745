import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent))  # noqa: F821 - the workflow's tripost package

from tripost import tables
from tripost.snake import job

sm = snakemake  # noqa: F821 - provided by Snakemake
with job(sm):
    tables.core_table([Path(p) for p in sm.input.pickles], tables.results_root(Path(sm.input.pickles[0])),
                      sm.params.tasks, sm.params.iterations, Path(sm.output.md), Path(sm.output.cells))
