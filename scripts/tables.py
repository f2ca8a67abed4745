import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent))  # noqa: F821 - the workflow's tripost package

from tripost import report
from tripost.snake import job

sm = snakemake  # noqa: F821 - provided by Snakemake
with job(sm):
    report.write_tables(
        [Path(p) for p in sm.input.summaries], [Path(p) for p in sm.input.counts], sm.params.seeds,
        Path(sm.output.csv), Path(sm.output.md), Path(sm.output.iterations),
    )
