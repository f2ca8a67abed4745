"""Trajectories: attempt, ``Feedback:``, ``Updated Answer:``, attempt, ... (method §2.3–2.6)."""

from __future__ import annotations

from dataclasses import dataclass, field

from tripost.formats import (
    ANSWER_HEAD,
    FEEDBACK,
    FINAL_PREFIX,
    STEP_ID,
    UPDATED,
    UPDATED_HEAD,
    correct_feedback,
    is_done_feedback,
    last_top_step,
    with_info,
)
from tripost.tasks.base import Record, Task


@dataclass
class Trajectory:
    """M's attempts and the feedback after each; ``feedbacks`` may be one shorter."""

    attempts: list[str] = field(default_factory=list)
    feedbacks: list[str] = field(default_factory=list)
    malformed: int = 0  # generations that held a line of no known kind (cut there)
    unactionable: bool = False  # ended at a feedback that names no error (``revise_on: named_error``)

    @property
    def awaiting_feedback(self) -> bool:
        return len(self.feedbacks) < len(self.attempts)

    @property
    def done(self) -> bool:
        return bool(self.feedbacks) and not self.awaiting_feedback and is_done_feedback(self.feedbacks[-1])

    @property
    def last_attempt(self) -> str:
        return self.attempts[-1] if self.attempts else ""


def extend(trajectory: Trajectory, generated: str, starts_with: str) -> bool:
    """Add a generation to ``trajectory``; returns False when it held no usable line.

    ``starts_with`` says what the prompt asked for: ``"attempt"`` (after an answer head, also
    ``Updated Answer:``) or ``"feedback"`` (after ``Feedback:``). An attempt ends at its first
    ``(Final response)`` line, after which only a ``Feedback:`` line may come. Reading stops at
    the first line out of place, which is counted in ``trajectory.malformed``.
    """
    lines = generated.split("\n")
    current: list[str] | None = None
    used = False
    if starts_with == "feedback":
        lines[0] = FEEDBACK + lines[0]
    else:
        current = []
        trajectory.attempts.append("")
    for line in lines:
        if not line.strip():
            continue
        if line.startswith(FEEDBACK):
            if (current is not None and not current) or (current is None and not trajectory.awaiting_feedback):
                trajectory.malformed += 1
                break  # a feedback with no attempt before it
            _close(trajectory, current)
            current = None
            trajectory.feedbacks.append(line[len(FEEDBACK):].strip())
            used = True
        elif line.startswith(UPDATED) and current is None and not trajectory.awaiting_feedback:
            current = []
            trajectory.attempts.append("")
        elif current is not None and (STEP_ID.match(line) or line.startswith(FINAL_PREFIX)):
            current.append(line)
            used = True
            if line.startswith(FINAL_PREFIX):  # an attempt ends at its final response
                _close(trajectory, current)
                current = None
        else:
            trajectory.malformed += 1
            break
    _close(trajectory, current)
    if trajectory.attempts and trajectory.attempts[-1] == "":
        trajectory.attempts.pop()
    return used


def _close(trajectory: Trajectory, current: list[str] | None) -> None:
    if current is not None:
        trajectory.attempts[-1] = "\n".join(current)


def answer_head(task: Task) -> str:
    return with_info(ANSWER_HEAD, task.info)


def updated_head(task: Task) -> str:
    return with_info(UPDATED_HEAD, task.info)


def render(task: Task, record: Record, attempts: list[str], feedbacks: list[str]) -> str:
    """The whole trajectory as one text (method §2.6)."""
    parts = [task.prompt(record)]
    for i, attempt in enumerate(attempts):
        if i > 0:
            parts.append(updated_head(task))
        parts.append(attempt)
        if i < len(feedbacks):
            parts.append(f"{FEEDBACK} {feedbacks[i]}")
    return "\n".join(parts)


def training_row(task: Task, record: Record, text: str, start_text: str) -> dict:
    """A training example; the weighted section starts at the first ``\\nFeedback:``."""
    weight_start = text.find("\n" + FEEDBACK) if start_text == "\n" + FEEDBACK else -1
    return {
        "id": record["id"],
        "text": text,
        "text_att_start_text": start_text,
        "prompt_chars": len(task.prompt(record)),
        "weight_start": weight_start if weight_start >= 0 else None,
    }


def to_turns(task: Task, record: Record, attempts: list[str], feedbacks: list[str]) -> tuple[list[dict], dict]:
    """``convert_to_turns`` (method §2.5): one improvement example per (attempt, feedback, next
    attempt), and the last (attempt, feedback) as a non-improvement example."""
    improvements = []
    for i in range(len(attempts) - 1):
        text = render(task, record, attempts[i: i + 2], feedbacks[i: i + 1])
        improvements.append(training_row(task, record, text, "\n" + FEEDBACK))
    last = render(task, record, attempts[-1:], feedbacks[-1:])
    return improvements, training_row(task, record, last, "\n" + FEEDBACK)


def ground_truth_row(task: Task, record: Record, rationale: str) -> dict:
    """The gold rationale followed by the "all correct" feedback (method §5.6)."""
    text = render(task, record, [rationale], [correct_feedback(last_top_step(rationale))])
    return training_row(task, record, text, "Q:")
