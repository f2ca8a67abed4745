"""The task registry: ``get_task(name)``."""

from __future__ import annotations

from tripost.tasks.base import Task
from tripost.tasks.date_understanding import DateUnderstanding
from tripost.tasks.logical_deduction import LogicalDeduction
from tripost.tasks.multistep_arithmetic import MultistepArithmetic
from tripost.tasks.word_sorting import WordSorting

TASKS: dict[str, type[Task]] = {cls.name: cls
                                for cls in (MultistepArithmetic, WordSorting, DateUnderstanding, LogicalDeduction)}


def bigbench_files() -> tuple[str, ...]:
    """The BIG-Bench task files of every task, in the registry's order."""
    return tuple(relative for cls in TASKS.values() for relative in cls.bigbench_files)


def task_of_file(relative: str) -> Task:
    """The task whose splits are made from the BIG-Bench file ``relative``."""
    owners = [name for name, cls in TASKS.items() if relative in cls.bigbench_files]
    if not owners:
        raise KeyError(f"no task reads the BIG-Bench file {relative!r}")
    return get_task(owners[0])


def get_task(name: str) -> Task:
    if name not in TASKS:
        raise KeyError(f"unknown task {name!r}; known tasks: {', '.join(sorted(TASKS))}")
    return TASKS[name]()
