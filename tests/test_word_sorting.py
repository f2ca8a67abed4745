"""Word sorting: BIG-Bench-style splits, rationale fidelity and the scripted verifier."""

from __future__ import annotations

import random
import re

import pytest

from tripost.formats import scripted_error_feedback
from tripost.tasks.word_sorting import ORDINALS, WordSorting, _record, has_prefix_pair, synthetic_word_sorting

from conftest import WS_SPLIT_CFG, check_planted_errors, published

TASK = WordSorting()
FILE = TASK.bigbench_files[0]


@pytest.fixture(scope="module")
def examples():
    return synthetic_word_sorting(600, seed=3)["examples"]


@pytest.fixture(scope="module")
def splits(examples):
    return TASK.make_splits(WS_SPLIT_CFG, {FILE: examples})


def test_bigbench_split_rule(examples, splits):
    # 20% of the shuffled examples are the test split, minus lists the original solver drops
    n_test_all = int(0.2 * len(examples))
    usable = [e for e in examples if not has_prefix_pair(e["input"].split())]
    assert 0 < len(splits["test"]) <= n_test_all
    assert len(splits["test"]) + sum(
        1 for e in usable if len(e["input"].split()) <= 7
    ) >= len(splits["train"]) + len(splits["val"])
    assert all(not has_prefix_pair(r["meta"]["words"]) for part in splits.values() for r in part)
    assert len(splits["val"]) == 10
    assert all(len(r["meta"]["words"]) <= 7 for r in splits["train"] + splits["val"] + splits["extra_train"])


def test_buckets_and_seen(splits):
    for r in splits["test"]:
        n = len(r["meta"]["words"])
        expected = "2-3" if n <= 3 else "4-7" if n <= 7 else "8-10" if n <= 10 else "11-15" if n <= 15 else "15+"
        assert r["bucket"] == expected and r["seen"] == (n <= 7)


def test_splits_deterministic(examples, splits):
    again = TASK.make_splits(WS_SPLIT_CFG, {FILE: examples})
    assert [r["id"] for r in again["val"]] == [r["id"] for r in splits["val"]]
    assert [r["question"] for r in again["extra_train"]] == [r["question"] for r in splits["extra_train"]]
    tests = {tuple(r["meta"]["words"]) for r in splits["test"]}
    assert not tests & {tuple(r["meta"]["words"]) for r in splits["extra_train"]}


def test_rationales_match_published_except_fixed_step_ids():
    rows = published("raw/word_sorting_scripted_rationales.jsonl")
    identical, renumbered = 0, 0
    for row in rows:
        ours = TASK.solve(_record(row["question"].split("List: ")[1].split(), "x"))
        if ours == row["rationale"]:
            identical += 1
            continue
        # the original's [BUG]: duplicated sub-step ids; everything but the ids must agree
        ids = re.findall(r"^\(([\d.]+)\)", row["rationale"], re.M)
        assert len(ids) != len(set(ids))
        strip = lambda text: re.sub(r"^\([\d.]+\)", "", text, flags=re.M)  # noqa: E731
        assert strip(ours) == strip(row["rationale"])
        renumbered += 1
    assert identical == 1854 and renumbered == 26


def test_nested_and_inline_subparts():
    text = TASK.solve(_record(["backyard", "bunyan", "backside", "conch"], "x"))
    assert '(3) Now sort this subpart ["backyard" ? "bunyan" ? "backside"] by looking at their second letters' in text
    assert '(3.2) Now sort this subpart ["backyard" ? "backside"] by looking at their third letters' in text
    # all tied on the third letter: the fourth letter follows at the same level
    assert '(3.2.2) Now sort this subpart ["backyard" ? "backside"] by looking at their fourth letters' in text
    assert text.endswith("So the answer is: backside backyard bunyan conch.")
    ids = re.findall(r"^\(([\d.]+)\)", text, re.M)
    assert len(ids) == len(set(ids))


def test_verifier_accepts_gold(splits):
    for r in splits["test"] + splits["train"][:100]:
        assert TASK.first_error(r, TASK.solve(r)) is None


def _planted(record, position: int, rng: random.Random):
    """Corrupt line ``position``; return (attempt, expected feedback) or None when not applicable."""
    lines = TASK.solve(record).split("\n")
    ids = [re.match(r"\(([\d.]+)\)", line).group(1) for line in lines[:-1]]
    step = ids[position] if position < len(ids) else "Final response"
    previous = None if position == 0 else ids[position - 1]
    head = "" if previous is None else ("Step (1) is correct. " if previous == "1"
                                        else f"Step (1) to ({previous}) are correct. ")
    line = lines[position]
    body = line.split(") ", 1)[1] if position < len(ids) else line
    if position == len(lines) - 1:
        words = line.split("answer is: ")[1][:-1].split()
        if len(words) < 2:
            return None
        i = rng.randrange(len(words) - 1)
        swapped = words[:i] + [words[i + 1], words[i]] + words[i + 2:]
        lines[position] = "(Final response) So the answer is: " + " ".join(swapped) + "."
        part, reason = " ".join(swapped), f"in step ({previous}) it is established that: {' < '.join(words)}"
    elif body.startswith("The first letter") or body.startswith("Now sort this subpart"):
        pairs = re.findall(r'"([^"]*)"="([^"]*)" \((-?\d+)\)', body)
        word, char, number = pairs[rng.randrange(len(pairs))]
        wrong = str(int(number) + 1)
        segment = f'"{word}"="{char}" ({number})'
        lines[position] = line.replace(segment, f'"{word}"="{char}" ({wrong})')
        part, reason = (f'"{word}"="{char}" ({wrong})',
                        f'the alphabetical order for the character "{char}" should be {number}')
    elif body.startswith("We now have"):
        listing = body[len("We now have: "):-1]
        groups = listing.split(" < ")
        if len(groups) < 2:
            return None
        swapped = [groups[1], groups[0]] + groups[2:]
        lines[position] = line.replace(listing, " < ".join(swapped))
        a, b = re.match(r"\((-?\d+)\)", groups[1]).group(1), re.match(r"\((-?\d+)\)", groups[0]).group(1)
        part = " < ".join(swapped)
        reason = (f"words are not sorted in ascending order. Using results from step ({previous}), "
                  f"those words with ({a}) should come after words with ({b})")
    else:
        return None  # "Hence" lines: see test_hence_order_violation
    return "\n".join(lines), f'{head}In step ({step}) the part " {part} " is incorrect. This is because {reason}.'


def test_planted_error_found_at_every_position(splits):
    rng = random.Random(0)
    records = splits["train"] + splits["test"]
    checked, positions = check_planted_errors(TASK, records, lambda record, position: _planted(record, position, rng))
    assert checked > 500 and len(positions) >= 6


def test_hence_order_violation():
    record = _record(["cosh", "inferno", "every"], "x")
    attempt = TASK.solve(record).replace('(3) Hence, we have "cosh" < "every" < "inferno".',
                                         '(3) Hence, we have "cosh" < "inferno" < "every".')
    error = TASK.first_error(record, attempt)
    assert scripted_error_feedback(error) == (
        'Step (1) to (2) are correct. In step (3) the part " "cosh" < "inferno" < "every" " is incorrect. '
        'This is because the order of "every" and "inferno" is inconsistent with the result in step (2) '
        'that: "every" < "inferno".'
    )


def test_wrong_letter_in_subpart():
    record = _record(["cosh", "coterie", "every"], "x")
    attempt = TASK.solve(record).replace('"coterie"="t" (20)', '"coterie"="c" (3)')
    error = TASK.first_error(record, attempt)
    assert error.step == "3.2" and error.reason == 'the third letter of "coterie" should be "t"'
    assert ORDINALS[2] == "third"


@pytest.mark.parametrize("text,expected", [
    ("(Final response) So the answer is: a b c.", ["a", "b", "c"]),
    ("(Final response) So the answer is: a b.\nFeedback: Step (1) to step (3) are correct.", ["a", "b"]),
    ("(Final response) So the answer is a b", None),
])
def test_answer_parser(text, expected):
    assert TASK.parse_answer(text) == expected


def test_real_bigbench_split_matches_published(tmp_path):
    """With the real BIG-Bench file cached (after `make run`), the splits are the paper's."""
    from tripost.bigbench import load_examples

    from conftest import REPO

    source = REPO / ".cache" / "bigbench" / "word_sorting" / "task.json"
    if not source.exists():
        import pytest

        pytest.skip("bigbench==1.0.0 task file not in .cache/bigbench (`make fetch` writes it)")
    published_test = {r["question"][3:] for r in published("raw/word_sorting_scripted_rationales.jsonl")
                      if r["meta_data"]["new_split"] == "validation"}
    pool = {r["meta_data"]["question"]
            for r in published("training/word_sorting/word_sorting_baseline_rationale_1-7.jsonl")}
    pool |= {r["meta_data"]["question"]
             for r in published("validation/word_sorting/word_sorting_baseline_rationale_1-7_val.jsonl")}
    splits = TASK.make_splits(dict(WS_SPLIT_CFG, n_val=40), {FILE: load_examples(source)})
    assert {r["question"] for r in splits["test"]} == published_test
    assert {r["question"] for r in splits["train"] + splits["val"]} == pool
    assert len(splits["train"]) == 433 and len(splits["val"]) == 40 and len(splits["test"]) == 379
