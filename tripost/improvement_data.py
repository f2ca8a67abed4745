"""From edited trajectories to one iteration's training data (method §5.5–5.6).

Per rollout pass: drop trajectories already seen, cut those with an ``Updated Answer`` into
turns, keep all improvement turns and ``min(ceil(#improvement / p), #non-improvement)``
non-improvement examples (all of them when p <= 0). Passes are added until ``max_data_length``
examples are reached (a soft cap: the last pass is added whole). Then as many ground-truth
rationales as there are non-improvement examples (at most one per question) are mixed in.
"""

from __future__ import annotations

import math
import random
from typing import Any

from tripost import io
from tripost.formats import is_done_feedback
from tripost.job_settings import DataSettings
from tripost.tasks.base import Record, Task
from tripost.trajectory import ground_truth_row, render, to_turns, training_row

KEPT = ("directly_correct", "self_improved", "edited")


def rebalance_turns(improvement: list[dict], non_improvement: list[dict], ratio: float,
                    rng: random.Random) -> list[dict]:
    """The non-improvement examples to keep: ``ceil(#improvement / ratio)`` of them at most."""
    if ratio <= 0:
        return list(non_improvement)
    n_keep = min(math.ceil(len(improvement) / ratio), len(non_improvement))
    return rng.sample(non_improvement, n_keep)


def pass_examples(
    task: Task, records: dict[str, Record], edits: list[dict], seen_texts: set[str], ratio: float, rng: random.Random
) -> tuple[list[dict], dict[str, int]]:
    """One pass's training examples and its counts."""
    improvement: list[dict] = []
    non_improvement: list[dict] = []
    for edit in edits:
        if edit["outcome"] not in KEPT:
            continue
        record = records[edit["id"]]
        text = render(task, record, edit["attempts"], edit["feedbacks"])
        if text in seen_texts:
            continue
        seen_texts.add(text)
        if len(edit["attempts"]) == 1:
            start = "Q:" if is_done_feedback(edit["feedbacks"][-1]) else "\nFeedback:"
            non_improvement.append(training_row(task, record, text, start))
        else:
            turns, last = to_turns(task, record, edit["attempts"], edit["feedbacks"])
            improvement += turns
            non_improvement.append(last)
    kept = rebalance_turns(improvement, non_improvement, ratio, rng)
    counts = {"num_improvement": len(improvement), "num_non_improvement": len(kept),
              "num_non_improvement_available": len(non_improvement)}
    return improvement + kept, counts


def build_iteration_data(
    task: Task, window: list[Record], gold: dict[str, str], edits: list[dict], settings: DataSettings, seed: int
) -> tuple[list[dict], dict[str, Any]]:
    """All of one iteration's training examples (shuffled) and the counts written beside them."""
    rng = random.Random(seed)
    records = io.by_id(window, "the collection window")
    by_pass: dict[int, list[dict]] = {}
    for edit in edits:
        by_pass.setdefault(edit["pass"], []).append(edit)
    seen_texts: set[str] = set()
    data: list[dict] = []
    counts: dict[str, Any] = {"num_improvement": 0, "num_non_improvement": 0, "passes_used": 0}
    outcomes: dict[str, int] = {}
    for edit in edits:
        outcomes[edit["outcome"]] = outcomes.get(edit["outcome"], 0) + 1
    for index in sorted(by_pass):
        if len(data) >= settings.max_data_length:
            break
        examples, pass_counts = pass_examples(task, records, by_pass[index], seen_texts, settings.improve_data_ratio,
                                              rng)
        data += examples
        counts["num_improvement"] += pass_counts["num_improvement"]
        counts["num_non_improvement"] += pass_counts["num_non_improvement"]
        counts["passes_used"] += 1
    ground_truth = [ground_truth_row(task, r, gold[r["id"]]) for r in window if r["id"] in gold]
    ground_truth = [g for g in ground_truth if g["text"] not in seen_texts]
    n_gt = min(counts["num_non_improvement"], len(ground_truth))
    data += rng.sample(ground_truth, n_gt)
    rng.shuffle(data)
    counts.update(
        num_ground_truth=n_gt,
        total=len(data),
        outcomes=outcomes,
        improvement_ratio=((counts["num_improvement"] / counts["num_non_improvement"])
                           if counts["num_non_improvement"] else None),
        enough_data=len(data) >= settings.min_data_length,
    )
    return data, counts


def sft_rows(task: Task, records: list[Record], gold: dict[str, str]) -> list[dict]:
    """Ground-truth rationale SFT examples (the "ft rationale" baseline's data); questions without a
    rationale (an LLM's that missed the answer) are left out."""
    return [training_row(task, r, task.rationale_text(r, gold[r["id"]]), "\nAnswer:")
            for r in records if r["id"] in gold]
