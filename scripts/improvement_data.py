import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent))  # noqa: F821 - the workflow's tripost package

from tripost import stages
from tripost.job_settings import CollectionSettings, DataSettings, from_params
from tripost.snake import job

sm = snakemake  # noqa: F821 - provided by Snakemake
with job(sm):
    stages.build_improvement_data(
        sm.wildcards.task, Path(sm.input.improvements), [Path(p) for p in sm.input.questions],
        Path(sm.input.rationales), from_params(CollectionSettings, sm.params.collection),
        from_params(DataSettings, sm.params.data), int(sm.wildcards.seed),
        Path(sm.output.data), Path(sm.output.counts),
    )
