import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent))  # noqa: F821 - the workflow's tripost package

from tripost import stages
from tripost.snake import job

sm = snakemake  # noqa: F821 - provided by Snakemake
with job(sm):
    outputs = {name: Path(sm.output[name]) for name in stages.SPLITS}
    print(stages.make_splits(sm.wildcards.task, sm.params.data, [Path(p) for p in sm.input.sources], outputs))
