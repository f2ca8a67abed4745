import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent))  # noqa: F821 - the workflow's tripost package

from tripost import stages
from tripost.settings import job_expert
from tripost.snake import job

sm = snakemake  # noqa: F821 - provided by Snakemake
with job(sm):
    expert = job_expert(sm.params.expert, sm.config, sm.wildcards.task)
    stages.si_demo_attempts(sm.wildcards.task, Path(sm.input.train), expert, sm.params.passes,
                            sm.params.attempt_temperature, int(sm.wildcards.seed), Path(sm.output.rollouts),
                            Path(sm.output.ledger))
