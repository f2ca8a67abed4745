"""Answer-only texts (method §2.2, §7.1): ``Q: <question>\\nAnswer: <answer>``, no rationale.

The "ft answer-only" baseline trains on them and answers from ``Q: ...\\nAnswer:``; LMSI adds one
per kept sample, with the sample's final response as the answer (method §7.3).
"""

from __future__ import annotations

from tripost.tasks.base import Record, Task

HEAD = "\nAnswer:"


def prompt(task: Task, record: Record) -> str:
    """What the answer-only model is asked (no trailing space: the model writes it)."""
    return task.question_block(record) + HEAD


def row(task: Task, record: Record, answer: str) -> dict:
    """A training example: the question is the prompt (no loss), `` <answer>`` the target."""
    text = f"{prompt(task, record)} {answer}"
    return {"id": record["id"], "text": text, "text_att_start_text": HEAD,
            "prompt_chars": len(prompt(task, record)), "weight_start": None}


def rows(task: Task, records: list[Record]) -> list[dict]:
    """The ft answer-only training data: one gold answer per question."""
    return [row(task, r, task.answer_only_text(r)) for r in records]
