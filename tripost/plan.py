"""What the workflow builds for a config: the TriPosT runs (the main one and the ablation points),
the baselines, their checkpoint names and the labels the tables give them.

A *run* is one chain of TriPosT iterations from the ft-rationale checkpoint, with its own
settings: ``tripost`` (the config's), ``p<value>`` / ``w<value>`` (one ablation point),
``si_demo`` (the "ft SI demo" baseline: one iteration whose attempts are the expert's own), a
recipe variant (``recipe.variants.<name>``: some tripost settings changed, scored on the
validation split) and ``control`` (the main run's questions as plain gold-rationale SFT).
A *checkpoint* is a path under ``models/<task>/seed<seed>/``: ``baseline``, ``answer_only``,
``lmsi`` or ``<run>/iter<t>``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from tripost.job_settings import (
    DecodingSettings,
    IterationSettings,
    LLMBaselineSettings,
    LMSISettings,
    ModelSettings,
    SIDemoSettings,
    TrainingSettings,
    from_params,
)
from tripost.pretrained import local_name_or_path
from tripost.settings import canonical, iteration_config, merged, task_config

MAIN_RUN = "tripost"
SI_DEMO = "si_demo"
CONTROL = "control"
# what the rollouts, feedback and improvement jobs of an iteration read: runs that agree on these
# at iteration 1 edit the same trajectories of the same baseline
COLLECTION_KEYS = ("collect_window", "collect_from", "attempt_only_first", "rollout", "max_attempt_words")
ABLATED = {"improve_data_ratio": "p", "self_improve_section_weight": "w"}
MODEL_BASELINES = ("answer_only", "lmsi", "si_demo")
LLM_BASELINES = ("llm_few_shot", "llm_self_improve")


def run_name(setting: str, value: float) -> str:
    """``p0.5``, ``p-1``, ``w2``: the run of one ablation point."""
    return f"{ABLATED[setting]}{value:g}"


def ablation_tasks(config: dict[str, Any]) -> list[str]:
    chosen = config["ablations"]["tasks"]
    return [t for t in config["tasks"] if chosen is None or t in chosen]


def ablation_points(config: dict[str, Any], task: str) -> list[tuple[str, float, str]]:
    """(setting, value, run) of every p and w point for ``task``; a value equal to the main
    run's setting is the main run (not trained twice)."""
    if task not in ablation_tasks(config):
        return []
    main = iteration_config(config, task, 1)
    points = []
    for setting in ABLATED:
        for value in config["ablations"][setting]:
            both_off = setting == "improve_data_ratio" and value <= 0 and main[setting] <= 0  # no rebalancing
            same = float(value) == float(main[setting]) or both_off
            points.append((setting, float(value), MAIN_RUN if same else run_name(setting, value)))
    return points


def ablation_runs(config: dict[str, Any], task: str) -> list[str]:
    return list(dict.fromkeys(run for _, _, run in ablation_points(config, task) if run != MAIN_RUN))


def main_iterations(config: dict[str, Any], task: str) -> int:
    """The main run goes on to ``ablations.max_iteration`` for the tasks the ablations cover."""
    iterations = config["tripost"]["iterations"]
    if task in ablation_tasks(config):
        iterations = max(iterations, config["ablations"]["max_iteration"], config["ablations"]["iterations"])
    return iterations


def recipe_runs(config: dict[str, Any]) -> list[str]:
    """The recipe's runs: the variants named in ``recipe.runs``, and ``control`` when asked for."""
    runs = config["recipe"]["runs"]
    for name in runs:
        if name not in config["recipe"]["variants"]:
            known = ", ".join(config["recipe"]["variants"])
            raise ValueError(f"recipe.runs: {name!r} is not one of recipe.variants ({known})")
    taken = {MAIN_RUN, SI_DEMO, CONTROL} | {run for task in config["tasks"] for run in ablation_runs(config, task)}
    for name in runs:
        if name in taken:
            raise ValueError(f"recipe.variants.{name}: the name is taken by another run; choose another")
    return runs + ([CONTROL] if config["recipe"]["control"] else [])


def run_config(config: dict[str, Any], task: str, run: str, iteration: int) -> dict[str, Any]:
    """The ``tripost`` block of one run, task and iteration."""
    block = iteration_config(config, task, iteration)
    if run == SI_DEMO:
        demo = task_config(config, task)["baselines"]["si_demo"]
        own = {key: demo[key] for key in ("improve_data_ratio", "self_improve_section_weight", "max_data_length")}
        # the whole training split, as the original's demo collection (its attempts are made there)
        return canonical(merged(block, own, {"collect_window": None, "collect_from": ["train"],
                                             "rollout": {"passes": demo["passes"]}}))
    if run in config["recipe"]["variants"]:
        variant = config["recipe"]["variants"][run]
        return canonical(merged(block, variant.get("tripost"), variant.get("iterations", {}).get(str(iteration))))
    for setting, value, name in ablation_points(config, task):
        if name == run and run != MAIN_RUN:
            return canonical(merged(block, {setting: value}))
    if run not in (MAIN_RUN, CONTROL):
        raise ValueError(f"unknown TriPosT run {run!r} for task {task!r}")
    return block


@dataclass(frozen=True)
class Resolved:
    """Every typed settings block of one task, run and iteration: what its jobs read."""

    iteration: int
    model: ModelSettings
    baseline: TrainingSettings
    tripost: IterationSettings
    evaluation: DecodingSettings
    answer_only: TrainingSettings
    lmsi: LMSISettings
    si_demo: SIDemoSettings
    llm: LLMBaselineSettings


def resolve(config: dict[str, Any], task: str, run: str = MAIN_RUN, iteration: int = 1) -> Resolved:
    """The settings of ``task``'s jobs in ``run`` at ``iteration``: the config, then
    ``overrides.tasks.<task>``, ``overrides.iterations.<t>`` and the run's own (an ablation
    point, a recipe variant, the SI demo); a baseline's null ``training`` is the block it
    falls back on. An unknown or missing key is an error naming its key path (the schema,
    checked on the merged per-task config before any job, names them first)."""
    tc = task_config(config, task)
    baselines = tc["baselines"]
    return Resolved(
        iteration=iteration,
        model=from_params(ModelSettings, {"name_or_path": local_name_or_path(tc["model"]),
                                          "scratch": tc["model"]["scratch"]}, "model."),
        baseline=from_params(TrainingSettings, tc["baseline"]["training"], "baseline.training."),
        tripost=from_params(IterationSettings, run_config(config, task, run, iteration), "tripost."),
        evaluation=from_params(DecodingSettings, tc["evaluation"], "evaluation."),
        answer_only=from_params(TrainingSettings, baselines["answer_only"]["training"] or tc["baseline"]["training"],
                                "baselines.answer_only.training."),
        lmsi=from_params(LMSISettings, {**baselines["lmsi"], "training": baselines["lmsi"]["training"]
                                        or tc["tripost"]["training"], "rollout": tc["tripost"]["rollout"]},
                         "baselines.lmsi."),
        si_demo=from_params(SIDemoSettings, baselines["si_demo"], "baselines.si_demo."),
        llm=from_params(LLMBaselineSettings, baselines["llm"], "baselines.llm."),
    )


def trajectories_run(config: dict[str, Any], task: str, run: str, iteration: int) -> str:
    """The run whose edited trajectories ``run`` builds its data from at ``iteration``: its own,
    except at iteration 1 where it collects as the main run does (same baseline, same settings)."""
    if iteration != 1 or run in (MAIN_RUN, SI_DEMO):
        return run
    ours, main = run_config(config, task, run, 1), run_config(config, task, MAIN_RUN, 1)
    return MAIN_RUN if all(ours[key] == main[key] for key in COLLECTION_KEYS) else run


def same_as_main(config: dict[str, Any], task: str, run: str, iteration: int) -> bool:
    """Whether ``run`` is the main run up to ``iteration``: the same settings at every iteration
    (e.g. a variant for later iterations only), so its checkpoint would be the main run's."""
    return run != CONTROL and all(run_config(config, task, run, t) == run_config(config, task, MAIN_RUN, t)
                                  for t in range(1, iteration + 1))


def recipe_checkpoints(config: dict[str, Any], task: str, iterations: int | None = None) -> list[str]:
    """What the recipe compares on the validation split after ``iterations`` iterations (default
    ``recipe.iterations``): ft rationale, the main run's checkpoints and every recipe run's that
    differ from the main run's."""
    last = iterations or config["recipe"]["iterations"]
    out = ["baseline"] + [f"{MAIN_RUN}/iter{t}" for t in range(1, last + 1)]
    for run in recipe_runs(config):
        out += [f"{run}/iter{t}" for t in range(1, last + 1) if not same_as_main(config, task, run, t)]
    return out


def methods(config: dict[str, Any], task: str) -> list[str]:
    """The baselines configured for ``task``; the LLM ones only where its expert is an LLM."""
    wanted = config["baselines"]["methods"]
    llm = task_config(config, task)["expert"]["kind"] == "openai"
    return [m for m in wanted if m in MODEL_BASELINES or (m in LLM_BASELINES and llm)]


def model_checkpoints(config: dict[str, Any], task: str) -> list[str]:
    """Every checkpoint of ``task`` that is evaluated with self-improvement inference."""
    out = ["baseline"]
    out += [m for m in methods(config, task) if m == "lmsi"]
    out += [f"{SI_DEMO}/iter1" for m in methods(config, task) if m == SI_DEMO]
    out += [f"{MAIN_RUN}/iter{t}" for t in range(1, main_iterations(config, task) + 1)]
    out += [f"{run}/iter{config['ablations']['iterations']}" for run in ablation_runs(config, task)]
    return out


def core_checkpoints(config: dict[str, Any]) -> list[str]:
    """The ft-rationale baseline and the paper's TriPosT iterations: what ``make run`` builds."""
    return ["baseline"] + [f"{MAIN_RUN}/iter{t}" for t in range(1, config["tripost"]["iterations"] + 1)]


def label(checkpoint: str) -> str:
    """The row name of a checkpoint in the tables."""
    fixed = {"baseline": "ft rationale", "answer_only": "ft answer-only", "lmsi": "LMSI",
             f"{SI_DEMO}/iter1": "ft SI demo", "llm_few_shot": "LLM few-shot", "llm_self_improve": "LLM + self-improve"}
    if checkpoint in fixed:
        return fixed[checkpoint]
    run, iteration = checkpoint.split("/iter")
    if run == MAIN_RUN:
        return f"TriPosT (t={iteration})"
    if run == CONTROL:
        return f"control: gold SFT (t={iteration})"
    if not re.fullmatch(r"[pw]-?[0-9.]+", run):
        return f"TriPosT {run} (t={iteration})"
    return f"TriPosT {run[0]}={run[1:]} (t={iteration})"


LAST_STEP = 100  # chain steps: 0 data preparation and the baselines, t TriPosT iteration t, LAST_STEP evaluations


def job_priority(tasks: list[str], task: str | None, step: int) -> int:
    """Snakemake priority of a job ``step`` steps into its seed's chain of jobs: the earlier the
    step, the more work still waits on it, so the higher the priority; between tasks at the same
    step, the task listed first in ``tasks`` first (the default lists them longest first). With
    every job at one priority, Snakemake picked among the ready jobs arbitrarily: a task's data
    preparation could wait behind other tasks' evaluations, and its whole chain then ran alone at
    the end of the run (docs/recipe.md, session 22). A job of no task (the BIG-Bench download)
    ranks with the first task."""
    tie = len(tasks) - tasks.index(task) if task is not None else len(tasks)
    return (LAST_STEP - min(step, LAST_STEP)) * (len(tasks) + 1) + tie
