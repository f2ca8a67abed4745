"""Word sorting: BIG-Bench splits, the scripted rationale and the scripted verifier (method §1.3, §2.6, §3.2)."""

from __future__ import annotations

import random
import re
from typing import Any

from tripost.bigbench import seqio_split
from tripost.formats import FINAL_PREFIX, StepError
from tripost.tasks.base import COMMON_DATA_SETTINGS, Record, Task, search_answer, split_off_validation
from tripost.tasks.word_sorting_verifier import first_error

ORDINALS = (
    "first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth", "tenth",
    "eleventh", "twelfth", "thirteenth", "fourteenth", "fifteenth", "sixteenth", "seventeenth",
    "eighteenth", "nineteenth", "twentieth",
)
QUESTION_HEAD = "Sort the following words alphabetically:"


def letter_number(char: str) -> int:
    """The original's "alphabet number": ``ord(c) - 96`` (odd values for non a-z characters)."""
    return ord(char) - 96


def bucket_of(n_words: int) -> str:
    if n_words <= 3:
        return "2-3"
    if n_words <= 7:
        return "4-7"
    if n_words <= 10:
        return "8-10"
    if n_words <= 15:
        return "11-15"
    return "15+"


def has_prefix_pair(words: list[str]) -> bool:
    """True when a word is a proper prefix of another (the original solver fails on these)."""
    return any(a != b and b.startswith(a) for a in words for b in words)


def _group(words: list[str], position: int) -> list[tuple[int, list[str]]]:
    """Words grouped by the number of their letter at ``position``, ascending, input order kept."""
    groups: dict[int, list[str]] = {}
    for word in words:
        groups.setdefault(letter_number(word[position]), []).append(word)
    return sorted(groups.items())


def _quoted(words: list[str]) -> str:
    return " ? ".join(f'"{w}"' for w in words)


def _now_have(groups: list[tuple[int, list[str]]]) -> str:
    items = [
        f'({n}) "{ws[0]}"' if len(ws) == 1 else f"({n}) [{_quoted(ws)}]" for n, ws in groups
    ]
    return "We now have: " + " < ".join(items) + "."


def _letters(words: list[str], position: int) -> str:
    return ", ".join(f'"{w}"="{w[position]}" ({letter_number(w[position])})' for w in words)


def _hence(words: list[str]) -> str:
    return "Hence, we have " + " < ".join(f'"{w}"' for w in words) + "."


def _sort_subpart(words: list[str], position: int, step: str, lines: list[str]) -> list[str]:
    """Emit the lines that sort a tie group by the letter at ``position``; returns the order."""
    lines.append(_subpart_line(words, position, step))
    return _sort_level(words, position, f"{step}.", lines, nested=True)


def _subpart_line(words: list[str], position: int, step: str) -> str:
    return (
        f"({step}) Now sort this subpart [{_quoted(words)}] by looking at their "
        f"{ORDINALS[position]} letters: {_letters(words, position)}."
    )


def _sort_level(
    words: list[str], position: int, prefix: str, lines: list[str], nested: bool
) -> list[str]:
    """Group, sort each tie group in a sub-level, conclude with ``Hence``.

    Inside a subpart, a letter on which every word ties is followed, at the same level, by the
    next letter (as the original does), instead of a nested sub-level.
    """
    counter = 1
    groups = _group(words, position)
    lines.append(f"({prefix}{counter}) {_now_have(groups)}")
    while nested and len(groups) == 1:
        position += 1
        lines.append(_subpart_line(words, position, f"{prefix}{counter + 1}"))
        groups = _group(words, position)
        counter += 2
        lines.append(f"({prefix}{counter}) {_now_have(groups)}")
    ordered: list[str] = []
    for _, group in groups:
        if len(group) == 1:
            ordered += group
            continue
        counter += 1
        ordered += _sort_subpart(group, position + 1, f"{prefix}{counter}", lines)
    counter += 1
    lines.append(f"({prefix}{counter}) {_hence(ordered)}")
    return ordered


def pseudo_word(rng: random.Random) -> str:
    consonants, vowels = "bcdfghjklmnprstvwz", "aeiou"
    syllables = "".join(rng.choice(consonants) + rng.choice(vowels) for _ in range(rng.randint(1, 4)))
    return syllables + rng.choice(["", "n", "r", "s"])


def synthetic_word_sorting(n_examples: int, seed: int) -> dict:
    """A BIG-Bench-shaped ``word_sorting`` task of pseudo-words (2 to 20 per list)."""
    rng = random.Random(seed)
    examples = []
    for _ in range(n_examples):
        words = [pseudo_word(rng) for _ in range(rng.choice([2, 3, 4, 5, 6, 7, 2, 3, 4, 5, 9, 12, 17]))]
        examples.append({"input": " ".join(words), "target": " ".join(sorted(words))})
    return {"name": "word_sorting", "examples": examples}


class WordSorting(Task):
    name = "word_sorting"
    seen_buckets = ("2-3", "4-7")
    unseen_buckets = ("8-10", "11-15", "15+")
    bigbench_files = ("word_sorting/task.json",)
    data_settings = {"max_train_words": {"type": "integer", "minimum": 2}, "n_val": {"type": "integer", "minimum": 0},
                     "split_seed": {"type": "integer"}, **COMMON_DATA_SETTINGS}
    phrases = (
        QUESTION_HEAD,
        "The first letter:",
        "We now have:",
        "Now sort this subpart",
        "by looking at their",
        "Hence, we have",
    ) + tuple(f" {o} letters:" for o in ORDINALS[1:8])

    # ---- data -------------------------------------------------------------------------------
    def make_splits(self, cfg: dict[str, Any], sources: dict[str, list[dict]]) -> dict[str, list[Record]]:
        """BIG-Bench's train/validation split (seed-42 shuffle, last 20% validation), as the
        HF ``bigbench`` data the paper used; lists the original solver cannot solve dropped.
        Training lists have at most ``max_train_words`` words; validation is ``n_val`` of them.
        """
        examples = sources[self.bigbench_files[0]]
        train_indices, test_indices = seqio_split(len(examples))
        parts = {"train": train_indices, "test": test_indices}
        records: dict[str, list[Record]] = {}
        for part, indices in parts.items():
            records[part] = []
            for idx, source in enumerate(indices):
                words = examples[source]["input"].split()
                if not has_prefix_pair(words):
                    records[part].append(_record(words, f"{part}{idx}"))
        pool = [r for r in records["train"] if len(r["meta"]["words"]) <= cfg["max_train_words"]]
        train, val = split_off_validation(pool, cfg["n_val"], cfg["split_seed"])
        extra = _extra_lists(records["train"], records["test"], pool, cfg)
        return {"train": train, "val": val, "test": records["test"], "extra_train": extra}

    def synthetic_source(self, relative: str, n_examples: int, seed: int) -> dict:
        """Lists of 2 to 20 pseudo-words."""
        if relative != self.bigbench_files[0]:
            return super().synthetic_source(relative, n_examples, seed)
        return synthetic_word_sorting(n_examples, seed)

    # ---- formats ----------------------------------------------------------------------------
    def question_block(self, record: Record) -> str:
        return f"Q: {record['question']}"

    def solve(self, record: Record) -> str:
        words = record["meta"]["words"]
        lines = [f"(1) The first letter: {_letters(words, 0)}."]
        lines_level: list[str] = []
        ordered = _sort_level(words, 0, "", lines_level, nested=False)
        # the top level numbers its steps from (2): shift the level's ids by one
        lines += [_shift_top(line) for line in lines_level]
        return "\n".join(lines + [f"{FINAL_PREFIX} So the answer is: {' '.join(ordered)}."])

    def parse_answer(self, text: str) -> list[str] | None:
        found = search_answer(r"the answer is:(.*)\.", text)
        return None if found is None else found.split()

    def wrong_final_response(self, record: Record, rng: random.Random) -> str | None:
        """The sorted list with two neighbouring (different) words swapped."""
        words = list(record["answer"])
        pairs = [i for i in range(len(words) - 1) if words[i] != words[i + 1]]
        if not pairs:
            return None
        i = rng.choice(pairs)
        words[i], words[i + 1] = words[i + 1], words[i]
        return f"{FINAL_PREFIX} So the answer is: {' '.join(words)}."

    def parse_answer_only(self, text: str) -> list[str] | None:
        return text.strip().split("\n")[0].split() or None

    def has_valid_content(self, record: Record, attempt: str) -> bool:
        """Spec §5.4.2: no ``Hence`` line still holds an unsorted ``?``."""
        return not any("Hence" in line and "?" in line for line in attempt.split("\n"))

    def first_error(self, record: Record, attempt: str) -> StepError | None:
        return first_error(record["meta"]["words"], attempt)


def _shift_top(line: str) -> str:
    """``(3.2) ...`` -> ``(4.2) ...``: top-level ids of the sorting steps start at 2."""
    match = re.match(r"\((\d+)((?:\.\d+)*)\)", line)
    return f"({int(match.group(1)) + 1}{match.group(2)})" + line[match.end():]


def _record(words: list[str], source: str) -> Record:
    return {
        "id": f"ws-{source}",
        "question": f"{QUESTION_HEAD}\nList: {' '.join(words)}",
        "answer": sorted(words),
        "bucket": bucket_of(len(words)),
        "seen": len(words) <= 7,
        "meta": {"words": words},
    }


def _extra_lists(
    train: list[Record], test: list[Record], pool: list[Record], cfg: dict[str, Any]
) -> list[Record]:
    """New seen-distribution lists: words from the training partition, list lengths drawn from
    the training pool's own length distribution; no test list and no prefix pair."""
    rng = random.Random(cfg["extra_seed"])
    vocabulary = sorted({w for r in train for w in r["meta"]["words"]})
    lengths = [len(r["meta"]["words"]) for r in pool]
    taken = {tuple(r["meta"]["words"]) for r in train + test}
    extra: list[Record] = []
    while len(extra) < cfg["n_extra_train"]:
        words = rng.sample(vocabulary, rng.choice(lengths))
        if tuple(words) in taken or has_prefix_pair(words):
            continue
        taken.add(tuple(words))
        extra.append(_record(words, f"x{cfg['extra_seed']}-{len(extra)}"))
    return extra
