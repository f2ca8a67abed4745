"""The task registry: ``get_task(name)``."""

from __future__ import annotations

from tripost.tasks.base import Task
from tripost.tasks.date_understanding import DateUnderstanding
from tripost.tasks.logical_deduction import LogicalDeduction
from tripost.tasks.multistep_arithmetic import MultistepArithmetic
from tripost.tasks.word_sorting import WordSorting

TASKS: dict[str, type[Task]] = {cls.name: cls
                                for cls in (MultistepArithmetic, WordSorting, DateUnderstanding, LogicalDeduction)}


def get_task(name: str) -> Task:
    if name not in TASKS:
        raise KeyError(f"unknown task {name!r}; known tasks: {', '.join(sorted(TASKS))}")
    return TASKS[name]()
