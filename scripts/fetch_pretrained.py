import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent))  # noqa: F821 - the workflow's tripost package

from tripost.pretrained import fetch_pretrained
from tripost.snake import job

sm = snakemake  # noqa: F821 - provided by Snakemake
with job(sm):
    fetch_pretrained(sm.wildcards.pretrained, Path(sm.config["model"]["cache"]))
