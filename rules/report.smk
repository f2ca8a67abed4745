# The paper's outputs: the main table and the accuracy-by-iteration figure.


rule tables:
    input:
        summaries=eval_summaries(),
        counts=expand(
            f"{R}/tripost/{{task}}/seed{{seed}}/iter{{iteration}}/counts.json",
            task=TASKS, seed=SEEDS, iteration=ITERATIONS,
        ),
    output:
        csv=f"{R}/tables/main.csv",
        md=f"{R}/tables/main.md",
        iterations=f"{R}/tables/iterations.csv",
    log:
        f"{R}/logs/tables.log",
    benchmark:
        f"{R}/benchmarks/tables.tsv"
    params:
        seeds=SEEDS,
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    conda:
        "../envs/plots.yaml"
    script:
        "../scripts/tables.py"


rule figures:
    input:
        iterations=rules.tables.output.iterations,
    output:
        f"{R}/figures/accuracy_by_iteration.png",
    log:
        f"{R}/logs/figures.log",
    benchmark:
        f"{R}/benchmarks/figures.tsv"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    conda:
        "../envs/plots.yaml"
    script:
        "../scripts/figures.py"
