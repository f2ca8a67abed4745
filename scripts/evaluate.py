import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent))  # noqa: F821 - the workflow's tripost package

from tripost import io, stages
from tripost.job_settings import DecodingSettings, from_params
from tripost.snake import job

sm = snakemake  # noqa: F821 - provided by Snakemake
# the self-improvement evaluation, or the answer-only one (rule evaluate_answer_only)
evaluate = stages.evaluate_answer_only if sm.rule == "evaluate_answer_only" else stages.evaluate
with job(sm):
    evaluate(
        sm.wildcards.task, sm.wildcards.get("checkpoint", "answer_only"), Path(sm.input.model),
        io.read_jsonl(sm.input.test),
        from_params(DecodingSettings, sm.params.evaluation),
        seed=int(sm.wildcards.seed), out_pickle=Path(sm.output.pickle), out_summary=Path(sm.output.summary),
    )
