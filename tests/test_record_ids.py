"""Record ids are the join key of the whole workflow (gold rationales, feedback, improvements,
improvement data, LMSI, the paired tests). For every task and every split: ids are unique, and
the gold rationale found by id is the one the solver gives for that very record, which the
scripted verifier accepts. Real BIG-Bench files when cached, their synthetic stand-ins otherwise."""

from __future__ import annotations

import pytest

from tripost import io, stages

from conftest import SCRIPTED


def test_ids_are_unique_within_and_across_splits(task_splits):
    task, outputs = task_splits
    every = []
    for split, path in outputs.items():
        ids = [r["id"] for r in io.read_jsonl(path)]
        assert len(ids) == len(set(ids)), f"{task.name} {split}: {len(ids) - len(set(ids))} repeated ids"
        every += ids
    assert len(every) == len(set(every)), f"{task.name}: an id is shared between splits"


def test_gold_rationale_by_id_is_the_records_own(task_splits, tmp_path):
    task, outputs = task_splits
    training_side = [outputs[s] for s in ("train", "val", "extra_train")]
    rationales = tmp_path / "rationales.jsonl"
    expert_cfg = SCRIPTED
    stages.make_rationales(task.name, training_side, rationales, expert_cfg, tmp_path / "ledger.json")
    gold = stages._gold(rationales)
    for path in training_side:
        for record in io.read_jsonl(path):
            rationale = gold[record["id"]]
            assert rationale == task.solve(record), record["id"]
            assert task.first_error(record, rationale) is None, record["id"]
            assert task.is_correct(task.parse_answer(rationale), record), record["id"]


def test_a_join_refuses_repeated_ids():
    rows = [{"id": "a", "x": 1}, {"id": "b", "x": 2}, {"id": "a", "x": 3}]
    with pytest.raises(ValueError, match="'a'"):
        io.by_id(rows, "questions.jsonl")
    assert io.by_id(rows[:2], "questions.jsonl") == {"a": rows[0], "b": rows[1]}


def test_test_caps_apply_per_bucket_and_keep_seen_buckets_whole():
    test = [{"id": f"{b}{i}", "bucket": b, "seen": b.startswith("s")} for b in ("s1", "s2", "u1") for i in range(5)]
    kept = stages.cap_test_buckets(test, {"seen": None, "unseen": 2})
    assert [r["id"] for r in kept] == [f"s1{i}" for i in range(5)] + [f"s2{i}" for i in range(5)] + ["u10", "u11"]
    assert [r["id"] for r in stages.cap_test_buckets(test, {"seen": 1, "unseen": None})] == (
        ["s10", "s20"] + [f"u1{i}" for i in range(5)])
