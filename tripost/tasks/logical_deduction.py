"""Logical deduction: BIG-Bench splits, a scripted rationale of ours and its verifier.

The original used Codex rationales and an LLM verifier for this task (method §1.4, §4). Here the
expert is a script (beyond the paper). The rationale keeps the notation of the published Codex
rationales for each statement (``"(left) ?? a ?? b ?? (right)"``), then places the objects
position by position and ends with the ordering and the option::

    (1) The blue book is to the right of the orange book: "(left) ?? orange book ?? blue book ?? (right)".
    (2) The orange book is to the right of the black book: "(left) ?? black book ?? orange book ?? (right)".
    (3) There are in total three books: a black book, an orange book, and a blue book.
    (4) Position 1 from the left: black book.
    (5) Position 2 from the left: orange book.
    (6) Position 3 from the left: blue book.
    (7) So the ordering is "(left) black book orange book blue book (right)".
    (Final response) The black book is the leftmost. So the answer is (A).

The verifier compares each line with the solver's line of the same number; the first line that
differs is the error, with a reason taken from the puzzle's statements.
"""

from __future__ import annotations

import json
import random
import re
from pathlib import Path
from typing import Any

from tripost.formats import FINAL_PREFIX, StepError, read_flat_steps
from tripost.tasks.base import LETTERS, Record, Task, search_answer
from tripost.tasks.logical_deduction_puzzle import (
    DOMAINS,
    INTROS,
    SIZE_WORDS,
    VOCABULARY,
    Puzzle,
    Statement,
    generate_example,
    read_puzzle,
    solve,
)

LD_INFO = 'Let "??" represents 0 or more objects, and "?" represents exactly 1 object.'
PREFIX = ("The following paragraphs each describe a set of {n} objects arranged in a fixed order. "
          "The statements are logically consistent within each paragraph.")
PAPER_SPLIT = Path(__file__).resolve().parent.parent / "data" / "logical_deduction_paper_split.json"


def encoding(statement: Statement, puzzle: Puzzle) -> str:
    """The statement in the ``??`` / ``?`` notation of the published rationales."""
    first, last = puzzle.domain.ends
    if statement.kind == "before":
        return f"({first}) ?? {statement.a} ?? {statement.b} ?? ({last})"
    if statement.from_end == 0:
        return f"({first}) " + "? " * (statement.position - 1) + f"{statement.a} ?? ({last})"
    return f"({first}) ?? {statement.a}" + " ?" * (puzzle.n - statement.position) + f" ({last})"


def position_line(puzzle: Puzzle, position: int, name: str) -> str:
    return f"Position {position} from the {puzzle.domain.ends[0]}: {name}."


def ordering_line(puzzle: Puzzle, order: tuple[str, ...]) -> str:
    first, last = puzzle.domain.ends
    return f'So the ordering is "({first}) {" ".join(order)} ({last})".'


def _solved(record: Record) -> tuple[Puzzle, tuple[str, ...]]:
    """The record's puzzle and its one ordering."""
    puzzle = read_puzzle(record["meta"]["paragraph"])
    return puzzle, solve(puzzle)


def _options(record: Record) -> list[str]:
    return record["meta"]["options"]


def _phrases() -> tuple[str, ...]:
    """The fixed text of the puzzles and of our rationale, each one token of the scratch model:
    the preamble, settings, object names, statement grammar, and the rationale's own phrases."""
    fixed = [PREFIX.format(n=word) for word in SIZE_WORDS.values()] + [LD_INFO, "Options:", " So the answer is",
             "There are in total ", "Position ", "So the ordering is", '" ?? ', " ?? ", "The ", ", and a ",
             ", and an ", ", and ", ", a ", ", an ", ": a ", ": an "]
    fixed += [intro.format(n=word) for intro in INTROS.values() for word in SIZE_WORDS.values()]
    fixed += [name for names in VOCABULARY.values() for name in names]
    for domain in DOMAINS.values():
        fixed += [f"({end})" for end in domain.ends] + [f" from the {domain.ends[0]}: "]
        for pattern, _ in domain.orders + domain.places:
            fixed += [piece for piece in pattern.split("(.+)") if piece.strip() and piece != "The "]
    return tuple(dict.fromkeys(fixed))


class LogicalDeduction(Task):
    name = "logical_deduction"
    info = LD_INFO
    seen_buckets = ("3", "5")
    unseen_buckets = ("7",)
    phrases = _phrases()
    shortcut_checks_content = True
    bigbench_files = tuple(f"logical_deduction/{w}_objects/task.json" for w in ("three", "five", "seven"))

    # ---- data -------------------------------------------------------------------------------
    def make_splits(self, cfg: dict[str, Any], sources: dict[str, list[dict]]) -> dict[str, list[Record]]:
        """The paper's 360 training and 40 validation puzzles (their positions in BIG-Bench's
        3- and 5-object files, taken from the published data); every other puzzle is a test
        question: the rest of the 3- and 5-object ones seen, all 7-object ones unseen (the
        original's test file is lost, method §1.3). ``n_extra_train`` new 3- and 5-object puzzles
        of our generator, none equal to a BIG-Bench one, are the extra training questions."""
        examples = {n: sources[relative] for n, relative in zip((3, 5, 7), self.bigbench_files)}
        paper = json.loads(PAPER_SPLIT.read_text())
        chosen = {split: [(n, i) for n, i in paper[split] if i < len(examples[n])] for split in ("train", "val")}
        used = set(chosen["train"]) | set(chosen["val"])
        train, val = ([_record(examples[n][i], n, i) for n, i in chosen[split]] for split in ("train", "val"))
        test = [_record(e, n, i) for n in (3, 5, 7) for i, e in enumerate(examples[n]) if (n, i) not in used]
        return {"train": train, "val": val, "test": test, "extra_train": _extra_puzzles(cfg, examples)}

    def synthetic_source(self, relative: str, n_examples: int, seed: int) -> dict:
        """New puzzles of our generator with as many objects as the file's."""
        sizes = dict(zip(self.bigbench_files, (3, 5, 7)))
        if relative not in sizes:
            return super().synthetic_source(relative, n_examples, seed)
        rng = random.Random(seed * 10 + sizes[relative])
        return {"name": "logical_deduction",
                "examples": [generate_example(rng, sizes[relative]) for _ in range(n_examples)]}

    # ---- formats ----------------------------------------------------------------------------
    def question_block(self, record: Record) -> str:
        options = "\n".join(f"({LETTERS[i]}) {o}" for i, o in enumerate(_options(record)))
        return f"Q: {record['question']}\nOptions:\n{options}"

    def solve(self, record: Record) -> str:
        return "\n".join(_gold_lines(record, *_solved(record)))

    def parse_answer(self, text: str) -> str | None:
        return search_answer(r"[Tt]he answer is \(([A-G])\)", text)

    def wrong_final_response(self, record: Record, rng: random.Random) -> str:
        options = _options(record)
        index = rng.choice([i for i in range(len(options)) if LETTERS[i] != record["answer"]])
        return f"{FINAL_PREFIX} {options[index]} So the answer is ({LETTERS[index]})."

    def has_valid_content(self, record: Record, attempt: str) -> bool:
        """The final response states the option that its letter names."""
        letter = self.parse_answer(attempt)
        if letter is None or LETTERS.index(letter) >= len(_options(record)):
            return False
        final = attempt.strip().split("\n")[-1]
        return final.startswith(f"{FINAL_PREFIX} {_options(record)[LETTERS.index(letter)]}")

    def first_error(self, record: Record, attempt: str) -> StepError | None:
        return first_error(record, attempt)


def _extra_puzzles(cfg: dict[str, Any], examples: dict[int, list[dict]]) -> list[Record]:
    rng = random.Random(cfg["extra_seed"])
    taken = {(e["input"].strip(), tuple(e["target_scores"])) for group in examples.values() for e in group}
    extra: list[Record] = []
    while len(extra) < cfg["n_extra_train"]:
        n = rng.choice((3, 5))
        example = generate_example(rng, n)
        key = (example["input"], tuple(example["target_scores"]))
        if key in taken:
            continue
        taken.add(key)
        extra.append(_record(example, n, len(extra), source=f"x{cfg['extra_seed']}"))
    return extra


def _record(example: dict, n: int, index: int, source: str = "bb") -> Record:
    options = [_respell(o) for o in example["target_scores"]]
    answer = next(i for i, o in enumerate(example["target_scores"]) if example["target_scores"][o] == 1)
    paragraph = _respell(example["input"].strip())
    return {
        "id": f"ld-{source}-{n}-{index}",
        "question": f"{PREFIX.format(n=SIZE_WORDS[n])} {paragraph}",
        "answer": LETTERS[answer],
        "bucket": str(n),
        "seen": n in (3, 5),
        "meta": {"paragraph": paragraph, "options": options},
    }


def _respell(text: str) -> str:
    """bigbench==1.0.0 writes "motorcyle"; the HF copy the paper used (and its published data)
    "motorcycle"."""
    return text.replace("motorcyle", "motorcycle")


def _gold_lines(record: Record, puzzle: Puzzle, order: tuple[str, ...]) -> list[str]:
    lines = [f'{s.text}: "{encoding(s, puzzle)}".' for s in puzzle.statements]
    lines.append(f"There are in total {SIZE_WORDS[puzzle.n]} {puzzle.domain.plural}: {puzzle.listing}.")
    lines += [position_line(puzzle, p, name) for p, name in enumerate(order, start=1)]
    lines.append(ordering_line(puzzle, order))
    numbered = [f"({i}) {line}" for i, line in enumerate(lines, start=1)]
    answer = record["answer"]
    option = _options(record)[LETTERS.index(answer)]
    return numbered + [f"{FINAL_PREFIX} {option} So the answer is ({answer})."]


# ---- the verifier ---------------------------------------------------------------------------
def _placement_reason(puzzle: Puzzle, placed: list[str], name: str, step_of: dict[Statement, int]) -> str:
    """Why ``name`` cannot be at the next position after ``placed`` (which are right so far)."""
    position = len(placed) + 1
    for statement, step in step_of.items():
        if statement.kind == "at" and statement.a == name and statement.position != position:
            return f"according to step ({step}), {_who(puzzle, name)} is at position {statement.position}"
        if statement.kind == "at" and statement.position == position and statement.a != name:
            return f"according to step ({step}), position {position} is {_who(puzzle, statement.a)}"
    if name not in puzzle.objects:
        return f"there is no {name} among the {puzzle.domain.plural}: {puzzle.listing}"
    if name in placed:
        return f"{_who(puzzle, name)} is already at position {placed.index(name) + 1}"
    for statement, step in step_of.items():
        if statement.kind == "before" and statement.b == name and statement.a not in placed:
            return (f"according to step ({step}), {_lower_first(statement.text)}, so {_who(puzzle, statement.a)} "
                    f"comes before {_who(puzzle, name)}")
        if statement.kind == "before" and statement.a == name and statement.b in placed:
            return (f"according to step ({step}), {_lower_first(statement.text)}, so {_who(puzzle, name)} comes "
                    f"before {_who(puzzle, statement.b)}, which is placed already")
    return "no other object can be there: this placement breaks the statements later on"


def _who(puzzle: Puzzle, name: str) -> str:
    """``the blue book``, but ``Rob``."""
    return name if puzzle.domain.people else f"the {name}"


def _lower_first(text: str) -> str:
    return text[0].lower() + text[1:] if text.startswith("The ") else text


def first_error(record: Record, attempt: str) -> StepError | None:
    """The first line of ``attempt`` that differs from the solver's; None when all agree.

    Raises ``ValueError`` when the attempt cannot be read (a line without a step id, steps out of
    sequence, or no final response)."""
    puzzle, order = _solved(record)
    gold = _gold_lines(record, puzzle, order)
    read = read_flat_steps(attempt)
    n_statements = len(puzzle.statements)
    step_of = {s: i for i, s in enumerate(puzzle.statements, start=1)}
    previous: str | None = None
    for index, (line, step, body) in enumerate(read):
        if index < len(gold) - 1 and step == "Final response":
            return StepError(step, previous, body, f"the ordering is not complete yet: step ({index + 1}) should "
                             + _what_comes(puzzle, index, n_statements))
        if step != "Final response" and index >= len(gold) - 1:
            return StepError(step, previous, body, "the ordering is complete: what follows is the final response")
        # past both checks a numbered step has index < len(gold) - 1 and the final response len(gold) - 1
        if line != gold[index]:
            return StepError(step, previous, body.removesuffix("."),
                             _reason(puzzle, order, record, index, body, n_statements, step_of))
        previous = step
    return None


def _what_comes(puzzle: Puzzle, index: int, n_statements: int) -> str:
    if index < n_statements:
        return f'write statement {index + 1} of the question in the "??" notation'
    if index == n_statements:
        return f"count the {puzzle.domain.plural}"
    if index <= n_statements + puzzle.n:
        return f"place position {index - n_statements}"
    return "write the ordering"


def _reason(puzzle: Puzzle, order: tuple[str, ...], record: Record, index: int, body: str,
            n_statements: int, step_of: dict[Statement, int]) -> str:
    if index < n_statements:
        statement = puzzle.statements[index]
        if not body.startswith(statement.text + ":"):
            return f'step ({index + 1}) should read statement {index + 1}: "{statement.text}"'
        return f'"{statement.text}" means "{encoding(statement, puzzle)}"'
    if index == n_statements:
        return f"there are in total {SIZE_WORDS[puzzle.n]} {puzzle.domain.plural}: {puzzle.listing}"
    if index <= n_statements + puzzle.n:
        position = index - n_statements
        match = re.fullmatch(rf"Position (\d+) from the {re.escape(puzzle.domain.ends[0])}: (.+)\.", body)
        if match is None or int(match.group(1)) != position:
            return f"step ({index + 1}) should place position {position} from the {puzzle.domain.ends[0]}"
        placed = list(order[: position - 1])
        return _placement_reason(puzzle, placed, match.group(2), step_of)
    if index == n_statements + puzzle.n + 1:
        return (f"steps ({n_statements + 2}) to ({n_statements + 1 + puzzle.n}) give the ordering "
                f'"{" ".join(order)}"')
    answer = record["answer"]
    option = _options(record)[LETTERS.index(answer)]
    return f'according to the ordering, "{option}" is true, which is option ({answer})'
