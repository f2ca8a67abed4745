import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent))  # noqa: F821 - the workflow's tripost package

from tripost import io, tables
from tripost.snake import job

sm = snakemake  # noqa: F821 - provided by Snakemake
with job(sm):
    table = tables.runtime_table(Path(sm.params.benchmarks))
    tables.write_csv(table, sm.output.csv)
    total = table["total_s"].sum()
    note = (f"Wall seconds per rule, from the rules' benchmark files: {total / 60:.1f} job-minutes in all "
            f"(the wall time of a run is about this over the cores, jobs running side by side).")
    io.write_text(sm.output.md, tables.markdown(table, list(table.columns), note))
