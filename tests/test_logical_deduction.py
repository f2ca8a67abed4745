"""Logical deduction: the puzzle reader and solver, the scripted rationale and its verifier, the
splits, and agreement with the published questions."""

from __future__ import annotations

import json
import re

import pytest

from tripost.formats import parse_feedback, scripted_error_feedback
from tripost.tasks.logical_deduction import LETTERS, LogicalDeduction, _record
from tripost.tasks.logical_deduction_puzzle import SIZE_WORDS, read_puzzle, read_statement, solutions

from conftest import REPO, published

TASK = LogicalDeduction()


def by_file(examples: dict[int, list[dict]]) -> dict[str, list[dict]]:
    """The 3-, 5- and 7-object examples by the BIG-Bench file they come from."""
    return dict(zip(TASK.bigbench_files, (examples[3], examples[5], examples[7])))
CACHE = REPO / ".cache" / "bigbench" / "logical_deduction"


def _example(paragraph: str, options: list[str], answer: int) -> dict:
    return {"input": paragraph, "target_scores": {o: int(i == answer) for i, o in enumerate(options)}}


# One BIG-Bench puzzle of each setting (copied from the task files), with its labelled option.
HAND = {
    3: [_example("On a shelf, there are three books: a black book, an orange book, and a blue book. The blue book "
                 "is to the right of the orange book. The orange book is to the right of the black book.",
                 ["The black book is the leftmost.", "The orange book is the leftmost.",
                  "The blue book is the leftmost."], 0),
        _example("In an antique car show, there are three vehicles: a motorcycle, a bus, and a tractor. The "
                 "motorcycle is the oldest. The bus is newer than the tractor.",
                 ["The motorcycle is the newest.", "The bus is the newest.", "The tractor is the newest."], 1)],
    5: [_example("A fruit stand sells five fruits: pears, mangoes, kiwis, oranges, and peaches. The peaches are "
                 "more expensive than the mangoes. The oranges are more expensive than the kiwis. The pears are "
                 "the most expensive. The mangoes are more expensive than the oranges.",
                 [f"The {f} are the second-most expensive."
                  for f in ("pears", "mangoes", "kiwis", "oranges", "peaches")], 4),
        _example("In a golf tournament, there were five golfers: Rob, Amy, Joe, Eve, and Dan. Rob finished below "
                 "Dan. Joe finished second. Joe finished above Eve. Eve finished above Dan.",
                 [f"{g} finished last." for g in ("Rob", "Amy", "Joe", "Eve", "Dan")], 0)],
    7: [_example("On a branch, there are seven birds: a hawk, a hummingbird, a quail, an owl, a crow, a robin, and "
                 "a cardinal. The cardinal is the second from the right. The hawk is the rightmost. The owl is to "
                 "the left of the hummingbird. The robin is to the left of the quail. The owl is to the right of "
                 "the crow. The robin is the fourth from the left.",
                 [f"The {b} is the third from the right." for b in
                  ("hawk", "hummingbird", "quail", "owl", "crow", "robin", "cardinal")], 2)],
}


def _bigbench() -> dict[int, list[dict]]:
    if not CACHE.exists():
        pytest.skip(f"BIG-Bench task files not fetched ({CACHE})")
    return {n: json.loads((CACHE / f"{w}_objects" / "task.json").read_text())["examples"]
            for n, w in SIZE_WORDS.items()}


def _records(examples: dict[int, list[dict]]) -> list[dict]:
    return [_record(e, n, i) for n, group in examples.items() for i, e in enumerate(group)]


def _check_solver(records: list[dict]) -> None:
    for record in records:
        puzzle = read_puzzle(record["meta"]["paragraph"])
        found = solutions(puzzle, limit=2)
        assert len(found) == 1, record["id"]  # exactly one consistent ordering
        options = [read_statement(o, puzzle.domain, puzzle.objects) for o in record["meta"]["options"]]
        true = [LETTERS[i] for i, o in enumerate(options) if found[0].index(o.a) + 1 == o.position]
        assert true == [record["answer"]], record["id"]


def test_solver_on_hand_copied_puzzles():
    _check_solver(_records(HAND))
    puzzle = read_puzzle(HAND[5][1]["input"])
    assert solutions(puzzle)[0] == ("Amy", "Joe", "Eve", "Dan", "Rob")


def test_solver_finds_the_labelled_answer_of_every_bigbench_puzzle():
    records = _records(_bigbench())
    assert len(records) == 1500
    _check_solver(records)


def test_statement_reader_rejects_what_it_does_not_know():
    puzzle = read_puzzle(HAND[3][0]["input"])
    with pytest.raises(ValueError):
        read_statement("The black book is blue.", puzzle.domain, puzzle.objects)
    with pytest.raises(ValueError):
        read_statement("The green book is the leftmost.", puzzle.domain, puzzle.objects)  # not in the puzzle


def test_gold_rationale_layout():
    record = _records(HAND)[0]
    assert TASK.prompt(record) == (
        "Q: The following paragraphs each describe a set of three objects arranged in a fixed order. The statements "
        "are logically consistent within each paragraph. " + HAND[3][0]["input"] + "\nOptions:\n"
        "(A) The black book is the leftmost.\n(B) The orange book is the leftmost.\n"
        "(C) The blue book is the leftmost.\n"
        "Answer: Let's think step by step. "
        "Let \"??\" represents 0 or more objects, and \"?\" represents exactly 1 object.")
    assert TASK.solve(record) == "\n".join([
        '(1) The blue book is to the right of the orange book: "(left) ?? orange book ?? blue book ?? (right)".',
        '(2) The orange book is to the right of the black book: "(left) ?? black book ?? orange book ?? (right)".',
        "(3) There are in total three books: a black book, an orange book, and a blue book.",
        "(4) Position 1 from the left: black book.",
        "(5) Position 2 from the left: orange book.",
        "(6) Position 3 from the left: blue book.",
        '(7) So the ordering is "(left) black book orange book blue book (right)".',
        "(Final response) The black book is the leftmost. So the answer is (A).",
    ])
    birds = _records(HAND)[-1]
    lines = TASK.solve(birds).split("\n")
    assert lines[0] == '(1) The cardinal is the second from the right: "(left) ?? cardinal ? (right)".'
    assert lines[5] == '(6) The robin is the fourth from the left: "(left) ? ? ? robin ?? (right)".'


def _plant(record: dict, position: int) -> tuple[str, str] | None:
    """A wrong line at ``position`` of the gold rationale, and the part the verifier must quote."""
    lines = TASK.solve(record).split("\n")
    puzzle = read_puzzle(record["meta"]["paragraph"])
    n_statements = len(puzzle.statements)
    line = lines[position]
    step, body = line.split(" ", 1) if not line.startswith("(Final") else ("(Final response)", line[17:])
    if position < n_statements:  # the notation loses one "?" of its first "??"
        wrong = body.replace("??", "?", 1) if "??" in body else body.replace('"(', '"(?? ', 1)
    elif position == n_statements:  # an object missing from the count
        wrong = body.rsplit(", and ", 1)[0] + "."
    elif position <= n_statements + puzzle.n:  # another object placed here
        name = body.split(": ", 1)[1][:-1]
        other = next(o for o in reversed(puzzle.objects) if o != name)
        wrong = body.replace(f": {name}.", f": {other}.")
    elif step != "(Final response)":  # the last two objects of the ordering swapped
        order = solutions(puzzle)[0]
        wrong = body.replace(f"{order[-2]} {order[-1]}", f"{order[-1]} {order[-2]}")
    else:  # another letter
        other = next(letter for letter in LETTERS[: len(record["meta"]["options"])] if letter != record["answer"])
        wrong = body.replace(f"({record['answer']})", f"({other})")
    assert wrong != body
    lines[position] = f"{step} {wrong}"
    return "\n".join(lines), wrong.removesuffix(".")


def _check_planted(records: list[dict]) -> int:
    checked = 0
    for record in records:
        n_lines = len(TASK.solve(record).split("\n"))
        for position in range(n_lines):
            attempt, part = _plant(record, position)
            error = TASK.first_error(record, attempt)
            step = "Final response" if position == n_lines - 1 else str(position + 1)
            assert error is not None and error.step == step and error.part == part, (attempt, error)
            assert error.previous == (None if position == 0 else str(position))
            parsed = parse_feedback(scripted_error_feedback(error))
            assert parsed is not None and parsed.step == step and parsed.part == part
            checked += 1
    return checked


def test_verifier_finds_a_planted_error_at_every_step_of_hand_copied_puzzles():
    assert _check_planted(_records(HAND)) == sum(len(TASK.solve(r).split("\n")) for r in _records(HAND))


def test_verifier_finds_a_planted_error_at_every_step_of_bigbench_puzzles():
    records = _records(_bigbench())[::15]
    assert _check_planted(records) > 1000


def test_verifier_reasons_name_the_statement_that_is_broken():
    record = _records(HAND)[0]
    lines = TASK.solve(record).split("\n")
    wrong = lines.copy()
    wrong[3] = "(4) Position 1 from the left: orange book."
    error = TASK.first_error(record, "\n".join(wrong))
    assert scripted_error_feedback(error) == (
        'Step (1) to (3) are correct. In step (4) the part " Position 1 from the left: orange book " is incorrect. '
        "This is because according to step (2), the orange book is to the right of the black book, so the black "
        "book comes before the orange book.")
    wrong = lines.copy()
    wrong[0] = '(1) The blue book is to the right of the orange book: "(left) ?? blue book ?? orange book ?? (right)".'
    error = TASK.first_error(record, "\n".join(wrong))
    assert error.step == "1" and error.previous is None
    assert error.reason == ('"The blue book is to the right of the orange book" means '
                            '"(left) ?? orange book ?? blue book ?? (right)"')
    golf = _records(HAND)[3]
    wrong = TASK.solve(golf).split("\n")
    wrong[5] = "(6) Position 1 from the first: Joe."  # Joe finished second (step 2)
    assert TASK.first_error(golf, "\n".join(wrong)).reason == "according to step (2), Joe is at position 2"


def test_verifier_reports_unreadable_attempts():
    record = _records(HAND)[0]
    with pytest.raises(ValueError):
        TASK.first_error(record, "(1) The blue book is to the right of the orange book.")  # no final response
    with pytest.raises(ValueError):
        TASK.first_error(record, "(1) x\n(3) y\n(Final response) So the answer is (A).")  # steps out of sequence


@pytest.mark.parametrize("text,expected", [
    ("(7) So the ordering is ...\n(Final response) The black book is the leftmost. So the answer is (A).", "A"),
    ("(Final response) The pears are the cheapest. So The answer is (C).", "C"),  # the original's capital T
    ("(Final response) So the answer is C.", None),
    ("", None),
])
def test_answer_parser(text, expected):
    assert TASK.parse_answer(text) == expected


def test_valid_content_asks_the_final_response_to_state_its_option():
    record = _records(HAND)[0]
    gold = TASK.solve(record)
    assert TASK.has_valid_content(record, gold)
    assert not TASK.has_valid_content(record, gold.replace("The black book is the leftmost.",
                                                           "The blue book is the leftmost."))


def test_splits_are_the_papers_training_puzzles_and_the_rest_is_test():
    examples = _bigbench()
    cfg = {"extra_seed": 1, "n_extra_train": 60}
    splits = TASK.make_splits(cfg, by_file(examples))
    assert len(splits["train"]) == 360 and len(splits["val"]) == 40 and len(splits["test"]) == 1500 - 400
    assert sum(r["bucket"] == "3" for r in splits["train"]) == 183  # method §1.3: 183 three-, 177 five-object
    assert sum(r["bucket"] == "3" for r in splits["val"]) == 20
    assert all(r["seen"] and r["bucket"] in ("3", "5") for r in splits["train"] + splits["val"] + splits["extra_train"])
    assert sum(not r["seen"] for r in splits["test"]) == 700
    questions = {split: {(r["question"], tuple(r["meta"]["options"])) for r in rows} for split, rows in splits.items()}
    assert not questions["test"] & (questions["train"] | questions["val"] | questions["extra_train"])
    assert len(questions["extra_train"]) == 60
    again = TASK.make_splits(cfg, by_file(examples))
    assert [r["question"] for r in again["extra_train"]] == [r["question"] for r in splits["extra_train"]]
    for record in splits["extra_train"]:  # generated puzzles: one ordering, solvable by the rationale
        assert TASK.first_error(record, TASK.solve(record)) is None


def test_training_puzzles_are_the_published_ones():
    rows = (published("training/logical_deduction/logical_deduction_baseline_rationale_3-5.jsonl")
            + published("validation/logical_deduction/logical_deduction_baseline_rationale_3-5_val.jsonl"))
    examples = _bigbench()
    splits = TASK.make_splits({"extra_seed": 1, "n_extra_train": 0}, by_file(examples))
    ours = [TASK.prompt(r) for r in splits["train"] + splits["val"]]
    assert ours == [re.split(r"(?<=exactly 1 object\.)\n", row["text"], maxsplit=1)[0] for row in rows]


def test_prompts_agree_with_the_published_questions():
    """Every published question is a BIG-Bench puzzle: our prompt is the published text's prompt,
    options in the same order ("motorcyle" respelled as the published data has it)."""
    rows = (published("training/logical_deduction/logical_deduction_baseline_rationale_3-5.jsonl")
            + published("validation/logical_deduction/logical_deduction_baseline_rationale_3-5_val.jsonl"))
    ours = {TASK.prompt(r) for r in _records(_bigbench())}
    prompts = [re.split(r"(?<=exactly 1 object\.)\n", row["text"], maxsplit=1)[0] for row in rows]
    agree = sum(p in ours for p in prompts)
    assert len(rows) == 400 and agree == 400
