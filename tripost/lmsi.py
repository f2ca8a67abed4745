"""LMSI data (Huang et al. 2023; method §7.3): the ft-rationale model's own sampled answers to the
training questions, kept by majority vote (LMSI's self-consistency) or by the gold answer (what
the original TriPosT code did), then written as rationale texts and answer-only augmentations.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

from tripost import answer_only
from tripost.formats import FINAL_PREFIX
from tripost.tasks.base import Record, Task
from tripost.trajectory import training_row


def _key(answer: Any) -> str:
    return json.dumps(answer)


def majority_answer(answers: list[Any]) -> Any:
    """The most common answer among ``answers`` (None, unparsed, does not vote); None when no
    answer was parsed or two answers tie for the most votes."""
    votes = Counter(_key(a) for a in answers if a is not None)
    ranked = votes.most_common(2)
    if not ranked or (len(ranked) == 2 and ranked[0][1] == ranked[1][1]):
        return None
    return json.loads(ranked[0][0])


def select_samples(task: Task, record: Record, samples: list[str], selection: str) -> list[str]:
    """The samples of one question that LMSI trains on: those whose answer is the majority
    answer (``majority``) or the gold answer (``gold``)."""
    answers = [task.parse_answer(s) for s in samples]
    if selection == "majority":
        target = majority_answer(answers)
        if target is None:
            return []
        return [s for s, a in zip(samples, answers) if a is not None and _key(a) == _key(target)]
    if selection == "gold":
        return [s for s, a in zip(samples, answers) if task.is_correct(a, record)]
    raise ValueError(f"unknown LMSI selection {selection!r} (majority | gold)")


def final_response(sample: str) -> str:
    """The text after ``(Final response)`` on the sample's last line, e.g. ``So the answer is -5.``"""
    last = sample.strip().split("\n")[-1]
    return last[len(FINAL_PREFIX):].strip() if last.startswith(FINAL_PREFIX) else last.strip()


def training_rows(task: Task, record: Record, kept: list[str], augment: bool) -> list[dict]:
    """Each distinct kept sample as a rationale text, and (``augment``) each distinct final
    response as an answer-only text."""
    rows = [training_row(task, record, task.rationale_text(record, s), "\nAnswer:") for s in dict.fromkeys(kept)]
    if augment:
        rows += [answer_only.row(task, record, answer) for answer in dict.fromkeys(final_response(s) for s in kept)]
    return rows


def build(task: Task, records: list[Record], samples: dict[str, list[str]],
          selection: str, answer_only_augmentation: bool) -> tuple[list[dict], dict]:
    """All LMSI training rows and counts (questions with a kept sample, by ``selection``)."""
    rows: list[dict] = []
    kept_questions = kept_samples = right = 0
    for record in records:
        kept = select_samples(task, record, samples.get(record["id"], []), selection)
        if kept:
            kept_questions += 1
            kept_samples += len(kept)
            right += task.is_correct(task.parse_answer(kept[0]), record)
            rows += training_rows(task, record, kept, answer_only_augmentation)
    counts = {"selection": selection, "questions": len(records), "questions_kept": kept_questions,
              "samples": sum(len(v) for v in samples.values()), "samples_kept": kept_samples,
              "kept_questions_with_gold_answer": right, "examples": len(rows)}
    return rows, counts
