import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent))  # noqa: F821 - the workflow's tripost package

from tripost import stages
from tripost.snake import job

with job(snakemake):  # noqa: F821 - provided by Snakemake
    stages.write_synthetic_task(
        f"{snakemake.wildcards.name}/task.json", Path(snakemake.output[0]), snakemake.params.n_examples, seed=0  # noqa: F821
    )
