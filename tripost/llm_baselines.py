"""The expert LLM as a baseline (method §7.4-7.5): few-shot answers, and few-shot answers followed by
rounds of the LLM's own feedback and improvement (self-improvement prompting).

A round stops the loop when the LLM's feedback names no error it can point at (its table does not
parse: the original's intended "no error found" exit) or its improvement is not a legitimate update;
the last legitimate attempt is the answer (the original returned an illegitimate last update, spec
§9.35). ``oracle_stop`` also stops at a right answer, which uses the gold label (the original's
``return_if_correct``; results so made are marked as oracle).
"""

from __future__ import annotations

from tripost.expert import ERROR
from tripost.formats import correct_feedback, last_top_step, parse_feedback
from tripost.llm_expert import LLMExpert
from tripost.tasks.base import Record, Task
from tripost.trajectory import Trajectory


def few_shot(expert: LLMExpert, record: Record) -> Trajectory:
    """The LLM's greedy few-shot answer (one attempt, no rounds)."""
    attempt = expert.attempt(record, temperature=0.0)
    return Trajectory([attempt] if attempt else [], [], 0 if attempt else 1)


def self_improve(task: Task, expert: LLMExpert, record: Record, max_rounds: int, oracle_stop: bool) -> Trajectory:
    """The greedy few-shot answer, then up to ``max_rounds`` of feedback and improvement."""
    trajectory = few_shot(expert, record)
    for _ in range(max_rounds if trajectory.attempts else 0):
        attempt = trajectory.last_attempt
        if oracle_stop and task.is_correct(task.parse_answer(attempt), record):
            trajectory.feedbacks.append(correct_feedback(last_top_step(attempt)))
            break
        feedback = expert.error_feedback(record, attempt)
        error = parse_feedback(feedback) if feedback != ERROR else None
        if error is None:
            break
        improved = expert.continuation(record, attempt, feedback, error.step, error.part)
        if improved is None:
            break
        trajectory.feedbacks.append(feedback)
        trajectory.attempts.append(improved)
    return trajectory
