"""The expert's edit of M's trajectories: first wrong feedback of M, then the improvement (method §5.4).

``locate_edit`` runs the feedback module (FBK) on every attempt of M's trajectory and finds the
first place where M's own feedback disagrees with the expert's. ``improve`` runs the improvement
module (IMP) from there. The expert is either ``ScriptedExpert`` (the task's verifier, and M's
correct prefix followed by the gold solver's lines: beyond the paper, docs/deviations.md) or
``llm_expert.LLMExpert`` (few-shot prompts to an OpenAI-compatible model, the paper's path).
"""

from __future__ import annotations

import random
import re
from typing import Any, Protocol

from tripost.formats import (
    STEP_ID,
    StepError,
    correct_feedback,
    is_done_feedback,
    last_top_step,
    parse_feedback,
    scripted_error_feedback,
)
from tripost.tasks.base import Record, Task
from tripost.trajectory import Trajectory

ERROR = "[ERROR]"


class ScriptedExpert:
    """FBK = the task's verifier, IMP = M's correct prefix and the gold solver's lines after it."""

    def __init__(self, task: Task):
        self.task = task

    def error_feedback(self, record: Record, attempt: str) -> str:
        try:
            error = self.task.first_error(record, attempt)
        except ValueError:
            return ERROR
        return ERROR if error is None else scripted_error_feedback(error)

    def continuation(self, record: Record, attempt: str, feedback: str, step: str, part: str) -> str | None:
        return gold_continuation(self.task, record, attempt, step)

    def demo_attempt(self, record: Record, sample: int, temperature: float) -> str | None:
        """An attempt for the "ft SI demo" baseline: the gold rationale with one planted error at
        a random step, and a wrong final answer (a script cannot carry the error forward as an
        LLM would; the first error is the planted one). ``sample`` seeds it; ``temperature`` is
        for an LLM expert. Where nothing can be planted: the gold rationale."""
        rng = random.Random(f"{record['id']}/{sample}")
        planted = plant_error(self.task, record, rng)
        if planted is None:
            return self.task.solve(record)
        lines = planted[0].split("\n")
        wrong = self.task.wrong_final_response(record, rng)
        return "\n".join(lines[:-1] + [wrong or lines[-1]])


def plant_error(task: Task, record: Record, rng: random.Random | None = None) -> tuple[str, StepError] | None:
    """The gold rationale with the last number of one step changed (the middle step first, then
    the others; in random order with ``rng``), and the scripted verifier's verdict on it; None
    when no change is caught."""
    lines = task.solve(record).split("\n")
    numbered = list(range(len(lines) - 1))
    order = sorted(numbered, key=lambda i: abs(i - len(numbered) // 2))
    if rng is not None:
        rng.shuffle(order)
    for position in order:
        match = STEP_ID.match(lines[position])
        body_start = match.end() if match else 0
        digits = list(re.finditer(r"\d+", lines[position][body_start:]))
        if not digits:
            continue
        last = digits[-1]
        start, end = body_start + last.start(), body_start + last.end()
        changed = lines[position][:start] + str(int(last.group()) + 1) + lines[position][end:]
        attempt = "\n".join(lines[:position] + [changed] + lines[position + 1:])
        try:
            error = task.first_error(record, attempt)
        except ValueError:
            continue
        if error is not None:
            return attempt, error
    return None


class Expert(Protocol):
    def error_feedback(self, record: Record, attempt: str) -> str: ...
    def continuation(self, record: Record, attempt: str, feedback: str, step: str, part: str) -> str | None: ...
    def demo_attempt(self, record: Record, sample: int, temperature: float) -> str | None: ...


def expert_feedback(task: Task, expert: Expert, record: Record, attempt: str) -> str:
    """The expert's feedback on one attempt: "all correct", an error feedback, or ``[ERROR]``.

    As in the original, a right final answer (with valid content where the task asks for it)
    gets the "correct" string without asking the expert.
    """
    if task.is_correct(task.parse_answer(attempt), record) and (
        not task.shortcut_checks_content or task.has_valid_content(record, attempt)
    ):
        return correct_feedback(last_top_step(attempt))
    return expert.error_feedback(record, attempt)


def _parts_agree(a: str, b: str) -> bool:
    return a in b or b in a


def locate_edit(task: Task, expert: Expert, record: Record, trajectory: Trajectory, max_words: int) -> dict[str, Any]:
    """Classify one trajectory of M and, where it needs an edit, say where and with what.

    Outcomes: ``directly_correct`` / ``self_improved`` (the final answer is right and every
    feedback of M before it agrees with the expert's), ``to_edit`` (``edit_index`` and the expert
    ``feedback`` to put there), or ``dropped:<reason>``. A right answer reached after a feedback
    of M that the expert does not share is edited there: M's false alarm on a right attempt
    becomes the "correct" feedback and the trajectory ends at that attempt (the original kept M's
    feedback unverified, method §5.4.2: docs/deviations.md); so does M's last feedback on a right
    final attempt.
    """
    attempts, feedbacks = list(trajectory.attempts), list(trajectory.feedbacks)
    result: dict[str, Any] = {"attempts": attempts, "feedbacks": feedbacks}
    if not attempts:
        return {**result, "outcome": "dropped:no_attempt"}
    final = attempts[-1]
    if len(feedbacks) < len(attempts):
        feedbacks.append(correct_feedback(last_top_step(final)))
    right = task.is_correct(task.parse_answer(final), record) and task.has_valid_content(record, final)
    if right and not is_done_feedback(feedbacks[-1]):
        feedbacks[-1] = correct_feedback(last_top_step(final))  # M's false alarm on its right answer
    scanned = attempts[:-1] if right else attempts
    if any(len(a.split()) > max_words for a in scanned):  # an edit would carry it
        return {**result, "outcome": "dropped:attempt_too_long"}
    for index, attempt in enumerate(scanned):
        verdict = expert_feedback(task, expert, record, attempt)
        if right and is_done_feedback(verdict) and task.has_valid_content(record, attempt):
            kept = {"attempts": attempts[: index + 1], "feedbacks": feedbacks[:index] + [verdict]}
            return {**kept, "outcome": "self_improved" if index else "directly_correct"}
        parsed_expert = parse_feedback(verdict)
        if parsed_expert is None:
            reason = "expert_error" if verdict == ERROR else "correct_intermediate_attempt"
            return {**result, "outcome": f"dropped:{reason}"}
        own = parse_feedback(feedbacks[index])
        if own is None or own.step != parsed_expert.step or not _parts_agree(own.part, parsed_expert.part):
            return {**result, "outcome": "to_edit", "edit_index": index, "feedback": verdict,
                    "error_step": parsed_expert.step}
    if right:
        return {**result, "outcome": "self_improved" if len(attempts) > 1 else "directly_correct"}
    return {**result, "outcome": "dropped:no_disagreement"}


def error_line_index(attempt: str, step: str) -> int:
    """Index of the line of ``attempt`` that step ``step`` names (the last line for the final
    response; 0 when no line has that id)."""
    lines = attempt.split("\n")
    if step == "Final response":
        return len(lines) - 1
    return next((i for i, line in enumerate(lines) if line.startswith(f"({step})")), 0)


def lines_before(attempt: str, step: str) -> list[str]:
    """The lines of ``attempt`` before the one step ``step`` names (what an improvement keeps)."""
    return attempt.split("\n")[: error_line_index(attempt, step)]


def gold_continuation(task: Task, record: Record, attempt: str, error_step: str) -> str:
    """M's lines before the error step, then the gold rationale from that step on."""
    gold = task.solve(record)
    return "\n".join(lines_before(attempt, error_step) + gold.split("\n")[error_line_index(gold, error_step):])


def improve(task: Task, expert: Expert, record: Record, located: dict[str, Any], max_rounds: int) -> dict[str, Any]:
    """Apply the improvement to an edit (method §5.4.3 E-F): from the edit point, up to ``max_rounds``
    times, the expert improves the last attempt and judges the result, until it is all correct.
    The trajectory becomes M's attempts up to the edit point, the expert feedback, and the
    improved attempts with their feedback."""
    if located["outcome"] in ("directly_correct", "self_improved"):
        # locate_edit already closed the trajectory with a final feedback
        return {"outcome": located["outcome"], "attempts": located["attempts"], "feedbacks": located["feedbacks"]}
    if located["outcome"] != "to_edit":
        return {"outcome": located["outcome"]}
    index = located["edit_index"]
    attempts = located["attempts"][: index + 1]
    feedbacks = located["feedbacks"][:index] + [located["feedback"]]
    for _ in range(max_rounds):
        error = parse_feedback(feedbacks[-1])
        if error is None:
            break
        improved = expert.continuation(record, attempts[-1], feedbacks[-1], error.step, error.part)
        if improved is None or improved == attempts[-1]:
            break
        check = expert_feedback(task, expert, record, improved)
        if ERROR in check:
            break
        attempts.append(improved)
        feedbacks.append(check)
        if is_done_feedback(check):
            return {"outcome": "edited", "attempts": attempts, "feedbacks": feedbacks}
    return {"outcome": "dropped:improvement_failed"}
