# The paper's outputs: tables, figures, runtimes and the results page, all from the evaluation
# pickles; the ones marked report(...) make up `snakemake --report results/report.html`.


rule tables:
    input:
        pickles=eval_pickles(),
    output:
        main_csv=report(f"{R}/tables/main.csv", caption="../report/main.rst", category="Tables"),
        main_md=f"{R}/tables/main.md",
        ablations_csv=report(f"{R}/tables/ablations.csv", caption="../report/ablations.rst", category="Tables"),
        ablations_md=f"{R}/tables/ablations.md",
        self_improvement_csv=report(
            f"{R}/tables/self_improvement.csv", caption="../report/self_improvement.rst", category="Tables"
        ),
        self_improvement_md=f"{R}/tables/self_improvement.md",
        cells=report(f"{R}/tables/cells.csv", caption="../report/cells.rst", category="Tables"),
        checkpoints=f"{R}/tables/checkpoints.csv",
    log:
        f"{R}/logs/tables.log",
    benchmark:
        f"{R}/benchmarks/tables.tsv"
    conda:
        "../envs/plots.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        tasks=TASKS,
        seeds=SEEDS,
        points=lambda wc: {task: plan.ablation_points(config, task) for task in plan.ablation_tasks(config)},
        iterations=config["tripost"]["iterations"],
        ablation_iterations=config["ablations"]["iterations"],
        max_iteration=config["ablations"]["max_iteration"],
    script:
        "../scripts/tables.py"


FIGURE_CAPTIONS = {
    "accuracy_by_iteration": "Accuracy against the TriPosT iteration (0 = ft rationale), seen and unseen, ± std over seeds.",
    "seen_unseen": "Seen and unseen accuracy of every method of the main table, ± std over seeds.",
    "ablation_curves": "Total accuracy at the last iteration against the improvement-data ratio p and the weight w.",
    "self_improvement_rate": "How often the self-improvement rounds fix a wrong answer or break a right one, by iteration.",
}


rule figures:
    input:
        checkpoints=rules.tables.output.checkpoints,
    output:
        **{
            name: report(
                f"{R}/figures/{name}.png",
                caption=f"../report/{name}.rst",
                category="Figures",
                labels={"figure": name.replace("_", " ")},
            )
            for name in FIGURE_CAPTIONS
        },
        pdfs=[f"{R}/figures/{name}.pdf" for name in FIGURE_CAPTIONS],
    log:
        f"{R}/logs/figures.log",
    benchmark:
        f"{R}/benchmarks/figures.tsv"
    conda:
        "../envs/plots.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        tasks=TASKS,
        points=rules.tables.params.points,
        iterations=config["tripost"]["iterations"],
        ablation_iterations=config["ablations"]["iterations"],
        captions=FIGURE_CAPTIONS,
    script:
        "../scripts/figures.py"


rule results_page:
    input:
        cells=rules.tables.output.cells,
        main=rules.tables.output.main_md,
    output:
        report(f"{R}/results.md", caption="../report/results.rst", category="Results page"),
    log:
        f"{R}/logs/results_page.log",
    benchmark:
        f"{R}/benchmarks/results_page.tsv"
    conda:
        "../envs/plots.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        tasks=TASKS,
        seeds=SEEDS,
        scale="the scratch model" if SCRATCH else config["model"]["name_or_path"],
    script:
        "../scripts/results_page.py"


rule runtimes:
    input:
        # after every other job of the paper target, so that all their benchmark files exist
        rules.tables.output,
        rules.figures.output,
        rules.results_page.output,
    output:
        csv=report(f"{R}/tables/runtimes.csv", caption="../report/runtimes.rst", category="Runtimes"),
        md=f"{R}/tables/runtimes.md",
    log:
        f"{R}/logs/runtimes.log",
    benchmark:
        f"{R}/benchmarks/runtimes.tsv"
    conda:
        "../envs/plots.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        benchmarks=f"{R}/benchmarks",
    script:
        "../scripts/runtimes.py"


rule config_record:
    output:
        report(f"{R}/config.yaml", caption="../report/config.rst", category="Configuration"),
    log:
        f"{R}/logs/config_record.log",
    benchmark:
        f"{R}/benchmarks/config_record.tsv"
    conda:
        "../envs/data.yaml"
    threads: 1
    resources:
        mem_mb=500,
        runtime=1,
    params:
        config=config,
    script:
        "../scripts/config_record.py"


rule core_table:
    input:
        pickles=eval_pickles(seeds=SEEDS[: config["core_seeds"]], checkpoints=plan.core_checkpoints(config)),
    output:
        md=f"{R}/tables/core.md",
        cells=f"{R}/tables/core_cells.csv",
    log:
        f"{R}/logs/core_table.log",
    benchmark:
        f"{R}/benchmarks/core_table.tsv"
    conda:
        "../envs/plots.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        tasks=TASKS,
        iterations=config["tripost"]["iterations"],
    script:
        "../scripts/core_table.py"


# The recipe's controlled experiments (docs/recipe.md): every variant and the control on the
# validation split, one table per task and number of iterations (`snakemake recipe`: after
# `recipe.iterations`; `results/recipe/<task>_t1.md`: one task after the first iteration only).
rule recipe_table:
    input:
        pickles=recipe_pickles,
    output:
        md=f"{R}/recipe/{{task}}_t{{iteration}}.md",
        csv=f"{R}/recipe/{{task}}_t{{iteration}}.csv",
    log:
        f"{R}/logs/recipe_table/{{task}}_t{{iteration}}.log",
    benchmark:
        f"{R}/benchmarks/recipe_table/{{task}}_t{{iteration}}.tsv"
    conda:
        "../envs/plots.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    script:
        "../scripts/recipe_table.py"
