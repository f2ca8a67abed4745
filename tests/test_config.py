"""A bad config is refused before any job runs, with every problem named by its key path: the
matrix below runs `snakemake` for real (not a dry run) on each and checks that nothing was built."""

from __future__ import annotations

import copy
import subprocess

import pytest
import yaml

from tripost.job_settings import as_params, llm_settings
from tripost.settings import (
    LLM_CONNECTION,
    LLM_REQUEST_BLOCKS,
    LLM_REQUESTS,
    config_errors,
    expert_params,
    job_expert,
    load_schema,
    merged,
    task_config,
)

from conftest import REPO, quick_config, snakemake

SCHEMA = load_schema(REPO / "schemas" / "config.schema.yaml")
QUICK = quick_config()


def _set(config: dict, path: str, value) -> None:
    *parents, last = path.split(".")
    for part in parents:
        config = config.setdefault(part, {})
    config[last] = value


# (key path set, value, what the error must name): one of each kind of mistake, at each level
CASES = [
    ("epochz", 3, "epochz: unknown key"),
    ("tripost.training.lrr", 1e-4, "tripost.training.lrr: unknown key"),
    ("overrides.tasks.word_sorting.data.n_extr_train", 3,
     "overrides.tasks.word_sorting.data.n_extr_train: unknown key"),
    ("overrides.tasks.date_understanding.evaluation.tempreature", 0.5,
     "overrides.tasks.date_understanding.evaluation.tempreature: unknown key"),
    ("overrides.iterations.2.epochz", 1, "overrides.iterations.2.epochz: unknown key"),
    ("recipe.variants.lr1e-5.tripost.training.lr", "small", "recipe.variants.lr1e-5.tripost.training.lr"),
    ("tripost.improve_data_ratio", "high", "tripost.improve_data_ratio: 'high' is not of type 'number'"),
    ("evaluation.do_sample", 3, "evaluation.do_sample: 3 is not of type 'boolean'"),
    ("tasks", ["chess"], "tasks.0: 'chess' is not one of"),
    ("seeds", [-1], "seeds.0: -1 is less than the minimum of 0"),
    ("baseline.training.batch_size", 0, "baseline.training.batch_size: 0 is less than the minimum of 1"),
    ("overrides.tasks.word_sorting.baseline.training.batch_size", 0,
     "overrides.tasks.word_sorting.baseline.training.batch_size: 0 is less than the minimum of 1"),
    ("evaluation.revise_on", "sometimes", "evaluation.revise_on: 'sometimes' is not one of"),
    ("tripost.training.lr", float("nan"), "tripost.training.lr: nan is not a finite number"),
    ("baseline.training.lr", float("inf"), "baseline.training.lr: inf is not a finite number"),
    ("overrides.tasks.date_understanding.tripost.training.lr", float("-inf"),
     "overrides.tasks.date_understanding.tripost.training.lr: -inf is not a finite number"),
    ("overrides", None, "overrides: None is not of type 'object'"),
    ("tripost", None, "tripost: None is not of type 'object'"),
    ("overrides.tasks.word_sorting", None, "overrides.tasks.word_sorting: None is not of type 'object'"),
    ("model.scratch.num_heads", 3, "model.scratch.num_heads: hidden_size"),
    ("overrides.tasks.logical_deduction.model.scratch.num_heads", 5,
     "overrides.tasks.logical_deduction.model.scratch.num_heads: hidden_size"),
    ("core_seeds", 9, "core_seeds: 9 but only 2 seeds are listed"),
    ("results", "", "results: '' should be non-empty"),
    ("model.name_or_path", "/nonexistent/model",
     "model.name_or_path: /nonexistent/model is not a folder (a local model path must exist; short names of "
     "pretrained models: smollm2-135m)"),
]


@pytest.mark.parametrize("path,value,named", CASES, ids=[c[0] for c in CASES])
def test_every_mistake_is_named_by_its_key_path(path, value, named):
    config = copy.deepcopy(QUICK)
    _set(config, path, value)
    errors = config_errors(config, SCHEMA)
    assert any(named in e for e in errors), errors
    assert not config_errors(copy.deepcopy(QUICK), SCHEMA)  # the config changed is a good one


def test_command_line_strings_are_read_as_the_schema_types():
    config = copy.deepcopy(QUICK)
    config["seeds"], config["core_seeds"] = ["0", "1"], "2"  # as `--config seeds=[0,1] core_seeds=2` gives them
    config["tripost"]["iterations"] = "2"  # `--config 'tripost={iterations: 2}'`
    assert config_errors(config, SCHEMA) == []
    assert config["seeds"] == [0, 1] and config["tripost"]["iterations"] == 2
    config["tripost"]["iterations"] = "two"
    assert config_errors(config, SCHEMA) == ["tripost.iterations: 'two' is not of type 'integer'"]


def _snakemake(*args: str) -> subprocess.CompletedProcess:
    """The core target with ``args``, its outcome whatever it is."""
    return snakemake("core", "--cores", "1", *args, check=False)


# Through Snakemake itself (YAML written and read back, the check before any job): one case of each
# kind of check, at its deepest key path; the in-process test above covers every case.
REAL_RUN_PATHS = (
    "overrides.iterations.2.epochz",                            # unknown key, under an integer key
    "recipe.variants.lr1e-5.tripost.training.lr",               # wrong type
    "tasks",                                                    # not one of the registry's names
    "overrides.tasks.word_sorting.baseline.training.batch_size",  # below the minimum
    "overrides.tasks.date_understanding.tripost.training.lr",   # not finite (YAML's -.inf)
    "overrides.tasks.logical_deduction.model.scratch.num_heads",  # the model's shape
    "core_seeds",                                               # more than the seeds listed
    "model.name_or_path",                                       # no such folder
)
REAL_RUNS = ([c for c in CASES if c[0] in REAL_RUN_PATHS]
             + [("__no_results__", None, "results: a run with --configfile")])


@pytest.mark.parametrize("path,value,named", REAL_RUNS, ids=[c[0] for c in REAL_RUNS])
def test_snakemake_refuses_a_bad_config_before_any_job(tmp_path, path, value, named):
    config = copy.deepcopy(QUICK)
    results = tmp_path / "results"
    extra = []
    if path == "__no_results__":  # should the check fail, build as little as possible
        del config["results"]
        config["tasks"], extra = ["word_sorting"], ["--allowed-rules", "splits"]
    else:
        config["results"] = str(results)
        _set(config, path, value)
    configfile = tmp_path / "bad.yaml"
    configfile.write_text(yaml.safe_dump(config))
    run = _snakemake("--configfile", str(configfile), *extra)
    message = run.stdout + run.stderr
    assert run.returncode != 0 and named in message, message[-3000:]
    assert "Job stats" not in message and not results.exists()


def test_a_nested_value_on_the_command_line_is_named_when_wrong(tmp_path):
    run = _snakemake("--config", f"results={tmp_path / 'results'}", "tripost={iterations: zero}")
    message = run.stdout + run.stderr
    assert run.returncode != 0 and "tripost.iterations: 'zero' is not of type 'integer'" in message
    assert not (tmp_path / "results").exists()


@pytest.mark.parametrize("stage", ["rationales", "feedback", "improvement", "si_demo", "llm_baselines"])
def test_a_job_gets_back_the_expert_settings_it_reads(stage):
    """A rule's expert params hold what its output depends on; the job adds the connection from
    the config: together, the task's expert block as the stage reads it."""
    config = merged(QUICK, {"expert": {"kind": "openai", "rationales": "openai", "openai": {"concurrency": 3}},
                            "overrides": {"tasks": {"word_sorting": {"expert": {"openai": {"timeout_s": 9}}}}}})
    expert = task_config(config, "word_sorting")["expert"]
    params = expert_params(expert, stage)
    assert not set(params.get("openai", {})) & set(LLM_CONNECTION)
    job = job_expert(params, config, "word_sorting")
    assert job.openai.connection.concurrency == 3 and job.openai.connection.timeout_s == 9
    requests = set(LLM_REQUESTS[stage])
    unsent = set(LLM_REQUEST_BLOCKS) - requests
    assert job.openai == llm_settings({key: value for key, value in expert["openai"].items() if key not in unsent})
    assert all((getattr(job.openai, block) is None) == (block in unsent) for block in LLM_REQUEST_BLOCKS)
    assert (job.max_rounds == expert["max_rounds"]) == (stage == "improvement")
    scripted = expert_params(merged(expert, {"kind": "scripted", "rationales": "scripted"}), stage)
    assert "openai" not in scripted and as_params(job_expert(scripted, config, "word_sorting")) == {
        "kind": "scripted", "max_rounds": expert["max_rounds"] if stage == "improvement" else None, "openai": None}
