import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent))  # noqa: F821 - the workflow's tripost package

from tripost import stages
from tripost.snake import job

sm = snakemake  # noqa: F821 - provided by Snakemake
with job(sm):
    records = [Path(sm.input.train), Path(sm.input.extra_train)]
    stages.train_tokenizer(sm.wildcards.task, records, Path(sm.input.rationales), sm.params.vocab_size,
                           Path(sm.output[0]))
