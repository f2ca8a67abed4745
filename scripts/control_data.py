import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent))  # noqa: F821 - the workflow's tripost package

from tripost import stages
from tripost.snake import job

sm = snakemake  # noqa: F821 - provided by Snakemake
with job(sm):
    stages.control_data(
        sm.wildcards.task, Path(sm.input.main), [Path(p) for p in sm.input.questions], Path(sm.input.rationales),
        Path(sm.output.data), Path(sm.output.counts),
    )
