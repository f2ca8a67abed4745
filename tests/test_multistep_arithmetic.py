"""Multistep arithmetic: generator, splits, rationale fidelity and the scripted verifier."""

from __future__ import annotations

import random
import re

import numpy as np
import pytest

from tripost.tasks.arithmetic_expr import LegacyChoice, evaluate, fully_parenthesise, reduction_chain
from tripost.tasks.multistep_arithmetic import MultistepArithmetic

from conftest import MSA_SPLIT_CFG, check_planted_errors, published

TASK = MultistepArithmetic()


@pytest.fixture(scope="module")
def splits():
    return TASK.make_splits(MSA_SPLIT_CFG, {})


def test_split_sizes_and_buckets(splits):
    assert len(splits["train"]) == 550 and len(splits["val"]) == 50 and len(splits["test"]) == 360
    counts = {}
    for r in splits["test"]:
        counts[r["bucket"]] = counts.get(r["bucket"], 0) + 1
    assert counts == {"l3-4d2": 60, "l3-4d22": 60, "l3-4d222": 60, "l5-6d2": 60, "l5-6d22": 60, "l5-6d222": 60}
    assert sum(r["seen"] for r in splits["test"]) == 120
    assert all(r["seen"] and r["bucket"] in TASK.seen_buckets for r in splits["train"] + splits["extra_train"])


def test_splits_are_disjoint_and_deterministic(splits):
    again = TASK.make_splits(MSA_SPLIT_CFG, {})
    assert [r["question"] for r in again["test"]] == [r["question"] for r in splits["test"]]
    assert [r["id"] for r in again["val"]] == [r["id"] for r in splits["val"]]
    test = {r["question"] for r in splits["test"]}
    for name in ("train", "val", "extra_train"):
        assert not test & {r["question"] for r in splits[name]}
    other = TASK.make_splits(dict(MSA_SPLIT_CFG, split_seed=1, extra_seed=7), {})
    assert {r["id"] for r in other["val"]} != {r["id"] for r in splits["val"]}
    assert [r["question"] for r in other["extra_train"]] != [r["question"] for r in splits["extra_train"]]


def test_generator_shape(splits):
    for r in splits["test"]:
        expr = r["question"][:-2]
        groups = re.findall(r"\(([^()]*)\)", expr)
        assert len(groups) == 2 ** len(r["meta"]["depth_levels"])
        assert all(len(g.split(" ")) == 2 * r["meta"]["length"] - 1 for g in groups)
        assert all(int(n) in range(-9, 10) for g in groups for n in g.split(" ")[0::2])
        assert r["answer"] == evaluate(expr)


def test_paper_pool_reproduced_exactly(splits):
    rows = published("raw/multistep_arithmetic_scripted_rationales.jsonl")
    ours_test = {r["question"] for r in splits["test"]}
    ours_pool = {r["question"] for r in splits["train"] + splits["val"]}
    for row in rows:
        question = row["question"][3:].strip()
        assert question in (ours_test if row["meta_data"]["new_split"] == "validation" else ours_pool)


def test_rationales_byte_identical_to_published():
    rows = published("raw/multistep_arithmetic_scripted_rationales.jsonl")
    matches = sum(TASK.solve({"question": r["question"][3:].strip()}) == r["rationale"] for r in rows)
    assert matches == len(rows) == 960


def test_reduction_rounds():
    assert fully_parenthesise("(1 - -7 + -3 * 2)") == "((1 - -7) + (-3 * 2))"
    assert reduction_chain("((1 - -7) + (-3 * 2))") == ["((1 - -7) + (-3 * 2))", "(8 + (-3 * 2))", "(8 + -6)", "2"]


def test_verifier_accepts_gold(splits):
    for r in splits["test"][::7] + splits["train"][::11]:
        assert TASK.first_error(r, TASK.solve(r)) is None


def _planted(record, position: int, rng: random.Random):
    """Corrupt line ``position`` of the gold rationale; return (attempt, expected feedback)."""
    lines = TASK.solve(record).split("\n")
    previous = None if position == 0 else re.match(r"\((\d+)\)", lines[position - 1]).group(1)
    head = "" if previous is None else ("Step (1) is correct. " if previous == "1"
                                        else f"Step (1) to ({previous}) are correct. ")
    line = lines[position]
    if position == len(lines) - 1:
        value = int(re.search(r"is (-?\d+)\.$", line).group(1)) + rng.choice([-3, 1, 2])
        lines[position] = f"(Final response) So the answer is {value}."
        part = f"the answer is {value}."
        reason = f"this answer is inconsistent with the result in step ({previous})"
        step = "Final response"
    elif position == 0:
        expr = record["question"][:-2]
        first = re.search(r"A = \(([^)]*)\)", line).group(1)
        tokens = first.split(" ")
        for delta in (1, 2, 3, 5):
            changed = " ".join([str(int(tokens[0]) + delta)] + tokens[1:])
            candidate = line.replace(f"A = ({first})", f"A = ({changed})", 1)
            skeleton = re.search(r'"(.*)"', candidate).group(1)
            groups = dict(re.findall(r"([A-Z]) = (\([^a-zA-Z]+?\))(?:,| and|\.$)", candidate))
            if evaluate(re.sub(r"[A-Z]", lambda m, groups=groups: groups[m.group(0)], skeleton)) != evaluate(expr):
                break
        else:
            return None
        lines[0] = candidate
        part = candidate[4:]
        reason = f"it is not consistent with the original equation: {expr[1:-1]}"
        step = "1"
    else:
        chain = line[:-1].split(" = ")
        wrong = str(int(chain[-1]) + rng.choice([-2, 1, 3]))
        lines[position] = " = ".join(chain[:-1] + [wrong]) + "."
        part = f"{chain[-2]} = {wrong}"
        reason = f"there is an calculation error, since {chain[-2]} is not equal to {wrong}"
        step = str(position + 1)
    expected = f'{head}In step ({step}) the part " {part} " is incorrect. This is because {reason}.'
    return "\n".join(lines), expected


def test_planted_error_found_at_every_position(splits):
    rng = random.Random(0)
    records = splits["train"][:60] + splits["test"][::9]
    checked, _ = check_planted_errors(TASK, records, lambda record, position: _planted(record, position, rng))
    assert checked > 400


def test_verifier_reports_unreadable_attempts():
    record = {"question": "((1 + 2 + 3) - (4 * 5 - 6)) =", "answer": -8}
    with pytest.raises(ValueError):
        TASK.first_error(record, "(1) This equation\nno final line")
    with pytest.raises(ValueError):
        TASK.first_error(record, "garbage line\n(Final response) So the answer is 3.")


@pytest.mark.parametrize("text,expected", [
    ("(2) x\n(Final response) So the answer is -12.", -12),
    ("(Final response) So the answer is 7.\nFeedback: Step (1) to step (2) are correct.", 7),
    ("(Final response) So the answer is seven.", None),
    ("", None),
])
def test_answer_parser(text, expected):
    assert TASK.parse_answer(text) == expected


@pytest.mark.parametrize("seed", [0, 42, 1234])
def test_legacy_choice_draws_what_numpy_draws(seed):
    """The fast generator behind the splits: the same choices as RandomState.choice, in order,
    whatever the number of options (1, powers of two, and in between, interleaved)."""
    pick = random.Random(seed)
    option_lists = [[str(i) for i in range(pick.choice([1, 2, 3, 4, 5, 8, 16, 19, 31, 33]))] for _ in range(20000)]
    numpy_rng, fast = np.random.RandomState(seed), LegacyChoice(seed)
    assert [fast.chooser(o)() for o in option_lists] == [numpy_rng.choice(o) for o in option_lists]
