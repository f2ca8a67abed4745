"""Date understanding: the paper's questions rebuilt from bigbench==1.0.0 (compared with the
published files when present)."""

from __future__ import annotations

import json

import pytest

from tripost.tasks.date_understanding_data import LETTERS, hf_split, paper_records

from conftest import REPO, published

TASK_FILE = REPO / ".cache" / "bigbench" / "date_understanding" / "task.json"


def _examples() -> list[dict]:
    if not TASK_FILE.exists():
        pytest.skip(f"BIG-Bench task file not fetched ({TASK_FILE})")
    return json.loads(TASK_FILE.read_text())["examples"]


def _formatted(record: dict) -> str:
    return "\n".join(f"({LETTERS[i]}) {o}" for i, o in enumerate(record["meta"]["options"]))


def test_hf_split_sizes():
    split = hf_split(_examples())
    assert len(split["train"]) == 296 and len(split["validation"]) == 73  # method §1.3: idx 0-295, 0-72
    assert sorted(split["train"] + split["validation"]) == list(range(369))


def test_paper_records_sizes_buckets_and_answers():
    records = paper_records(_examples())
    assert [len(records[s]) for s in ("train", "val", "test")] == [191, 20, 77]
    assert sum(r["seen"] for r in records["test"]) == 55  # "1-2" seen, "3+" unseen
    for record in records["train"] + records["val"] + records["test"]:
        assert record["meta"]["options"][LETTERS.index(record["answer"])] == record["meta"]["target"]
    assert len({r["id"] for s in records.values() for r in s}) == 288


def test_questions_and_option_order_agree_with_the_published_data():
    records = paper_records(_examples())
    raw = {(r["meta_data"]["split"], r["meta_data"]["idx"]): r
           for r in published("raw/date_understanding_codex_rationales_cleaned.jsonl")}
    agree = 0
    for record in records["train"] + records["val"] + records["test"]:
        name, index = record["id"].split("-")[1:]
        row = raw[(name, int(index))]
        same = row["question"] == f"Q: {record['question']}" and row["formatted_choices"] == _formatted(record)
        agree += same
        if same:
            assert row["correct_choice"] == record["answer"]
        else:  # two contexts where HF's copy corrects bigbench==1.0.0: "Thanksgiving of 2002" (1.0.0:
            # 2001, with 2002 dates), and the 5-year-anniversary options (1.0.0: dates of 1960)
            assert "Thanksgiving" in record["question"] or "5-year anniversary" in record["question"]
    assert agree == 279  # of 288


# ---- the scripted expert: solver, rationale, verifier, generator ------------------------------
import random  # noqa: E402

from tripost.formats import scripted_error_feedback  # noqa: E402
from tripost.tasks.date_understanding import (  # noqa: E402
    QUESTIONS,
    DateUnderstanding,
    _extra_questions,
    gold_steps,
    split_question,
)
from tripost.tasks.date_understanding_contexts import FORMS, generate_context, mdy, read_context  # noqa: E402

TASK = DateUnderstanding()
# BIG-Bench labels the calendar disagrees with (docs/deviations.md): 36 hours before 01/01/2015 is
# 12/30/2014 (label: 12/29); the fourth Thursday of November 2001 is 11/22/2001 (labels: 2002 dates);
# a 5-year anniversary of 01/02/1958 is 01/02/1963 (labels: 1961); 01/31/2012 + 7 days is 02/07/2012.
MISLABELLED = {
    "2015 is coming in 36 hours.": 9,
    "In the US, Thanksgiving is on the fourth Thursday of November. Today is the US Thanksgiving of 2001.": 9,
    "Jane and John married on Jan 2, 1958. It is their 5-year anniversary today.": 9,
    "Jane is celebrating the last day of Jan 2012.": 1,
}


def _label(example: dict) -> str:
    return next(option for option, score in example["target_scores"].items() if score == 1)


def test_the_solver_gives_the_labelled_date_of_every_question_but_the_mislabelled_ones():
    examples = _examples()
    disagree: dict[str, int] = {}
    for example in examples:
        day = mdy(gold_steps(example["input"].strip())[-1].day)
        assert day in example["target_scores"] or split_question(example["input"].strip())[0] in MISLABELLED
        if day != _label(example):
            context = split_question(example["input"].strip())[0]
            disagree[context] = disagree.get(context, 0) + 1
    assert disagree == MISLABELLED
    assert len(examples) - sum(disagree.values()) == 341


def test_every_bigbench_context_is_read_and_every_form_is_used():
    contexts = {split_question(e["input"].strip())[0] for e in _examples()}
    assert len(contexts) == 41
    used = {FORMS.index(read_context(c)[0]) for c in contexts}
    assert used == set(range(len(FORMS)))
    for context in contexts:
        form, values = read_context(context)
        assert form.write(values) == context


def test_generated_contexts_read_back_to_the_same_values():
    rng = random.Random(3)
    forms = set()
    for _ in range(2000):
        context = generate_context(rng)
        form, values = read_context(context)
        assert form.write(values) == context
        forms.add(form.template)
    assert len(forms) == len(FORMS)


def test_rationale_of_the_spec_question():
    record = {"id": "x", "question": "Tomorrow is 11/12/2019. What is the date one year ago from today in MM/DD/YYYY?",
              "answer": "B",
              "meta": {"options": ["09/04/2018", "11/11/2018", "08/25/2018", "11/02/2018", "11/04/2018"]}}
    assert TASK.solve(record) == ("(1) Tomorrow is 11/12/2019, so today is 11/11/2019.\n"
                                  "(2) The date one year ago from today is 11/11/2018.\n"
                                  "(Final response) 11/11/2018 is option (B). So the answer is (B).")
    wrong = ("(1) Tomorrow is 11/12/2019, so today is 11/12/2019.\n"
             "(2) The date one year ago from today is 11/12/2018.\n(Final response) So the answer is (D).")
    error = TASK.first_error(record, wrong)
    assert scripted_error_feedback(error) == ('In step (1) the part " today is 11/12/2019 " is incorrect. '
                                              "This is because the day before 11/12/2019 is 11/11/2019.")
    assert TASK.has_valid_content(record, TASK.solve(record)) and not TASK.has_valid_content(record, wrong)


def test_valid_content_reads_dates_in_any_format():
    from tripost.tasks.date_understanding import mentions_date

    assert mentions_date("(2) One week from today is April 7, 2008, that is 04/07/2008.", "04/07/2008")
    assert mentions_date("(2) One week from today is April 7, 2008.", "04/07/2008")
    assert mentions_date("(1) If today is 8/3/1997, then one week from today is 8/10/1997.", "08/10/1997")
    assert not mentions_date("(2) One week from today is April 8, 2008.", "04/07/2008")
    assert not mentions_date("(2) The date is 7.", "04/07/2008")


def _records() -> list[dict]:
    """Every correctly labelled BIG-Bench question, and generated ones of up to three steps."""
    examples = _examples()
    records = [r for split in paper_records(examples).values() for r in split]
    records = [r for r in records if split_question(r["question"])[0] not in MISLABELLED]
    return records + _extra_questions({"extra_seed": 5, "n_extra_train": 300}, examples)


def test_planted_errors_are_found_at_every_step():
    planted = 0
    for record in _records():
        gold = TASK.solve(record).split("\n")
        assert TASK.first_error(record, TASK.solve(record)) is None
        for position, line in enumerate(gold[:-1]):  # a wrong date in each numbered step
            right = line[-11:-1]
            wrong_day = "01/01/1800" if right != "01/01/1800" else "01/02/1800"
            attempt = gold[:position] + [line[:-11] + wrong_day + "."] + gold[position + 1:]
            error = TASK.first_error(record, "\n".join(attempt))
            assert error.step == str(position + 1) and error.previous == (str(position) if position else None)
            assert error.part.endswith(wrong_day) and error.reason.endswith(right)
            planted += 1
        letter = record["answer"]
        other = next(x for x in LETTERS[: len(record["meta"]["options"])] if x != letter)
        error = TASK.first_error(record, "\n".join(gold[:-1] + [gold[-1].replace(f"({letter})", f"({other})")]))
        assert error.step == "Final response" and error.reason.endswith(f"({letter})")
        if len(gold) > 2:  # the final response too early
            error = TASK.first_error(record, "\n".join(gold[:1] + [gold[-1]]))
            assert error.step == "Final response" and error.previous == "1"
        extra = f"({len(gold)}) The date tomorrow is 01/01/1900."
        error = TASK.first_error(record, "\n".join(gold[:-1] + [extra, gold[-1]]))
        assert error.step == str(len(gold))
        planted += 3
    assert planted > 1500
    with pytest.raises(ValueError):
        TASK.first_error(record, "Today is 01/01/1900.\n(Final response) So the answer is (A).")


def test_extra_questions_are_new_seen_questions_with_their_date_among_the_options():
    examples = _examples()
    extra = _extra_questions({"extra_seed": 9, "n_extra_train": 500}, examples)
    bigbench = {e["input"].strip() for e in examples}
    assert len({r["question"] for r in extra}) == 500 and not bigbench & {r["question"] for r in extra}
    for record in extra:
        steps = gold_steps(record["question"])
        assert len(steps) <= 2 and record["seen"]
        assert record["meta"]["options"][LETTERS.index(record["answer"])] == mdy(steps[-1].day)
        assert len(set(record["meta"]["options"])) == len(record["meta"]["options"]) in (5, 6)
    assert {split_question(r["question"])[1] for r in extra} == set(QUESTIONS)


def test_the_rationale_filter_keeps_the_published_211_of_221():
    """Spec §1.3: the original's filter kept 211 of the 221 new-split training rationales."""
    from tripost.tasks.date_understanding import mentions_date

    rows = [r for r in published("raw/date_understanding_codex_rationales_cleaned.jsonl")
            if r["meta_data"]["new_split"] == "train"]
    kept = 0
    for row in rows:
        options = dict(line.split(") ", 1) for line in row["formatted_choices"].split("\n"))
        kept += mentions_date(row["rationale"].strip().split("\n")[-2], options[f"({row['correct_choice']}"])
    assert (len(rows), kept) == (221, 211)
