"""Per-task and per-iteration settings: defaults, then ``overrides`` of the config."""

from __future__ import annotations

import copy
from typing import Any


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
    wants the string), and Snakemake's
    ``--config seeds=[0,1]`` gives the seeds as strings (it parses lists with YAML's base loader)."""
    blocks = [config.get("overrides") or {}]
    blocks += [v for v in ((config.get("recipe") or {}).get("variants") or {}).values() if isinstance(v, dict)]
    for block in blocks:
        if isinstance(block.get("iterations"), dict):
            block["iterations"] = {str(k): v for k, v in block["iterations"].items()}
    seeds = config.get("seeds")
    if isinstance(seeds, list):
        config["seeds"] = [int(s) if isinstance(s, str) and s.isdigit() else s for s in seeds]


def task_config(config: dict[str, Any], task: str) -> dict[str, Any]:
    """The whole config as it applies to ``task`` (``overrides.tasks.<task>`` applied)."""
    return canonical(merged(config, config.get("overrides", {}).get("tasks", {}).get(task)))


def iteration_config(config: dict[str, Any], task: str, iteration: int) -> dict[str, Any]:
    """The ``tripost`` block for one task and iteration (``overrides.iterations.<t>`` applied)."""
    tc = task_config(config, task)
    per_iteration = tc.get("overrides", {}).get("iterations", {})
    return canonical(merged(tc["tripost"], per_iteration.get(str(iteration))))
