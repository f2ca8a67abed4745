import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent))  # noqa: F821 - the workflow's tripost package

from tripost import stages
from tripost.snake import job

sm = snakemake  # noqa: F821 - provided by Snakemake
with job(sm):
    stages.lmsi_data(sm.wildcards.task, Path(sm.input.samples), Path(sm.input.train), sm.params.selection,
                     sm.params.answer_only_augmentation,
                     Path(sm.output.data), Path(sm.output.counts))
