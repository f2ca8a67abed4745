"""Date understanding: the paper's questions, rebuilt from ``bigbench==1.0.0`` (method §1.3).

The paper read BIG-Bench through the HF ``bigbench`` dataset, whose train/validation split is
seqio's: a seed-42 shuffle of the task file, the last 20% validation (the same rule as word
sorting). BIG-Bench lists the right option first, so the original shuffled every question's
options with one ``random.Random(42)``, train questions first, then validation. The questions the
paper kept (those Codex answered right), its 191/20 rationale training split and its 77 test
questions with their seen/unseen bucket are facts of the published data, stored by position in
``tripost/data/date_understanding_paper_split.json``.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

from tripost.bigbench import seqio_split
from tripost.tasks.base import LETTERS, Record

PAPER_SPLIT = Path(__file__).resolve().parent.parent / "data" / "date_understanding_paper_split.json"


def hf_split(examples: list[dict]) -> dict[str, list[int]]:
    """Indices into the task file of HF ``bigbench``'s train and validation splits, in order."""
    train, validation = seqio_split(len(examples))
    return {"train": train, "validation": validation}


def shuffled_options(examples: list[dict], split: dict[str, list[int]]) -> dict[tuple[str, int], list[str]]:
    """Every question's options in the order the paper shows them, by (HF split, index)."""
    rng = random.Random(42)
    options = {}
    for name in ("train", "validation"):
        for index, source in enumerate(split[name]):
            choices = list(examples[source]["target_scores"])
            rng.shuffle(choices)
            options[(name, index)] = choices
    return options


def paper_records(examples: list[dict]) -> dict[str, list[Record]]:
    """The paper's train / val / test questions as records (``answer``: the option letter)."""
    split = hf_split(examples)
    options = shuffled_options(examples, split)
    paper = json.loads(PAPER_SPLIT.read_text())

    def record(name: str, index: int, bucket: str) -> Record:
        example = examples[split[name][index]]
        choices = options[(name, index)]
        right = next(o for o, score in example["target_scores"].items() if score == 1)
        return {
            "id": f"du-{name}-{index}",
            "question": example["input"].strip(),
            "answer": LETTERS[choices.index(right)],
            "bucket": bucket,
            "seen": bucket == "1-2",
            "meta": {"options": choices, "target": right},
        }

    return {
        "train": [record(name, index, "1-2") for name, index in paper["train"]],
        "val": [record(name, index, "1-2") for name, index in paper["val"]],
        "test": [record(name, index, bucket) for name, index, bucket in paper["test"]],
    }
