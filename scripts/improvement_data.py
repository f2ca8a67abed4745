import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent))  # noqa: F821 - the workflow's tripost package

from tripost import io, stages
from tripost.snake import job

sm = snakemake  # noqa: F821 - provided by Snakemake
with job(sm):
    cfg = sm.params.tripost
    iteration = int(sm.wildcards.iteration)
    window = stages.collection_window(io.read_jsonl(sm.input.train), cfg["collect_window"], iteration)
    stages.build_improvement_data(
        sm.wildcards.task, Path(sm.input.improvements), window, Path(sm.input.rationales), cfg,
        seed=int(sm.wildcards.seed) + 1000 * iteration,
        out_data=Path(sm.output.data), out_counts=Path(sm.output.counts),
    )
