import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent))  # noqa: F821 - the workflow's tripost package

from tripost import stages
from tripost.job_settings import CollectionSettings, RolloutSettings, from_params
from tripost.snake import job

sm = snakemake  # noqa: F821 - provided by Snakemake
with job(sm):
    stats = stages.rollout(
        sm.wildcards.task, Path(sm.input.model), [Path(p) for p in sm.input.questions],
        from_params(CollectionSettings, sm.params.collection), from_params(RolloutSettings, sm.params.rollout),
        sm.params.attempt_only_first, int(sm.wildcards.seed), Path(sm.output[0]),
    )
    print(stats)
