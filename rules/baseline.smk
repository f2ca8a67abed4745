# The baselines (method §7): ft rationale and ft answer-only (SFT from scratch, or from the HF
# model), and the two trained from the ft-rationale checkpoint, LMSI and ft SI demo (whose
# trajectories then go through the TriPosT rules as the one-iteration run `si_demo`).


rule baseline:
    input:
        train=split_file("{task}", "train"),
        extra_train=split_file("{task}", "extra_train"),
        rationales=f"{R}/data/{{task}}/rationales.jsonl",
        tokenizer=tokenizer_dir,
    output:
        directory(model_dir("{task}", "{seed}", "baseline")),
    log:
        f"{R}/logs/baseline/{{task}}_seed{{seed}}.log",
    benchmark:
        f"{R}/benchmarks/baseline/{{task}}_seed{{seed}}.tsv"
    params:
        model=model_settings,
        training=lambda wc: tcfg(wc)["baseline"]["training"],
    # the longest jobs first: every task's baseline starts before any iteration job, so that
    # the short per-iteration jobs fill the cores while the longest baseline still trains
    priority: 10
    threads: config["threads"]
    resources:
        mem_mb=8000,
        runtime=120,
        gpu=config["gpus_per_job"],
    conda:
        "../envs/training.yaml"
    script:
        "../scripts/baseline.py"


rule answer_only:
    input:
        train=split_file("{task}", "train"),
        extra_train=split_file("{task}", "extra_train"),
        tokenizer=tokenizer_dir,
    output:
        directory(model_dir("{task}", "{seed}", "answer_only")),
    log:
        f"{R}/logs/answer_only/{{task}}_seed{{seed}}.log",
    benchmark:
        f"{R}/benchmarks/answer_only/{{task}}_seed{{seed}}.tsv"
    params:
        model=model_settings,
        training=training_override("answer_only", "baseline"),
    priority: 5
    threads: config["threads"]
    resources:
        mem_mb=8000,
        runtime=120,
        gpu=config["gpus_per_job"],
    conda:
        "../envs/training.yaml"
    script:
        "../scripts/baseline.py"


rule lmsi_samples:
    input:
        model=model_dir("{task}", "{seed}", "baseline"),
        train=split_file("{task}", "train"),
    output:
        f"{R}/lmsi/{{task}}/seed{{seed}}/samples.jsonl",
    log:
        f"{R}/logs/lmsi_samples/{{task}}_seed{{seed}}.log",
    benchmark:
        f"{R}/benchmarks/lmsi_samples/{{task}}_seed{{seed}}.tsv"
    params:
        decoding=lambda wc: tcfg(wc)["tripost"]["rollout"],
        lmsi=lambda wc: {k: tcfg(wc)["baselines"]["lmsi"][k] for k in ("samples", "temperature")},
    threads: config["threads"]
    resources:
        mem_mb=8000,
        runtime=60,
        gpu=config["gpus_per_job"],
    conda:
        "../envs/eval.yaml"
    script:
        "../scripts/lmsi_samples.py"


rule lmsi_data:
    input:
        samples=rules.lmsi_samples.output[0],
        train=split_file("{task}", "train"),
    output:
        data=f"{R}/lmsi/{{task}}/seed{{seed}}/train.jsonl",
        counts=f"{R}/lmsi/{{task}}/seed{{seed}}/counts.json",
    log:
        f"{R}/logs/lmsi_data/{{task}}_seed{{seed}}.log",
    benchmark:
        f"{R}/benchmarks/lmsi_data/{{task}}_seed{{seed}}.tsv"
    params:
        lmsi=lambda wc: {k: tcfg(wc)["baselines"]["lmsi"][k] for k in ("selection", "answer_only_augmentation")},
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    conda:
        "../envs/data.yaml"
    script:
        "../scripts/lmsi_data.py"


rule lmsi:
    input:
        model=model_dir("{task}", "{seed}", "baseline"),
        data=rules.lmsi_data.output.data,
    output:
        directory(model_dir("{task}", "{seed}", "lmsi")),
    log:
        f"{R}/logs/lmsi/{{task}}_seed{{seed}}.log",
    benchmark:
        f"{R}/benchmarks/lmsi/{{task}}_seed{{seed}}.tsv"
    params:
        training=training_override("lmsi", "tripost"),
    threads: config["threads"]
    resources:
        mem_mb=8000,
        runtime=120,
        gpu=config["gpus_per_job"],
    conda:
        "../envs/training.yaml"
    script:
        "../scripts/lmsi.py"


rule si_demo_attempts:
    input:
        train=split_file("{task}", "train"),
    output:
        rollouts=f"{R}/tripost/{{task}}/seed{{seed}}/si_demo/iter1/rollouts.jsonl",
        ledger=f"{R}/tripost/{{task}}/seed{{seed}}/si_demo/iter1/rollouts.ledger.json",
    log:
        f"{R}/logs/si_demo_attempts/{{task}}_seed{{seed}}.log",
    benchmark:
        f"{R}/benchmarks/si_demo_attempts/{{task}}_seed{{seed}}.tsv"
    params:
        expert=expert_for("si_demo"),
        demo=lambda wc: {k: tcfg(wc)["baselines"]["si_demo"][k] for k in ("passes", "attempt_temperature")},
    threads: 1
    resources:
        mem_mb=2000,
        runtime=120,
    conda:
        "../envs/data.yaml"
    script:
        "../scripts/si_demo_attempts.py"
