"""Self-improvement inference (method §6.2, with the multi-turn bug of §9.28 fixed).

Every question starts from the self-improve prompt. After each generation call, a question whose
last feedback says "also correct" is done; one whose attempt lacks feedback is prompted with
``...\\n<attempt>\\nFeedback:``; one whose last feedback names an error is prompted with
``...\\n<attempt>\\nFeedback: <fb>\\nUpdated Answer: Let's think step by step.[ INFO]``.
Only the latest attempt is carried forward, as in the original. At most ``max_calls`` calls.
A generation is cut at its first line that ``extend`` would not read (the same trajectory,
without decoding hundreds of tokens that are thrown away).

``revise_on`` (a decoding setting) says which feedback asks for an updated answer: ``any`` that is
not "correct" (the original), or only one that ``names_an_error`` of the attempt (a step of it and
a part of that step); any other feedback then ends the question with its attempt as the answer.
"""

from __future__ import annotations

import copy

from tripost.formats import is_done_feedback, names_an_error
from tripost.generation import generate
from tripost.job_settings import DecodingSettings
from tripost.tasks.base import Record, Task
from tripost.trajectory import FEEDBACK, Trajectory, extend, updated_head


def next_prompt(task: Task, record: Record, trajectory: Trajectory) -> tuple[str, str]:
    """(prompt, what it asks for) for a question's next generation call."""
    base = task.prompt(record)
    if not trajectory.attempts:
        return base, "attempt"
    with_attempt = f"{base}\n{trajectory.last_attempt}\n{FEEDBACK}"
    if trajectory.awaiting_feedback:
        return with_attempt, "feedback"
    return f"{with_attempt} {trajectory.feedbacks[-1]}\n{updated_head(task)}", "attempt"


def unactionable_at(trajectory: Trajectory) -> int | None:
    """Index of the first feedback that is neither "correct" nor names an error of its attempt."""
    for index, (attempt, feedback) in enumerate(zip(trajectory.attempts, trajectory.feedbacks)):
        if not is_done_feedback(feedback) and not names_an_error(attempt, feedback):
            return index
    return None


def end_at_unactionable(trajectory: Trajectory) -> bool:
    """Drop what follows the first feedback that names no error; True when there is one."""
    index = unactionable_at(trajectory)
    if index is None:
        return False
    del trajectory.attempts[index + 1:], trajectory.feedbacks[index + 1:]
    trajectory.unactionable = True
    return True


def reading_stops(trajectory: Trajectory, text: str, asked: str, revise_on: str = "any") -> bool:
    """Whether reading ``text`` (complete lines) ends before its end: ``extend`` stops there, or
    (``revise_on: named_error``) a feedback in it names no error."""
    probe = copy.deepcopy(trajectory)
    extend(probe, text, asked)
    if probe.malformed > trajectory.malformed:
        return True
    return revise_on == "named_error" and unactionable_at(probe) is not None


def self_improve(
    model, tokenizer, task: Task, records: list[Record], cfg: DecodingSettings, seed: int,
    attempt_only: bool = False,
) -> list[Trajectory]:
    """Run M on ``records``; one trajectory each. ``attempt_only`` stops after the first attempt."""
    revise_on = cfg.revise_on
    trajectories = [Trajectory() for _ in records]
    active = list(range(len(records)))
    for call in range(1 if attempt_only else cfg.max_calls):
        if not active:
            break
        asks = [next_prompt(task, records[i], trajectories[i]) for i in active]
        outputs = generate(
            model, tokenizer, [prompt for prompt, _ in asks], cfg, seed + call,
            desc=f"{task.name} call {call + 1}",
            stop_after_line=lambda k, text, active=active, asks=asks: reading_stops(
                trajectories[active[k]], text, asks[k][1], revise_on),
        )
        still = []
        for i, (_, asked), output in zip(active, asks, outputs):
            trajectory = trajectories[i]
            usable = extend(trajectory, output, asked)
            ended = revise_on == "named_error" and end_at_unactionable(trajectory)
            if usable and not ended and not trajectory.done:
                still.append(i)
        active = still
    return trajectories
