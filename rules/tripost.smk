# One TriPosT iteration t of a run: rollouts -> feedback -> improvement -> improvement data ->
# checkpoint. Runs: `tripost` (the main one), one per ablation point (`p0.5`, `w2`, ...) and
# `si_demo` (the ft SI demo baseline, whose rollouts are the expert's own attempts).


rule rollouts:
    input:
        model=previous_checkpoint,
        questions=collection_files,
    output:
        f"{R}/tripost/{{task}}/seed{{seed}}/{{run}}/iter{{iteration}}/rollouts.jsonl",
    log:
        f"{R}/logs/rollouts/{{task}}_seed{{seed}}_{{run}}_iter{{iteration}}.log",
    benchmark:
        f"{R}/benchmarks/rollouts/{{task}}_seed{{seed}}_{{run}}_iter{{iteration}}.tsv"
    wildcard_constraints:
        run=rf"(?!{plan.SI_DEMO}/){RUN_PATTERN}",
    priority: priority_at("iteration")
    conda:
        "../envs/eval.yaml"
    threads: config["threads"]
    resources:
        mem_mb=8000,
        runtime=60,
        gpu=config["gpus_per_job"],
    params:
        collection=collection_settings,
        rollout=settings_of(lambda s: s.tripost.rollout),
        attempt_only_first=settings_of(lambda s: s.tripost.attempt_only_first),
    script:
        "../scripts/rollouts.py"


rule feedback:
    input:
        rollouts=f"{R}/tripost/{{task}}/seed{{seed}}/{{run}}/iter{{iteration}}/rollouts.jsonl",
        questions=collection_files,
    output:
        feedback=f"{R}/tripost/{{task}}/seed{{seed}}/{{run}}/iter{{iteration}}/feedback.jsonl",
        ledger=f"{R}/tripost/{{task}}/seed{{seed}}/{{run}}/iter{{iteration}}/feedback.ledger.json",
    log:
        f"{R}/logs/feedback/{{task}}_seed{{seed}}_{{run}}_iter{{iteration}}.log",
    benchmark:
        f"{R}/benchmarks/feedback/{{task}}_seed{{seed}}_{{run}}_iter{{iteration}}.tsv"
    priority: priority_at("iteration")
    conda:
        "../envs/data.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=120,
    params:
        max_attempt_words=settings_of(lambda s: s.tripost.max_attempt_words),
        collection=collection_settings,
        expert=expert_for("feedback"),
    script:
        "../scripts/feedback.py"


rule improvement:
    input:
        feedback=rules.feedback.output.feedback,
        questions=collection_files,
    output:
        improvements=f"{R}/tripost/{{task}}/seed{{seed}}/{{run}}/iter{{iteration}}/improvements.jsonl",
        ledger=f"{R}/tripost/{{task}}/seed{{seed}}/{{run}}/iter{{iteration}}/improvements.ledger.json",
    log:
        f"{R}/logs/improvement/{{task}}_seed{{seed}}_{{run}}_iter{{iteration}}.log",
    benchmark:
        f"{R}/benchmarks/improvement/{{task}}_seed{{seed}}_{{run}}_iter{{iteration}}.tsv"
    priority: priority_at("iteration")
    conda:
        "../envs/data.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=120,
    params:
        collection=collection_settings,
        expert=expert_for("improvement"),
    script:
        "../scripts/improvement.py"


rule improvement_data:
    input:
        improvements=edited_trajectories,
        questions=collection_files,
        rationales=f"{R}/data/{{task}}/rationales.jsonl",
    output:
        data=f"{R}/tripost/{{task}}/seed{{seed}}/{{run}}/iter{{iteration}}/train.jsonl",
        counts=f"{R}/tripost/{{task}}/seed{{seed}}/{{run}}/iter{{iteration}}/counts.json",
    log:
        f"{R}/logs/improvement_data/{{task}}_seed{{seed}}_{{run}}_iter{{iteration}}.log",
    benchmark:
        f"{R}/benchmarks/improvement_data/{{task}}_seed{{seed}}_{{run}}_iter{{iteration}}.tsv"
    wildcard_constraints:
        run=rf"(?!{plan.CONTROL}/){RUN_PATTERN}",
    priority: priority_at("iteration")
    conda:
        "../envs/data.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        collection=collection_settings,
        data=settings_of(lambda s: s.tripost.data()),
    script:
        "../scripts/improvement_data.py"


# The control run: at each iteration, the main run's training questions as plain SFT on their gold
# rationales, one row per row of the main run's data (the same number of optimizer steps), trained
# with the main run's settings from the control's previous checkpoint.
rule control_data:
    input:
        main=f"{R}/tripost/{{task}}/seed{{seed}}/{plan.MAIN_RUN}/iter{{iteration}}/train.jsonl",
        questions=lambda wc: [split_file(wc.task, s) for s in ("train", "extra_train")],
        rationales=f"{R}/data/{{task}}/rationales.jsonl",
    output:
        data=f"{R}/tripost/{{task}}/seed{{seed}}/{plan.CONTROL}/iter{{iteration}}/train.jsonl",
        counts=f"{R}/tripost/{{task}}/seed{{seed}}/{plan.CONTROL}/iter{{iteration}}/counts.json",
    log:
        f"{R}/logs/control_data/{{task}}_seed{{seed}}_iter{{iteration}}.log",
    benchmark:
        f"{R}/benchmarks/control_data/{{task}}_seed{{seed}}_iter{{iteration}}.tsv"
    priority: priority_at("iteration")
    conda:
        "../envs/data.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    script:
        "../scripts/control_data.py"


rule tripost_checkpoint:
    input:
        model=previous_checkpoint,
        data=rules.improvement_data.output.data,
    output:
        directory(model_dir("{task}", "{seed}", "{run}/iter{iteration}")),
    log:
        f"{R}/logs/tripost_checkpoint/{{task}}_seed{{seed}}_{{run}}_iter{{iteration}}.log",
    benchmark:
        f"{R}/benchmarks/tripost_checkpoint/{{task}}_seed{{seed}}_{{run}}_iter{{iteration}}.tsv"
    priority: priority_at("iteration")
    conda:
        "../envs/training.yaml"
    threads: config["threads"]
    resources:
        mem_mb=8000,
        runtime=120,
        gpu=config["gpus_per_job"],
    params:
        training=settings_of(lambda s: s.tripost.weighted_training()),
    script:
        "../scripts/tripost_checkpoint.py"
