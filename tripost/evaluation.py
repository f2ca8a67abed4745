"""Test-set evaluation of one checkpoint: a DataFrame per question and a summary (method §6)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import pandas as pd

from tripost.tasks.base import Record, Task
from tripost.trajectory import Trajectory, render


def _row(task: Task, record: Record, final: Any, first: Any, rounds: int, malformed: int, text: str,
         unactionable: bool = False) -> dict[str, Any]:
    correct, first_correct = task.is_correct(final, record), task.is_correct(first, record)
    return {
        "id": record["id"],
        "bucket": record["bucket"],
        "seen": record["seen"],
        "gold": record["answer"],
        "prediction": final,
        "first_prediction": first,
        "correct": correct,
        "first_correct": first_correct,
        "changed": final != first,
        "fixed": correct and not first_correct,
        "broken": first_correct and not correct,
        "rounds": rounds,
        "unparsed": final is None,
        "malformed_generations": malformed,
        "unactionable_feedback": unactionable,  # ended at a feedback that names no error
        "trajectory": text,
    }


@dataclass(frozen=True)
class EvaluationKey:
    """What an evaluation frame is of: the tables read it from the frame, not from its path."""

    task: str
    seed: int | None  # None: an LLM baseline (one run, no seed)
    checkpoint: str  # a checkpoint name (``baseline``, ``tripost/iter2``, ...) or an LLM method


def with_key(frame: pd.DataFrame, key: EvaluationKey) -> pd.DataFrame:
    """``frame`` carrying ``key`` (in ``frame.attrs``, which its pickle keeps)."""
    frame.attrs["key"] = dataclasses.asdict(key)
    return frame


def key_of(frame: pd.DataFrame, source: str) -> EvaluationKey:
    """The key an evaluation frame carries (``source``: its file, named in the error)."""
    if "key" not in frame.attrs:
        raise ValueError(f"{source}: an evaluation without its key (made before keys were kept): "
                         "delete it and rerun the workflow, which evaluates it again")
    return EvaluationKey(**frame.attrs["key"])


def evaluation_frame(task: Task, records: list[Record], trajectories: list[Trajectory]) -> pd.DataFrame:
    """One row per question: bucket, seen, prediction, trajectory, correct, rounds used, ...;
    ``first_*`` is the first attempt (the same checkpoint without self-improvement rounds)."""
    rows = []
    for record, trajectory in zip(records, trajectories):
        final = task.parse_answer(trajectory.last_attempt) if trajectory.attempts else None
        first = task.parse_answer(trajectory.attempts[0]) if trajectory.attempts else None
        rounds = max(len(trajectory.attempts) - 1, 0)
        text = render(task, record, trajectory.attempts, trajectory.feedbacks)
        rows.append(_row(task, record, final, first, rounds, trajectory.malformed, text, trajectory.unactionable))
    return pd.DataFrame(rows)


def answer_only_frame(task: Task, records: list[Record], prompts: list[str], outputs: list[str]) -> pd.DataFrame:
    """The same columns for answer-only outputs (one answer, no rounds)."""
    rows = []
    for record, prompt, output in zip(records, prompts, outputs):
        answer = task.parse_answer_only(output)
        rows.append(_row(task, record, answer, answer, 0, 0, prompt + output))
    return pd.DataFrame(rows)


def _accuracy(frame: pd.DataFrame, column: str = "correct") -> float | None:
    return float(frame[column].mean() * 100) if len(frame) else None


SPLITS = ("seen", "unseen", "total")


def metric(frame: pd.DataFrame, name: str) -> float | None:
    """One number of a checkpoint's per-question frame (None for no questions): ``seen`` /
    ``unseen`` / ``total`` accuracy (%) after self-improvement, ``first_<split>`` at the first
    attempt, or ``attempted`` (% of questions with an update), ``changed`` (% whose answer
    changed), ``fixed`` (% wrong -> right), ``broken`` (% right -> wrong), ``n_fixed`` and
    ``n_broken`` (the same as counts), ``rounds`` (mean updates per question)."""
    column = "first_correct" if name.startswith("first_") else "correct"
    split = name.removeprefix("first_")
    if split in SPLITS:
        part = frame if split == "total" else frame[frame["seen"] == (split == "seen")]
        return _accuracy(part, column)
    if not len(frame):
        return None
    if name == "attempted":
        return float((frame["rounds"] > 0).mean() * 100)
    if name in ("changed", "fixed", "broken"):
        return _accuracy(frame, name)
    if name in ("n_fixed", "n_broken"):
        return float(frame[name.removeprefix("n_")].sum())
    if name == "rounds":
        return float(frame["rounds"].mean())
    raise ValueError(f"unknown metric {name!r}")


def summarise(frame: pd.DataFrame, task: Task) -> dict[str, Any]:
    """Seen / unseen / total accuracy (micro averages, in %), and what self-improvement did."""
    buckets = {}
    for bucket in task.seen_buckets + task.unseen_buckets:
        part = frame[frame["bucket"] == bucket]
        buckets[bucket] = {"total": int(len(part)), "correct": int(part["correct"].sum()),
                           "acc": _accuracy(part) if len(part) else -1}
    return {
        **{split: metric(frame, split) for split in SPLITS},
        "first_attempt": {split: metric(frame, f"first_{split}") for split in SPLITS},
        "pct_changed": metric(frame, "changed"),
        "pct_fixed": metric(frame, "fixed"),
        "pct_broken": metric(frame, "broken"),
        "mean_rounds": metric(frame, "rounds"),
        "unparsed_answers": int(frame["unparsed"].sum()),
        "malformed_generations": int(frame["malformed_generations"].sum()),
        "unactionable_feedback": int(frame["unactionable_feedback"].sum()),
        "n": int(len(frame)),
        "buckets": buckets,
    }
