# The baselines (method §7): ft rationale and ft answer-only (SFT from scratch, or from the HF
# model), and the two trained from the ft-rationale checkpoint, LMSI and ft SI demo (whose
# trajectories then go through the TriPosT rules as the one-iteration run `si_demo`).


rule baseline:
    input:
        train=split_file("{task}", "train"),
        extra_train=split_file("{task}", "extra_train"),
        rationales=f"{R}/data/{{task}}/rationales.jsonl",
        tokenizer=tokenizer_dir,
        pretrained=pretrained_model,
    output:
        directory(model_dir("{task}", "{seed}", "baseline")),
    log:
        f"{R}/logs/baseline/{{task}}_seed{{seed}}.log",
    benchmark:
        f"{R}/benchmarks/baseline/{{task}}_seed{{seed}}.tsv"
    priority: priority_at(0)
    conda:
        "../envs/training.yaml"
    threads: config["threads"]
    resources:
        mem_mb=8000,
        runtime=120,
        gpu=config["gpus_per_job"],
    params:
        model=settings_of(lambda s: s.model),
        training=settings_of(lambda s: s.baseline),
    script:
        "../scripts/baseline.py"


rule answer_only:
    input:
        train=split_file("{task}", "train"),
        extra_train=split_file("{task}", "extra_train"),
        tokenizer=tokenizer_dir,
        pretrained=pretrained_model,
    output:
        directory(model_dir("{task}", "{seed}", "answer_only")),
    log:
        f"{R}/logs/answer_only/{{task}}_seed{{seed}}.log",
    benchmark:
        f"{R}/benchmarks/answer_only/{{task}}_seed{{seed}}.tsv"
    priority: priority_at(1)
    conda:
        "../envs/training.yaml"
    threads: config["threads"]
    resources:
        mem_mb=8000,
        runtime=120,
        gpu=config["gpus_per_job"],
    params:
        model=settings_of(lambda s: s.model),
        training=settings_of(lambda s: s.answer_only),
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
    priority: priority_at(1)
    conda:
        "../envs/eval.yaml"
    threads: config["threads"]
    resources:
        mem_mb=8000,
        runtime=60,
        gpu=config["gpus_per_job"],
    params:
        decoding=settings_of(lambda s: s.lmsi.rollout),
        samples=settings_of(lambda s: s.lmsi.samples),
        temperature=settings_of(lambda s: s.lmsi.temperature),
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
    priority: priority_at(1)
    conda:
        "../envs/data.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        selection=settings_of(lambda s: s.lmsi.selection),
        answer_only_augmentation=settings_of(lambda s: s.lmsi.answer_only_augmentation),
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
    priority: priority_at(1)
    conda:
        "../envs/training.yaml"
    threads: config["threads"]
    resources:
        mem_mb=8000,
        runtime=120,
        gpu=config["gpus_per_job"],
    params:
        training=settings_of(lambda s: s.lmsi.training),
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
    priority: priority_at(1)
    conda:
        "../envs/data.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=120,
    params:
        expert=expert_for("si_demo"),
        passes=settings_of(lambda s: s.si_demo.passes),
        attempt_temperature=settings_of(lambda s: s.si_demo.attempt_temperature),
    script:
        "../scripts/si_demo_attempts.py"
