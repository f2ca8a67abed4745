# The BIG-Bench files and pretrained models (fetched once into caches), raw splits, gold rationales
# and the scratch model's tokenizer.


rule fetch_bigbench:
    output:
        [f"{config['bigbench']['cache']}/{relative}" for relative in bigbench_files()],
    log:
        f"{R}/logs/fetch_bigbench.log",
    benchmark:
        f"{R}/benchmarks/fetch_bigbench.tsv"
    priority: priority_at(0)
    conda:
        "../envs/data.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=30,
    script:
        "../scripts/fetch_bigbench.py"


rule fetch_pretrained:
    output:
        directory(str(model_folder(config["model"]["cache"], "{pretrained}"))),
    log:
        f"{R}/logs/fetch_pretrained/{{pretrained}}.log",
    benchmark:
        f"{R}/benchmarks/fetch_pretrained/{{pretrained}}.tsv"
    wildcard_constraints:
        pretrained="|".join(PRETRAINED),
    priority: priority_at(0)
    conda:
        "../envs/training.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=30,
    script:
        "../scripts/fetch_pretrained.py"


rule synthetic_bigbench:
    output:
        f"{R}/data/synthetic_bigbench/{{name}}/task.json",
    log:
        f"{R}/logs/synthetic_bigbench/{{name}}.log",
    benchmark:
        f"{R}/benchmarks/synthetic_bigbench/{{name}}.tsv"
    priority: priority_at(0)
    conda:
        "../envs/data.yaml"
    threads: 1
    resources:
        mem_mb=500,
        runtime=5,
    params:
        n_examples=config["bigbench"]["synthetic_examples"],
    script:
        "../scripts/synthetic_bigbench.py"


rule splits:
    input:
        sources=bigbench_sources,
    output:
        **{split: split_file("{task}", split) for split in SPLITS},
    log:
        f"{R}/logs/splits/{{task}}.log",
    benchmark:
        f"{R}/benchmarks/splits/{{task}}.tsv"
    priority: priority_at(0)
    conda:
        "../envs/data.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        data=lambda wc: tcfg(wc)["data"][wc.task],
    script:
        "../scripts/splits.py"


rule rationales:
    input:
        train=split_file("{task}", "train"),
        val=split_file("{task}", "val"),
        extra_train=split_file("{task}", "extra_train"),
    output:
        rationales=f"{R}/data/{{task}}/rationales.jsonl",
        ledger=f"{R}/data/{{task}}/rationales.ledger.json",
    log:
        f"{R}/logs/rationales/{{task}}.log",
    benchmark:
        f"{R}/benchmarks/rationales/{{task}}.tsv"
    priority: priority_at(0)
    conda:
        "../envs/data.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        # minutes: an LLM expert makes one call per question; the scripted one takes seconds
        runtime=lambda wc: 600 if tcfg(wc)["expert"]["rationales"] == "openai" else 10,
    params:
        expert=expert_for("rationales"),
    script:
        "../scripts/rationales.py"


rule tokenizer:
    input:
        train=split_file("{task}", "train"),
        extra_train=split_file("{task}", "extra_train"),
        rationales=f"{R}/data/{{task}}/rationales.jsonl",
    output:
        directory(f"{R}/models/{{task}}/tokenizer"),
    log:
        f"{R}/logs/tokenizer/{{task}}.log",
    benchmark:
        f"{R}/benchmarks/tokenizer/{{task}}.tsv"
    priority: priority_at(0)
    conda:
        "../envs/training.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        vocab_size=lambda wc: tcfg(wc)["model"]["tokenizer_vocab_size"][wc.task],
    script:
        "../scripts/tokenizer.py"
