"""Per-task and per-iteration settings: defaults, then ``overrides`` of the config; and the
config's check, which names the key path of every problem before any job runs."""

from __future__ import annotations

import copy
import dataclasses
import math
import re
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from tripost.job_settings import ExpertSettings, LLMConnection, from_params, llm_settings
from tripost.pretrained import PRETRAINED


class ConfigError(ValueError):
    """A config that cannot run; the message lists every problem by its key path."""


def merged(base: dict[str, Any], *layers: dict[str, Any] | None) -> dict[str, Any]:
    """``base`` deep-updated by each layer in turn."""
    out = copy.deepcopy(base)
    for layer in layers:
        for key, value in (layer or {}).items():
            if isinstance(value, dict) and isinstance(out.get(key), dict):
                out[key] = merged(out[key], value)
            else:
                out[key] = copy.deepcopy(value)
    return out


def canonical(value: Any) -> Any:
    """Dicts with their keys sorted, recursively: rule params then compare equal whatever the
    key order of the config file (Snakemake reruns a job when its params change)."""
    if isinstance(value, dict):
        return {key: canonical(value[key]) for key in sorted(value, key=str)}
    if isinstance(value, list):
        return [canonical(item) for item in value]
    return value


def normalise_config(config: dict[str, Any]) -> None:
    """Types the schema expects, where the config's source gives others: YAML reads
    ``iterations: {3: ...}`` (of ``overrides`` or a recipe variant) with an int key (the schema
    wants the string)."""
    overrides, recipe = config.get("overrides"), config.get("recipe")
    blocks = [overrides] if isinstance(overrides, dict) else []
    variants = recipe.get("variants") if isinstance(recipe, dict) else None
    if isinstance(variants, dict):
        blocks += [v for v in variants.values() if isinstance(v, dict)]
    for block in blocks:
        if isinstance(block.get("iterations"), dict):
            block["iterations"] = {str(k): v for k, v in block["iterations"].items()}


def _key_path(parts: list[Any]) -> str:
    return ".".join(str(part) for part in parts)


def _set_at(config: Any, parts: list[Any], value: Any) -> None:
    for part in parts[:-1]:
        config = config[part]
    config[parts[-1]] = value


def coerce_command_line_values(config: dict[str, Any], validator: jsonschema.protocols.Validator) -> None:
    """Snakemake parses ``--config`` values with YAML's base loader, so ``seeds=[0,1]`` or
    ``tripost={iterations: 2}`` arrive as strings: where such a string is what the schema rejects
    and YAML reads it as a number, boolean or list, use that."""
    for _ in range(5):  # a list of strings is fixed item by item; nested values need another round
        changed = False
        for error in validator.iter_errors(config):
            if isinstance(error.instance, str) and error.absolute_path:
                value = yaml.safe_load(error.instance) if error.instance.strip() else None
                if value is not None and not isinstance(value, str):
                    _set_at(config, list(error.absolute_path), value)
                    changed = True
        if not changed:
            return


def _describe(error: jsonschema.ValidationError) -> list[str]:
    path = list(error.absolute_path)
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        known = set(error.schema.get("properties", {}))
        patterns = list(error.schema.get("patternProperties", {}))
        unknown = [k for k in error.instance if k not in known and not any(re.search(p, str(k)) for p in patterns)]
        return [f"{_key_path(path + [key])}: unknown key" for key in unknown]
    return [f"{_key_path(path) or '(the config)'}: {error.message}"]


def _non_finite(value: Any, path: list[Any]) -> list[str]:
    if isinstance(value, float) and not math.isfinite(value):
        return [f"{_key_path(path)}: {value} is not a finite number"]
    if isinstance(value, dict):
        return [e for key, item in value.items() for e in _non_finite(item, path + [key])]
    if isinstance(value, list):
        return [e for index, item in enumerate(value) for e in _non_finite(item, path + [index])]
    return []


def _cross_field(config: dict[str, Any]) -> list[tuple[list[Any], str]]:
    """Rules between keys that a JSON schema cannot state: (key path, problem)."""
    errors = []
    scratch = config["model"]["scratch"]
    if scratch["hidden_size"] % scratch["num_heads"]:
        errors.append((["model", "scratch", "num_heads"],
                       f"hidden_size {scratch['hidden_size']} is not a multiple of num_heads {scratch['num_heads']}"))
    local = config["model"]["name_or_path"]
    if local and local.startswith(("/", "./", "../", "~")) and not Path(local).expanduser().is_dir():
        errors.append((["model", "name_or_path"], f"{local} is not a folder (a local model path must exist; "
                                                  f"short names of pretrained models: {', '.join(PRETRAINED)})"))
    if config["core_seeds"] > len(config["seeds"]):
        errors.append((["core_seeds"], f"{config['core_seeds']} but only {len(config['seeds'])} seeds are listed"))
    return errors


def config_errors(config: dict[str, Any], schema: dict[str, Any]) -> list[str]:
    """Every problem of ``config`` (after ``--config`` strings are read as YAML), each naming
    its key path; the per-task overrides are checked merged into the config they change, so an
    error there is named ``overrides.tasks.<task>.<key path>``."""
    validator = jsonschema.Draft202012Validator(schema)
    normalise_config(config)
    coerce_command_line_values(config, validator)
    base = [m for e in validator.iter_errors(config) for m in _describe(e)]
    errors = base + _non_finite(config, [])
    base_rules = [] if base else _cross_field(config)
    errors += [f"{_key_path(path)}: {problem}" for path, problem in base_rules]
    overrides = config.get("overrides")
    per_task = overrides.get("tasks") if isinstance(overrides, dict) else None
    for task, override in (per_task or {}).items():
        if not isinstance(override, dict):
            continue  # the schema's error above names it
        prefix = ["overrides", "tasks", task]
        whole = merged(config, override)
        found = [m for e in validator.iter_errors(whole) for m in _describe(e) if m not in base]
        errors += [f"{_key_path(prefix)}.{m}" for m in found]
        if not base and not found:
            errors += [f"{_key_path(prefix + path)}: {problem}" for path, problem in _cross_field(whole)
                       if (path, problem) not in base_rules]
    return errors


def load_schema(path: Path | str) -> dict[str, Any]:
    """The config's JSON schema, completed from the task registry: the task names ``tasks`` and
    ``ablations.tasks`` may hold, and the ``data.<task>`` block of each (``Task.data_settings``)."""
    from tripost.tasks import TASKS

    schema = yaml.safe_load(Path(path).read_text())
    properties = schema["properties"]
    for names in (properties["tasks"], properties["ablations"]["properties"]["tasks"]):
        names["items"]["enum"] = list(TASKS)
    properties["data"]["properties"] = {
        name: {"type": "object", "additionalProperties": False, "properties": cls.data_settings,
               "required": list(cls.data_settings)} for name, cls in TASKS.items()}
    properties["data"]["required"] = list(TASKS)
    return schema


def check_config(config: dict[str, Any], schema_path: Path | str, configfiles: list[Any] | None = None,
                 command_line: dict[str, Any] | None = None) -> None:
    """Raise ``ConfigError`` listing every problem of ``config``; also when a ``--configfile``
    is given without its own ``results`` folder (its run would write into the default run's)."""
    errors = config_errors(config, load_schema(schema_path))
    if configfiles and "results" not in (command_line or {}):
        errors.append("results: a run with --configfile needs its own results folder "
                      "(set `results:` in the file, or --config results=<folder>)")
    if errors:
        raise ConfigError("the config cannot run:\n  " + "\n  ".join(errors))


# The keys of ``expert.openai`` that say how to reach the LLM, not what it answers: a job reads them
# from the config itself (``job_expert``), so that changing them reruns nothing.
LLM_CONNECTION = tuple(field.name for field in dataclasses.fields(LLMConnection))
# The request blocks of ``expert.openai``, and those each stage sends.
LLM_REQUEST_BLOCKS = ("rationale", "feedback", "improvement")
LLM_REQUESTS = {"rationales": ("rationale",), "feedback": ("feedback",), "improvement": ("feedback", "improvement"),
                "si_demo": ("rationale",), "llm_baselines": ("rationale", "feedback", "improvement")}


def expert_params(expert: dict[str, Any], stage: str) -> dict[str, Any]:
    """What of the ``expert`` block the output of ``stage`` (a key of ``LLM_REQUESTS``) depends
    on: its rule's params, since Snakemake reruns a job when they change. A scripted expert is
    its kind alone (and ``max_rounds`` for the improvement); an LLM adds the model, its prompts'
    settings, the requests the stage sends and the prices its ledger counts. The rationales'
    expert (``expert.rationales``) is the ``kind`` of theirs."""
    chooser = "rationales" if stage == "rationales" else "kind"
    out: dict[str, Any] = {"kind": expert[chooser]}
    if stage == "improvement":
        out["max_rounds"] = expert["max_rounds"]
    if expert[chooser] == "openai":
        out["openai"] = {key: value for key, value in expert["openai"].items() if key not in LLM_CONNECTION
                         and (key not in LLM_REQUEST_BLOCKS or key in LLM_REQUESTS[stage])}
    return canonical(out)


def job_expert(params: dict[str, Any], config: dict[str, Any], task: str) -> ExpertSettings:
    """A job's expert: its rule's ``expert_params`` and, for an LLM, the connection of the task's
    expert block in the workflow's config."""
    if "openai" not in params:
        return from_params(ExpertSettings, params, "expert.")
    block = task_config(config, task)["expert"]["openai"]
    llm = llm_settings({**params["openai"], **{key: block[key] for key in LLM_CONNECTION}})
    return dataclasses.replace(from_params(ExpertSettings, {**params, "openai": None}, "expert."), openai=llm)


def task_config(config: dict[str, Any], task: str) -> dict[str, Any]:
    """The whole config as it applies to ``task`` (``overrides.tasks.<task>`` applied)."""
    return canonical(merged(config, config.get("overrides", {}).get("tasks", {}).get(task)))


def iteration_config(config: dict[str, Any], task: str, iteration: int) -> dict[str, Any]:
    """The ``tripost`` block for one task and iteration (``overrides.iterations.<t>`` applied)."""
    tc = task_config(config, task)
    per_iteration = tc.get("overrides", {}).get("iterations", {})
    return canonical(merged(tc["tripost"], per_iteration.get(str(iteration))))
