# Self-improvement inference of every checkpoint on the test split.


rule evaluate:
    input:
        model=lambda wc: model_dir(wc.task, wc.seed, wc.checkpoint),
        test=split_file("{task}", "test"),
    output:
        pickle=f"{R}/eval/{{task}}/seed{{seed}}/{{checkpoint}}.pkl",
        summary=f"{R}/eval/{{task}}/seed{{seed}}/{{checkpoint}}.json",
    log:
        f"{R}/logs/evaluate/{{task}}_seed{{seed}}_{{checkpoint}}.log",
    benchmark:
        f"{R}/benchmarks/evaluate/{{task}}_seed{{seed}}_{{checkpoint}}.tsv"
    params:
        evaluation=lambda wc: tcfg(wc)["evaluation"],
    threads: config["threads"]
    resources:
        mem_mb=8000,
        runtime=60,
        gpu=config["gpus_per_job"],
    conda:
        "../envs/training.yaml"
    script:
        "../scripts/evaluate.py"
