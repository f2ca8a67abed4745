"""The small per-task interface that everything else is written against."""

from __future__ import annotations

import random
import re
from abc import ABC, abstractmethod
from typing import Any

from tripost.formats import ANSWER_HEAD, StepError, with_info

Record = dict[str, Any]  # {id, question, answer, bucket, seen, meta}
LETTERS = "ABCDEFGHIJ"  # multiple-choice option letters: (A), (B), ...
# The data settings every task has (JSON schemas of the keys of ``data.<task>``).
COMMON_DATA_SETTINGS: dict[str, dict] = {
    "extra_seed": {"type": "integer"},  # seed of the generated extra training questions
    "n_extra_train": {"type": "integer", "minimum": 0},
    "n_val_extra": {"type": "integer", "minimum": 0},  # the last generated ones, moved to validation
    "test_per_bucket": {"$ref": "#/definitions/test_caps"},
}


class Task(ABC):
    """A task: its question layout, gold solver, verifier and answer parser."""

    name: str
    info: str = ""  # the task's "additional info" after the answer head (method §2.1)
    seen_buckets: tuple[str, ...]
    unseen_buckets: tuple[str, ...]
    # Fixed phrases of the task's rationales; the tokenizer keeps each as one token.
    phrases: tuple[str, ...] = ()
    # Whether the expert's "right answer" short-cut also asks for valid content (method §3).
    shortcut_checks_content: bool = False
    # The schema of each key of its ``data.<task>`` config block (every key required).
    data_settings: dict[str, dict] = COMMON_DATA_SETTINGS
    # The BIG-Bench task files the splits are made from (paths inside bigbench/benchmark_tasks;
    # none: a generated task); make_splits gets their examples by path.
    bigbench_files: tuple[str, ...] = ()

    @abstractmethod
    def make_splits(self, cfg: dict[str, Any], sources: dict[str, list[dict]]) -> dict[str, list[Record]]:
        """The ``train``, ``val``, ``test`` and ``extra_train`` records, from the ``data.<task>``
        settings and the examples of each of ``bigbench_files`` (by path)."""

    def synthetic_source(self, relative: str, n_examples: int, seed: int) -> dict:
        """A BIG-Bench-shaped stand-in for one of ``bigbench_files``, made by our own code (no
        download: micro runs and tests)."""
        raise KeyError(f"{self.name}: no synthetic stand-in for {relative}")

    @abstractmethod
    def question_block(self, record: Record) -> str:
        """``Q: ...`` as the model sees it (method §2.2)."""

    @abstractmethod
    def solve(self, record: Record) -> str:
        """The gold step-by-step rationale, ending in a ``(Final response)`` line."""

    @abstractmethod
    def first_error(self, record: Record, attempt: str) -> StepError | None:
        """The first wrong line of ``attempt`` (None when all of it is right).

        Raises ``ValueError`` when the attempt cannot be read at all.
        """

    @abstractmethod
    def parse_answer(self, text: str) -> Any:
        """The answer stated by a model output, or None when there is none."""

    def has_valid_content(self, record: Record, attempt: str) -> bool:
        """The task's extra check that a right answer was reached properly (method §5.4.2)."""
        return True

    def is_correct(self, prediction: Any, record: Record) -> bool:
        return prediction is not None and prediction == record["answer"]

    def prompt(self, record: Record) -> str:
        """The self-improvement inference prompt (no trailing newline, method §2.2)."""
        return f"{self.question_block(record)}\n{with_info(ANSWER_HEAD, self.info)}"

    def rationale_text(self, record: Record, rationale: str) -> str:
        """An SFT training text: prompt, newline, rationale."""
        return f"{self.prompt(record)}\n{rationale}"

    def wrong_final_response(self, record: Record, rng: random.Random) -> str | None:
        """A ``(Final response)`` line in the gold format that states a wrong answer (for the
        scripted expert's own "ft SI demo" attempts); None when the task has none."""
        return None

    def answer_only_text(self, record: Record) -> str:
        """The gold answer as an answer-only training text writes it (``-5``, ``a b c``, ``E``)."""
        answer = record["answer"]
        return " ".join(answer) if isinstance(answer, list) else str(answer)

    def parse_answer_only(self, text: str) -> Any:
        """The answer of an answer-only output (its first line): an option letter here; the
        tasks with other answers override it. Fixes the original's parser (method §7.1 [BUG])."""
        first = text.strip().split("\n")[0].strip().strip("()")
        return first if re.fullmatch(r"[A-J]", first) else None


def last_answer_line(text: str) -> str:
    """The line the evaluators parse: the last one, or the one before a trailing feedback."""
    lines = [line for line in text.strip().split("\n") if line.strip()]
    if not lines:
        return ""
    if "Feedback" in lines[-1] and len(lines) > 1:
        return lines[-2]
    return lines[-1]


def search_answer(pattern: str, text: str) -> str | None:
    match = re.search(pattern, last_answer_line(text))
    return match.group(1) if match else None


def split_off_validation(pool: list[Record], n_val: int, seed: int) -> tuple[list[Record], list[Record]]:
    """(train, validation): ``n_val`` records of ``pool`` drawn at random, file order kept."""
    order = list(range(len(pool)))
    random.Random(seed).shuffle(order)
    val_ids = set(order[:n_val])
    return [r for i, r in enumerate(pool) if i not in val_ids], [r for i, r in enumerate(pool) if i in val_ids]
