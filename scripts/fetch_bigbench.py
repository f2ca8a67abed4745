import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent))  # noqa: F821 - the workflow's tripost package

from tripost import stages
from tripost.snake import job

with job(snakemake):  # noqa: F821 - provided by Snakemake
    stages.fetch_bigbench(Path(snakemake.config["bigbench"]["cache"]))  # noqa: F821
