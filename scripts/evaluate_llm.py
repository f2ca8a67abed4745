import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent))  # noqa: F821 - the workflow's tripost package

from tripost import io, stages
from tripost.job_settings import LLMBaselineSettings, from_params
from tripost.settings import job_expert
from tripost.snake import job

sm = snakemake  # noqa: F821 - provided by Snakemake
with job(sm):
    expert = job_expert(sm.params.expert, sm.config, sm.wildcards.task)
    stages.evaluate_llm(
        sm.wildcards.task, sm.wildcards.llm_method, io.read_jsonl(sm.input.test), io.read_jsonl(sm.input.train),
        expert, from_params(LLMBaselineSettings, sm.params.llm), Path(sm.output.pickle), Path(sm.output.summary),
        Path(sm.output.ledger),
    )
