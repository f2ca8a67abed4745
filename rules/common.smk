# Paths, settings and input functions shared by every rule.
from tripost import plan  # noqa: E402
from tripost.settings import expert_params, task_config  # noqa: E402
from tripost.tasks import bigbench_files, get_task  # noqa: E402

R = config["results"]
TASKS = config["tasks"]
SEEDS = config["seeds"]
SPLITS = ["train", "val", "test", "extra_train"]
SCRATCH = not config["model"]["name_or_path"]
RUN_PATTERN = r"[A-Za-z0-9_.\-]+"


wildcard_constraints:
    task="|".join(TASKS),
    seed=r"\d+",
    iteration=r"\d+",
    run=RUN_PATTERN,
    checkpoint=rf"baseline|lmsi|{RUN_PATTERN}/iter\d+",
    evalset="eval|eval_val",
    llm_method="|".join(plan.LLM_BASELINES),


def tcfg(wildcards):
    """The config as it applies to the job's task."""
    return task_config(config, wildcards.task)


def expert_for(stage):
    """Params function: what of the task's expert block the stage's output depends on."""
    return lambda wildcards: expert_params(tcfg(wildcards)["expert"], stage)


def model_settings(wildcards):
    """Params function: the model block a training job reads (not the tokenizer's vocabulary)."""
    model = tcfg(wildcards)["model"]
    return {"name_or_path": model["name_or_path"], "scratch": model["scratch"]}


def icfg(*keys):
    """Params function: the given tripost settings of the job's run, task and iteration (only
    those, so that changing another setting does not rerun the job)."""

    def settings(wildcards):
        block = plan.run_config(config, wildcards.task, wildcards.run, int(wildcards.iteration))
        return {key: block[key] for key in keys}

    return settings


def split_file(task, split):
    return f"{R}/data/{task}/{split}.jsonl"


def bigbench_sources(wildcards):
    """The BIG-Bench task files a task's splits are made from (none for generated tasks)."""
    files = get_task(wildcards.task).bigbench_files
    if config["bigbench"]["source"] == "synthetic":
        return [f"{R}/data/synthetic_bigbench/{relative}" for relative in files]
    return [f"{config['bigbench']['cache']}/{relative}" for relative in files]


def tokenizer_dir(wildcards):
    return [f"{R}/models/{wildcards.task}/tokenizer"] if SCRATCH else []


def model_dir(task, seed, checkpoint):
    return f"{R}/models/{task}/seed{seed}/{checkpoint}"


def run_dir(task, seed, run, iteration):
    return f"{R}/tripost/{task}/seed{seed}/{run}/iter{iteration}"


def previous_checkpoint(wildcards):
    """Iteration t of a run starts from its iteration t-1 (the ft-rationale baseline for t = 1)."""
    t = int(wildcards.iteration)
    return model_dir(wildcards.task, wildcards.seed, "baseline" if t == 1 else f"{wildcards.run}/iter{t - 1}")


def edited_trajectories(wildcards):
    """A run whose first iteration collects as the main run does (an ablation point, most recipe
    variants) edits the same rollouts of the same baseline: it reads the main run's file."""
    run = plan.trajectories_run(config, wildcards.task, wildcards.run, int(wildcards.iteration))
    return f"{run_dir(wildcards.task, wildcards.seed, run, wildcards.iteration)}/improvements.jsonl"


def collection_settings(wildcards):
    """Params function: what says which trajectories an iteration's rollouts hold (checked by the
    jobs that read them)."""
    block = plan.run_config(config, wildcards.task, wildcards.run, int(wildcards.iteration))
    return {
        "collect_window": block["collect_window"],
        "passes": block["rollout"]["passes"],
        "iteration": int(wildcards.iteration),
    }


def collection_files(wildcards):
    """The split files whose questions a run's iteration collects on (``tripost.collect_from``)."""
    block = plan.run_config(config, wildcards.task, wildcards.run, int(wildcards.iteration))
    return [split_file(wildcards.task, split) for split in block["collect_from"]]


def training_override(block, fallback):
    """Params function: ``baselines.<block>.training`` of the job's task, or the ``fallback``
    block's ``training`` when that is null."""

    def settings(wildcards):
        task = tcfg(wildcards)
        return task["baselines"][block]["training"] or task[fallback]["training"]

    return settings


def eval_pickles(seeds=None, checkpoints=None):
    """The evaluation pickles of every configured checkpoint (or of the ``checkpoints`` given)."""
    out = []
    for task in TASKS:
        names = checkpoints if checkpoints is not None else plan.model_checkpoints(config, task)
        for seed in seeds if seeds is not None else SEEDS:
            out += [f"{R}/eval/{task}/seed{seed}/{name}.pkl" for name in names]
            if checkpoints is None and "answer_only" in plan.methods(config, task):
                out.append(f"{R}/eval/{task}/seed{seed}/answer_only.pkl")
        if checkpoints is None:
            out += [f"{R}/eval/{task}/{m}.pkl" for m in plan.methods(config, task) if m in plan.LLM_BASELINES]
    return out


def recipe_pickles(wildcards):
    """The validation-split evaluations the recipe compares for a task after some iterations."""
    names = plan.recipe_checkpoints(config, wildcards.task, int(wildcards.iteration))
    return [
        f"{R}/eval_val/{wildcards.task}/seed{seed}/{name}.pkl" for seed in config["recipe"]["seeds"] for name in names
    ]


def paper_targets():
    """Every table, figure and page of the paper target."""
    return [rules.runtimes.output.md, rules.config_record.output[0]]


def core_targets():
    return [rules.core_table.output.md]
