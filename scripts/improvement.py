import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent))  # noqa: F821 - the workflow's tripost package

from tripost import stages
from tripost.job_settings import CollectionSettings, from_params
from tripost.settings import job_expert
from tripost.snake import job

sm = snakemake  # noqa: F821 - provided by Snakemake
with job(sm):
    expert = job_expert(sm.params.expert, sm.config, sm.wildcards.task)
    records = stages.questions_by_id([Path(p) for p in sm.input.questions])
    collection = from_params(CollectionSettings, sm.params.collection)
    stages.improvement(sm.wildcards.task, Path(sm.input.feedback), records, expert, Path(sm.output.improvements),
                       Path(sm.output.ledger), expected=stages.expected_trajectories(records, collection))
