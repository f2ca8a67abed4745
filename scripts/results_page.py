import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent))  # noqa: F821 - the workflow's tripost package

from tripost import results_page
from tripost.snake import job

sm = snakemake  # noqa: F821 - provided by Snakemake
with job(sm):
    results_page.write(Path(sm.input.cells), Path(sm.input.main), sm.params.tasks, sm.params.seeds, sm.params.scale,
                       Path(sm.output[0]))
