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


def task_config(config: dict[str, Any], task: str) -> dict[str, Any]:
    """The whole config as it applies to ``task`` (``overrides.tasks.<task>`` applied)."""
    return merged(config, config.get("overrides", {}).get("tasks", {}).get(task))


def iteration_config(config: dict[str, Any], task: str, iteration: int) -> dict[str, Any]:
    """The ``tripost`` block for one task and iteration (``overrides.iterations.<t>`` applied)."""
    tc = task_config(config, task)
    per_iteration = tc.get("overrides", {}).get("iterations", {})
    return merged(tc["tripost"], per_iteration.get(iteration, per_iteration.get(str(iteration))))
