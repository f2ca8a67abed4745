# Every checkpoint on the test split (`eval/`), and the recipe's checkpoints on the validation split
# (`eval_val/`). `evaluate`: self-improvement inference (its first attempt is
# the checkpoint without self-improvement); the answer-only checkpoint answers in one line; the
# expert LLM baselines run only for tasks whose expert is an LLM.


rule evaluate:
    input:
        model=lambda wc: model_dir(wc.task, wc.seed, wc.checkpoint),
        test=lambda wc: split_file(wc.task, "test" if wc.evalset == "eval" else "val"),
    output:
        pickle=f"{R}/{{evalset}}/{{task}}/seed{{seed}}/{{checkpoint}}.pkl",
        summary=f"{R}/{{evalset}}/{{task}}/seed{{seed}}/{{checkpoint}}.json",
    log:
        f"{R}/logs/evaluate/{{evalset}}_{{task}}_seed{{seed}}_{{checkpoint}}.log",
    benchmark:
        f"{R}/benchmarks/evaluate/{{evalset}}_{{task}}_seed{{seed}}_{{checkpoint}}.tsv"
    priority: priority_at(plan.LAST_STEP)
    conda:
        "../envs/eval.yaml"
    threads: config["threads"]
    resources:
        mem_mb=8000,
        runtime=60,
        gpu=config["gpus_per_job"],
    params:
        evaluation=settings_of(lambda s: s.evaluation),
    script:
        "../scripts/evaluate.py"


rule evaluate_answer_only:
    input:
        model=model_dir("{task}", "{seed}", "answer_only"),
        test=split_file("{task}", "test"),
    output:
        pickle=f"{R}/eval/{{task}}/seed{{seed}}/answer_only.pkl",
        summary=f"{R}/eval/{{task}}/seed{{seed}}/answer_only.json",
    log:
        f"{R}/logs/evaluate_answer_only/{{task}}_seed{{seed}}.log",
    benchmark:
        f"{R}/benchmarks/evaluate_answer_only/{{task}}_seed{{seed}}.tsv"
    priority: priority_at(plan.LAST_STEP)
    conda:
        "../envs/eval.yaml"
    threads: config["threads"]
    resources:
        mem_mb=8000,
        runtime=30,
        gpu=config["gpus_per_job"],
    params:
        evaluation=settings_of(lambda s: s.evaluation),
    script:
        "../scripts/evaluate.py"


rule evaluate_llm:
    input:
        test=split_file("{task}", "test"),
        train=split_file("{task}", "train"),
    output:
        pickle=f"{R}/eval/{{task}}/{{llm_method}}.pkl",
        summary=f"{R}/eval/{{task}}/{{llm_method}}.json",
        ledger=f"{R}/eval/{{task}}/{{llm_method}}.ledger.json",
    log:
        f"{R}/logs/evaluate_llm/{{task}}_{{llm_method}}.log",
    benchmark:
        f"{R}/benchmarks/evaluate_llm/{{task}}_{{llm_method}}.tsv"
    priority: priority_at(plan.LAST_STEP)
    conda:
        "../envs/eval.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=120,
    params:
        expert=expert_for("llm_baselines"),
        llm=settings_of(lambda s: s.llm),
    script:
        "../scripts/evaluate_llm.py"
