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
    attempt_only = iteration == 1 and cfg["attempt_only_first"]
    stats = stages.rollout(
        sm.wildcards.task, Path(sm.input.model), window, cfg["rollout"], attempt_only,
        seed=int(sm.wildcards.seed) + 1000 * iteration, out=Path(sm.output[0]),
    )
    print(stats)
