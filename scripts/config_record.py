import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent))  # noqa: F821 - the workflow's tripost package

import yaml

from tripost import io
from tripost.snake import job

sm = snakemake  # noqa: F821 - provided by Snakemake
with job(sm):
    io.write_text(sm.output[0], yaml.safe_dump(dict(sm.params.config), sort_keys=False))
