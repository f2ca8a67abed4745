# Paths, settings and input functions shared by every rule.
from tripost.bigbench import TASK_FILES as BIGBENCH_FILES  # noqa: E402
from tripost.settings import iteration_config, task_config  # noqa: E402
from tripost.tasks import get_task  # noqa: E402

R = config["results"]
TASKS = config["tasks"]
SEEDS = config["seeds"]
ITERATIONS = list(range(1, config["tripost"]["iterations"] + 1))
CHECKPOINTS = ["baseline"] + [f"iter{t}" for t in ITERATIONS]
SPLITS = ["train", "val", "test", "extra_train"]
SCRATCH = not config["model"]["name_or_path"]


wildcard_constraints:
    task="|".join(TASKS),
    seed=r"\d+",
    iteration=r"\d+",
    checkpoint="baseline|iter\\d+",


def tcfg(wildcards):
    """The config as it applies to the job's task."""
    return task_config(config, wildcards.task)


def icfg(*keys):
    """Params function: the given tripost settings of the job's task and iteration (only those,
    so that changing another setting does not rerun the job)."""

    def settings(wildcards):
        block = iteration_config(config, wildcards.task, int(wildcards.iteration))
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


def previous_checkpoint(wildcards):
    """Iteration t starts from iteration t-1 (the baseline for t = 1)."""
    t = int(wildcards.iteration)
    return model_dir(wildcards.task, wildcards.seed, "baseline" if t == 1 else f"iter{t - 1}")


def iteration_dir(wildcards):
    return f"{R}/tripost/{wildcards.task}/seed{wildcards.seed}/iter{wildcards.iteration}"


def eval_summaries():
    return expand(
        f"{R}/eval/{{task}}/seed{{seed}}/{{checkpoint}}.json",
        task=TASKS, seed=SEEDS, checkpoint=CHECKPOINTS,
    )


def final_targets():
    return [
        f"{R}/tables/main.csv",
        f"{R}/tables/main.md",
        f"{R}/figures/accuracy_by_iteration.png",
        f"{R}/tables/iterations.csv",
    ]
