import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent))  # noqa: F821 - the workflow's tripost package

from tripost import stages
from tripost.job_settings import ModelSettings, TrainingSettings, from_params
from tripost.snake import job

sm = snakemake  # noqa: F821 - provided by Snakemake
with job(sm):
    stages.train_baseline(
        sm.wildcards.task,
        [Path(sm.input.train), Path(sm.input.extra_train)],
        Path(sm.input.rationales) if sm.input.get("rationales") else None,  # none: answer-only
        Path(sm.input.tokenizer[0]) if sm.input.get("tokenizer") else None,
        from_params(ModelSettings, sm.params.model),
        from_params(TrainingSettings, sm.params.training),
        int(sm.wildcards.seed),
        Path(sm.output[0]),
    )
