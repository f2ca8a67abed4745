# The "ft rationale" baseline: SFT on the gold rationales.


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
        model=lambda wc: tcfg(wc)["model"],
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
