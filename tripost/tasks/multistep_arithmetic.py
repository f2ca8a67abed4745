"""Multistep arithmetic: splits, the scripted rationale and the scripted verifier (method §1.3, §1.4, §3.1)."""

from __future__ import annotations

import random
import re
from typing import Any

from tripost.formats import FINAL_PREFIX, STEP_ID, StepError
from tripost.tasks.arithmetic_expr import (
    bigbench_stream,
    evaluate,
    fully_parenthesise,
    reduction_chain,
    split_groups,
)
from tripost.tasks.base import COMMON_DATA_SETTINGS, Record, Task, search_answer, split_off_validation

INFO = (
    "Recall that the order of operations in mathematics is as follows: (1) Parentheses, "
    "(2) exponents, (3) multiplication and division (from left to right), (4) addition and "
    "multiplication (from left to right). So, remember to always compute the expressions inside "
    "parentheses or brackets first."
)
SEEN_CONFIGS = ((3, (2,)), (4, (2,)), (3, (2, 2)), (4, (2, 2)))
NUMBERED = re.compile(r"^\((\d+)\) \w.+")


def bucket_of(length: int, depth_levels: list[int]) -> str:
    return ("l3-4" if length <= 4 else "l5-6") + "d" + "".join(str(d) for d in depth_levels)


def _letters_to_groups(line: str) -> dict[str, str]:
    return dict(re.findall(r"([A-Z]) = (\([^a-zA-Z]+?\))(?:,| and|\.$)", line))


def _chain_pieces(line: str, after: str) -> list[str]:
    """The ``=``-separated pieces of a line's equation chain, starting after ``after``."""
    start = line.find(after)
    chain = line[start + len(after):].strip()
    if chain.endswith("."):
        chain = chain[:-1]
    return [piece.strip() for piece in chain.split("=")]


def _try_value(text: str) -> int | None:
    try:
        return evaluate(text)
    except ValueError:
        return None


class MultistepArithmetic(Task):
    name = "multistep_arithmetic"
    data_settings = {"bigbench_seed": {"type": "integer"}, "trials": {"type": "integer", "minimum": 1},
                     "train_trials": {"type": "integer", "minimum": 1},
                     "test_trials": {"type": "integer", "minimum": 1}, "n_val": {"type": "integer", "minimum": 0},
                     "split_seed": {"type": "integer"}, **COMMON_DATA_SETTINGS}
    info = INFO
    shortcut_checks_content = True
    seen_buckets = ("l3-4d2", "l3-4d22")
    unseen_buckets = ("l3-4d222", "l5-6d2", "l5-6d22", "l5-6d222")
    phrases = (
        INFO,
        "This equation can be written as",
        "Let's calculate",
        "Then, the final equation is",
        " + ",
        " - ",
        " * ",
        " = ",
    )

    # ---- data -------------------------------------------------------------------------------
    def make_splits(self, cfg: dict[str, Any], sources: dict[str, list[dict]]) -> dict[str, list[Record]]:
        """The paper's pool from BIG-Bench's generator (seed 42, 300 trials per configuration).

        Seen configurations: trials [0, train_trials) are the training pool, the next
        ``test_trials`` are test questions; unseen configurations give test trials [0, test_trials).
        Extra training questions come from an independent stream over the seen configurations.
        """
        train_trials, test_trials = cfg["train_trials"], cfg["test_trials"]
        pool, test = [], []
        stream = bigbench_stream(
            cfg["bigbench_seed"], cfg["trials"], [[2], [2, 2], [2, 2, 2]], [3, 4, 5, 6]
        )
        for depth, length, trial, expr in stream:
            seen = (length, tuple(depth)) in SEEN_CONFIGS
            if seen and trial < train_trials:
                pool.append(_record(expr, depth, length, f"bb{trial}"))
            elif (seen and train_trials <= trial < train_trials + test_trials) or (
                not seen and trial < test_trials
            ):
                test.append(_record(expr, depth, length, f"bb{trial}"))
        train, val = split_off_validation(pool, cfg["n_val"], cfg["split_seed"])
        taken = {_expression(r) for r in pool + test}
        drawn = []  # the new expressions, as drawn; a record is made only for those kept
        extra_stream = bigbench_stream(cfg["extra_seed"], cfg["n_extra_train"], [[2], [2, 2]], [3, 4])
        for depth, length, trial, expr in extra_stream:
            if expr not in taken:
                taken.add(expr)
                drawn.append((expr, depth, length, f"x{cfg['extra_seed']}-{trial}"))
        random.Random(cfg["extra_seed"]).shuffle(drawn)
        extra = [_record(*fields) for fields in drawn[: cfg["n_extra_train"]]]
        return {"train": train, "val": val, "test": test, "extra_train": extra}

    # ---- formats ----------------------------------------------------------------------------
    def question_block(self, record: Record) -> str:
        return f"Q: {record['question']}"

    def solve(self, record: Record) -> str:
        expr = _expression(record)
        skeleton, groups = split_groups(expr)
        letters = [chr(ord("A") + i) for i in range(len(groups))]
        assigned = [f"{x} = {g}" for x, g in zip(letters, groups)]
        listing = ", ".join(assigned[:-1]) + " and " + assigned[-1]
        lines = [f'This equation can be written as "{skeleton}", where {listing}.']
        values = {}
        for letter, group in zip(letters, groups):
            chain = reduction_chain(fully_parenthesise(group))
            values[letter] = chain[-1]
            lines.append(f"Let's calculate {letter} = {group} = " + " = ".join(chain) + ".")
        substituted = re.sub(r"[A-Z]", lambda m: values[m.group(0)], skeleton)
        chain = reduction_chain(substituted)
        lines.append(f"Then, the final equation is {skeleton} = " + " = ".join(chain) + ".")
        numbered = [f"({i}) {line}" for i, line in enumerate(lines, start=1)]
        return "\n".join(numbered + [f"{FINAL_PREFIX} So the answer is {chain[-1]}."])

    def parse_answer(self, text: str) -> int | None:
        found = search_answer(r"the answer is (.*)\.", text)
        if found is None or not re.fullmatch(r"-?\d+", found.strip()):
            return None
        return int(found.strip())

    def wrong_final_response(self, record: Record, rng: random.Random) -> str:
        return f"{FINAL_PREFIX} So the answer is {record['answer'] + rng.choice([-10, -2, -1, 1, 2, 10])}."

    def parse_answer_only(self, text: str) -> int | None:
        first = text.strip().split("\n")[0].strip()
        return int(first) if re.fullmatch(r"-?\d+", first) else None

    def has_valid_content(self, record: Record, attempt: str) -> bool:
        """Spec §5.4.2: the line before the final one ends in ``= <answer>.``."""
        lines = attempt.strip().split("\n")
        answer = record["answer"]
        return len(lines) >= 2 and (f"={answer}." in lines[-2] or f"= {answer}." in lines[-2])

    # ---- verifier (method §3.1) ---------------------------------------------------------------
    def first_error(self, record: Record, attempt: str) -> StepError | None:
        expr = _expression(record)
        target = evaluate(expr)
        lines = [line for line in attempt.strip().split("\n") if line.strip()]
        if not lines or "Final response" not in lines[-1]:
            raise ValueError("the attempt has no (Final response) line")
        numbered = lines[:-1]
        for line in numbered:
            if not NUMBERED.match(line):
                raise ValueError(f"not a numbered step: {line!r}")
        previous: str | None = None
        for index, line in enumerate(numbered):
            step = STEP_ID.match(line).group(1)
            lower = line.lower()
            if "this equation can be written as" in lower:
                found = _check_partition(line, expr)
            elif "let's calculate" in lower:
                head = re.search(r"calculate [A-Z] = ", line)
                if head is None:
                    raise ValueError(f"a calculation step without 'calculate X = ': {line!r}")
                found = _check_chain(_chain_pieces(line, head.group(0)))
            elif "the final equation is" in lower:
                found = _check_combine(line, numbered[:index], target)
            else:
                raise ValueError(f"unknown kind of step: {line!r}")
            if found is not None:
                return StepError(step, previous, *found)
            previous = step
        final = re.search(r"the answer is (-?\d+)\.", lines[-1])
        if "So the answer is" not in lines[-1] or final is None:
            raise ValueError(f"no answer in the final line: {lines[-1]!r}")
        if not numbered:
            raise ValueError("the attempt has no numbered steps")
        last_value = _chain_pieces(numbered[-1], "=")[-1] if "=" in numbered[-1] else None
        if last_value is None or _try_value(final.group(1)) != _try_value(last_value):
            return StepError(
                "Final response",
                previous,
                f"the answer is {final.group(1)}.",
                f"this answer is inconsistent with the result in step ({previous})",
            )
        return None


def _expression(record: Record) -> str:
    return record["question"].rstrip(" =").strip()


def _record(expr: str, depth: list[int], length: int, source: str) -> Record:
    return {
        # a trial number is unique only within its (length, depth) configuration: the id names both
        "id": f"msa-l{length}-d{''.join(str(d) for d in depth)}-{source}",
        "question": f"{expr} =",
        "answer": evaluate(expr),
        "bucket": bucket_of(length, depth),
        "seen": (length, tuple(depth)) in SEEN_CONFIGS,
        "meta": {"depth_levels": depth, "length": length},
    }


def _check_partition(line: str, expr: str) -> tuple[str, str] | None:
    inner = expr[1:-1]
    skeleton = re.search(r'can be written as "(.*)",', line)
    groups = _letters_to_groups(line)
    value = None
    if skeleton is not None and len(groups) >= 2:
        substituted = re.sub(r"[A-Z]", lambda m: groups.get(m.group(0), m.group(0)), skeleton.group(1))
        value = _try_value(substituted)
    if value is None or value != evaluate(expr):
        return line[4:], f"it is not consistent with the original equation: {inner}"
    return None


def _check_chain(pieces: list[str]) -> tuple[str, str] | None:
    pieces = [p for p in pieces if not re.search(r"[A-Z]", p)]
    for lhs, rhs in zip(pieces, pieces[1:]):
        for side in (lhs, rhs):
            if _try_value(side) is None:
                reason = "it is an invalid equation"
                if side.count("(") != side.count(")"):
                    reason += " as the number of left and right brackets do not match"
                return side, reason
        if evaluate(lhs) != evaluate(rhs):
            return f"{lhs} = {rhs}", f"there is an calculation error, since {lhs} is not equal to {rhs}"
    return None


def _check_combine(line: str, earlier: list[str], target: int) -> tuple[str, str] | None:
    pieces = _chain_pieces(line, "final equation is ")
    if len(pieces) < 2 or not re.search(r"[A-Z]", pieces[0]):
        raise ValueError(f"no combination in: {line!r}")
    skeleton, first = pieces[0], pieces[1]
    values: dict[str, str] = {}
    for letter in sorted(set(re.findall(r"[A-Z]", skeleton))):
        calculated = [e for e in earlier if f"calculate {letter} = " in e]
        if not calculated:
            return skeleton, f"{letter} has not been calculated in previous steps"
        values[letter] = _chain_pieces(calculated[-1], f"calculate {letter} = ")[-1]
    substituted = _try_value(re.sub(r"[A-Z]", lambda m: values[m.group(0)], skeleton))
    first_value = _try_value(first)
    if substituted is None or substituted != first_value:
        return (
            f"{skeleton} = {first}",
            "this substitution is incosistent with the results in the previous steps",
        )
    if first_value != target:
        return skeleton, "this equation is inconsistent with the question statement"
    return _check_chain(pieces)
