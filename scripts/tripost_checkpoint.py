import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent))  # noqa: F821 - the workflow's tripost package

from tripost import stages
from tripost.job_settings import WeightedTrainingSettings, from_params
from tripost.snake import job

sm = snakemake  # noqa: F821 - provided by Snakemake
with job(sm):
    stages.train_iteration(
        Path(sm.input.model), Path(sm.input.data), from_params(WeightedTrainingSettings, sm.params.training),
        seed=stages.iteration_seed(int(sm.wildcards.seed), int(sm.wildcards.iteration)), out_dir=Path(sm.output[0]),
    )
