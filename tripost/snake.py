"""The little glue between a Snakemake ``script:`` job and the stage functions."""

from __future__ import annotations

import contextlib
import os
import sys
import traceback
from pathlib import Path


@contextlib.contextmanager
def job(snakemake):
    """Send the job's output to its log file and give torch (imported later) the job's threads."""
    log = Path(snakemake.log[0])
    log.parent.mkdir(parents=True, exist_ok=True)
    for variable in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[variable] = str(max(1, snakemake.threads))
    with open(log, "w") as handle, contextlib.redirect_stdout(handle), contextlib.redirect_stderr(handle):
        try:
            yield
        except Exception:
            traceback.print_exc()
            raise
    sys.stdout.flush()
