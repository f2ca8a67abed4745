import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent))  # noqa: F821 - the workflow's tripost package

from tripost import stages
from tripost.job_settings import RolloutSettings, from_params
from tripost.snake import job

sm = snakemake  # noqa: F821 - provided by Snakemake
with job(sm):
    stages.lmsi_samples(
        sm.wildcards.task, Path(sm.input.model), Path(sm.input.train), from_params(RolloutSettings, sm.params.decoding),
        sm.params.samples, sm.params.temperature, int(sm.wildcards.seed), Path(sm.output[0]),
    )
