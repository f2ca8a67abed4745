"""Date understanding: the paper's questions rebuilt from bigbench==1.0.0 (compared with the
published files when present)."""

from __future__ import annotations

import json

import pytest

from conftest import REPO, published
from tripost.tasks.date_understanding_data import LETTERS, hf_split, paper_records

TASK_FILE = REPO / ".cache" / "bigbench" / "date_understanding" / "task.json"


def _examples() -> list[dict]:
    if not TASK_FILE.exists():
        pytest.skip(f"BIG-Bench task file not fetched ({TASK_FILE})")
    return json.loads(TASK_FILE.read_text())["examples"]


def _formatted(record: dict) -> str:
    return "\n".join(f"({LETTERS[i]}) {o}" for i, o in enumerate(record["meta"]["options"]))


def test_hf_split_sizes():
    split = hf_split(_examples())
    assert len(split["train"]) == 296 and len(split["validation"]) == 73  # spec §1.3: idx 0-295, 0-72
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
