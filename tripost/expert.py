"""The scripted expert: first wrong feedback of M, then the improvement (spec §5.4).

``locate_edit`` is the feedback module (FBK): it checks every attempt of M's trajectory and finds
the first place where M's own feedback disagrees with the expert's. ``improve`` is the
improvement module (IMP): for scripted tasks, M's correct prefix followed by the gold solver's
lines from the error step on (the original asked an LLM here; see docs/deviations.md).
"""

from __future__ import annotations

from typing import Any

from tripost.formats import (
    correct_feedback,
    is_done_feedback,
    last_top_step,
    parse_feedback,
    scripted_error_feedback,
)
from tripost.tasks.base import Record, Task
from tripost.trajectory import Trajectory

ERROR = "[ERROR]"


def expert_feedback(task: Task, record: Record, attempt: str) -> str:
    """The expert's feedback on one attempt: "all correct", an error feedback, or ``[ERROR]``.

    As in the original, a right final answer (with valid content where the task asks for it)
    gets the "correct" string without running the verifier.
    """
    if task.is_correct(task.parse_answer(attempt), record) and (
        not task.shortcut_checks_content or task.has_valid_content(record, attempt)
    ):
        return correct_feedback(last_top_step(attempt))
    try:
        error = task.first_error(record, attempt)
    except ValueError:
        return ERROR
    return ERROR if error is None else scripted_error_feedback(error)


def _parts_agree(a: str, b: str) -> bool:
    return a in b or b in a


def locate_edit(task: Task, record: Record, trajectory: Trajectory, max_words: int) -> dict[str, Any]:
    """Classify one trajectory of M and, where it needs an edit, say where and with what.

    Outcomes: ``directly_correct`` / ``self_improved`` (the final answer is right; M's own
    feedback is kept unverified, as in the original), ``to_edit`` (``edit_index`` and the expert
    ``feedback`` to put there), or ``dropped:<reason>``.
    """
    attempts, feedbacks = list(trajectory.attempts), list(trajectory.feedbacks)
    result: dict[str, Any] = {"attempts": attempts, "feedbacks": feedbacks}
    if not attempts:
        return {**result, "outcome": "dropped:no_attempt"}
    final = attempts[-1]
    if len(feedbacks) < len(attempts):
        feedbacks.append(correct_feedback(last_top_step(final)))
    if task.is_correct(task.parse_answer(final), record) and task.has_valid_content(record, final):
        kind = "self_improved" if len(attempts) > 1 else "directly_correct"
        return {**result, "outcome": kind}
    if any(len(a.split()) > max_words for a in attempts):
        return {**result, "outcome": "dropped:attempt_too_long"}
    for index, attempt in enumerate(attempts):
        expert = expert_feedback(task, record, attempt)
        parsed_expert = parse_feedback(expert)
        if parsed_expert is None:
            reason = "expert_error" if expert == ERROR else "correct_intermediate_attempt"
            return {**result, "outcome": f"dropped:{reason}"}
        own = parse_feedback(feedbacks[index])
        if own is None or own.step != parsed_expert.step or not _parts_agree(own.part, parsed_expert.part):
            return {**result, "outcome": "to_edit", "edit_index": index, "feedback": expert,
                    "error_step": parsed_expert.step}
    return {**result, "outcome": "dropped:no_disagreement"}


def gold_continuation(task: Task, record: Record, attempt: str, error_step: str) -> str:
    """M's lines before the error step, then the gold rationale from that step on."""
    gold = task.solve(record).split("\n")
    lines = attempt.split("\n")
    if error_step == "Final response":
        return "\n".join(lines[:-1] + gold[-1:])
    marker = f"({error_step})"
    cut = next((i for i, line in enumerate(lines) if line.startswith(marker)), 0)
    gold_cut = next((i for i, line in enumerate(gold) if line.startswith(marker)), 0)
    return "\n".join(lines[:cut] + gold[gold_cut:])


def improve(task: Task, record: Record, located: dict[str, Any]) -> dict[str, Any]:
    """Apply the improvement to an edit: the trajectory becomes M's attempts up to the edit point,
    the expert feedback, the improved attempt and its "all correct" feedback."""
    if located["outcome"] in ("directly_correct", "self_improved"):
        # locate_edit already closed the trajectory with a final feedback
        return {"outcome": located["outcome"], "attempts": located["attempts"], "feedbacks": located["feedbacks"]}
    if located["outcome"] != "to_edit":
        return {"outcome": located["outcome"]}
    index = located["edit_index"]
    wrong = located["attempts"][index]
    improved = gold_continuation(task, record, wrong, located["error_step"])
    check = expert_feedback(task, record, improved)
    if not is_done_feedback(check) or improved == wrong:
        return {"outcome": "dropped:improvement_failed"}
    return {
        "outcome": "edited",
        "attempts": located["attempts"][: index + 1] + [improved],
        "feedbacks": located["feedbacks"][:index] + [located["feedback"], check],
    }
