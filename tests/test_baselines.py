"""The baselines' data, built exactly: LMSI's majority vote and gold filter, the ft SI demo
trajectories, and the answer-only texts and parser."""

from __future__ import annotations

import math
import random

import pytest

from tripost import answer_only, io, lmsi, stages
from tripost.expert import ScriptedExpert
from tripost.formats import scripted_error_feedback
from tripost.tasks.date_understanding import DateUnderstanding
from tripost.tasks.logical_deduction import LogicalDeduction
from tripost.tasks.multistep_arithmetic import MultistepArithmetic
from tripost.tasks.word_sorting import WordSorting

from conftest import ONE_PASS, SCRIPTED, data_settings

MSA, WS = MultistepArithmetic(), WordSorting()
RECORD = {"id": "q1", "question": "((7 + 7 + 7) - (-8 - -5 + -9)) =", "answer": 33, "bucket": "l3d2", "seen": True}
HEAD = "Q: ((7 + 7 + 7) - (-8 - -5 + -9)) =\nAnswer:"



def sample(answer: str, tag: str = "") -> str:
    return f"(1) Let's calculate A = (7 + 7 + 7) = 21.{tag}\n(Final response) So the answer is {answer}."


# ---- LMSI ---------------------------------------------------------------------------------------
def test_majority_vote_on_a_hand_made_example():
    assert lmsi.majority_answer([5, 5, 3, None, None, None]) == 5  # unparsed samples do not vote
    assert lmsi.majority_answer([5, 3]) is None  # a tie for first: no majority
    assert lmsi.majority_answer([5, 5, 3, 3, 7]) is None
    assert lmsi.majority_answer([None, None]) is None
    assert lmsi.majority_answer([["a", "b"], ["b", "a"], ["a", "b"]]) == ["a", "b"]  # word lists vote too
    assert lmsi.majority_answer([-4]) == -4


# Five samples: three say 34 (two of them the same text), one says 33 (the gold answer), one none.
SAMPLES = [sample("34", " first"), sample("33"), sample("34", " first"), "(1) nonsense", sample("34", " other")]


def test_majority_vote_keeps_the_self_consistent_samples_even_when_wrong():
    kept = lmsi.select_samples(MSA, RECORD, SAMPLES, "majority")
    assert kept == [SAMPLES[0], SAMPLES[2], SAMPLES[4]]


def test_gold_filter_keeps_the_samples_with_the_gold_answer():
    assert lmsi.select_samples(MSA, RECORD, SAMPLES, "gold") == [SAMPLES[1]]
    assert lmsi.select_samples(MSA, {**RECORD, "answer": 99}, SAMPLES, "gold") == []
    with pytest.raises(ValueError, match="majority | gold"):
        lmsi.select_samples(MSA, RECORD, SAMPLES, "vote")


def test_lmsi_rows_are_distinct_rationales_and_answer_only_augmentations():
    kept = lmsi.select_samples(MSA, RECORD, SAMPLES, "majority")
    rows = lmsi.training_rows(MSA, RECORD, kept, augment=True)
    prompt = MSA.prompt(RECORD)
    assert [r["text"] for r in rows] == [
        f"{prompt}\n{SAMPLES[0]}",  # the duplicate text once
        f"{prompt}\n{SAMPLES[4]}",
        f"{HEAD} So the answer is 34.",  # the original's augmentation: the final response as the answer
    ]
    assert [r["prompt_chars"] for r in rows] == [len(prompt), len(prompt), len(HEAD)]
    assert all(r["text_att_start_text"] == "\nAnswer:" and r["weight_start"] is None for r in rows)
    assert len(lmsi.training_rows(MSA, RECORD, kept, augment=False)) == 2


def test_lmsi_build_counts():
    other = {**RECORD, "id": "q2", "answer": 34}
    samples = {"q1": SAMPLES, "q2": [sample("1"), sample("2")]}  # q2: a tie, nothing kept
    rows, counts = lmsi.build(MSA, [RECORD, other], samples, "majority", answer_only_augmentation=True)
    assert counts == {"selection": "majority", "questions": 2, "questions_kept": 1, "samples": 7, "samples_kept": 3,
                      "kept_questions_with_gold_answer": 0, "examples": 3}
    assert {r["id"] for r in rows} == {"q1"}
    _, gold_counts = lmsi.build(MSA, [RECORD, other], samples, "gold", answer_only_augmentation=False)
    assert gold_counts["questions_kept"] == 1 and gold_counts["kept_questions_with_gold_answer"] == 1


# ---- answer only ---------------------------------------------------------------------------------
def test_answer_only_texts_and_parser():
    row = answer_only.row(MSA, {**RECORD, "answer": -61200}, MSA.answer_only_text({**RECORD, "answer": -61200}))
    assert row["text"] == f"{HEAD} -61200" and row["prompt_chars"] == len(HEAD)
    assert answer_only.prompt(MSA, RECORD) == HEAD
    # the original lost the sign of negative answers and could not read letters (method §7.1 [BUG])
    assert MSA.parse_answer_only(" -61200\nQ: more") == -61200
    assert MSA.parse_answer_only(" 12 + 3") is None and MSA.parse_answer_only("") is None
    assert WS.answer_only_text({"answer": ["apple", "pear"]}) == "apple pear"
    assert WS.parse_answer_only(" apple pear\n") == ["apple", "pear"] and WS.parse_answer_only(" ") is None
    for task in (DateUnderstanding(), LogicalDeduction()):
        assert task.answer_only_text({"answer": "E"}) == "E"
        assert task.parse_answer_only(" E") == "E" and task.parse_answer_only(" (C)") == "C"
        assert task.parse_answer_only(" Answer: E") is None and task.parse_answer_only(" maybe") is None


# ---- ft SI demo ----------------------------------------------------------------------------------
def _records(n: int) -> list[dict]:
    splits = MSA.make_splits(dict(bigbench_seed=42, trials=300, train_trials=2, test_trials=1, n_val=0,
                                  split_seed=0, extra_seed=1, n_extra_train=0,
                                  test_per_bucket={"seen": None, "unseen": None}), {})
    return splits["train"][:n]


def test_scripted_demo_attempt_is_the_gold_rationale_with_one_caught_error_and_a_wrong_answer():
    expert = ScriptedExpert(MSA)
    positions = set()
    for record in _records(12):
        gold = MSA.solve(record).split("\n")
        attempt = expert.demo_attempt(record, sample=0, temperature=1.0)
        assert attempt == expert.demo_attempt(record, sample=0, temperature=0.0)  # seeded by (id, sample)
        lines = attempt.split("\n")
        changed = [i for i, (a, b) in enumerate(zip(lines, gold)) if a != b]
        assert len(lines) == len(gold) and len(changed) == 2 and changed[1] == len(gold) - 1
        error = MSA.first_error(record, attempt)
        assert error is not None and lines[changed[0]].startswith(f"({error.step})")  # the planted step
        answer = MSA.parse_answer(attempt)
        assert answer is not None and answer != record["answer"]
        positions.add(changed[0])
    assert len(positions) > 1  # the planted step varies from question to question


def test_wrong_final_responses_parse_to_a_wrong_answer():
    rng = random.Random(0)
    ws_record = {"id": "w", "answer": ["apple", "fig", "pear"]}
    line = WS.wrong_final_response(ws_record, rng)
    assert sorted(WS.parse_answer(line)) == ws_record["answer"] and WS.parse_answer(line) != ws_record["answer"]
    assert WS.wrong_final_response({"id": "w", "answer": ["fig"]}, rng) is None
    du = DateUnderstanding()
    du_record = {"answer": "B", "meta": {"options": ["01/02/2003", "02/02/2003", "03/02/2003"]}}
    line = du.wrong_final_response(du_record, rng)
    assert du.parse_answer(line) in ("A", "C") and (
        f"{du_record['meta']['options']['AC'.index(du.parse_answer(line)) * 2]} is option" in line)
    ld = LogicalDeduction()
    ld_record = {"answer": "A", "meta": {"options": ["The owl is the leftmost.", "The quail is the leftmost."]}}
    assert ld.wrong_final_response(ld_record, rng) == (
        "(Final response) The quail is the leftmost. So the answer is (B).")


def test_si_demo_data_is_built_from_the_experts_own_trajectories(tmp_path):
    records = _records(10)
    train = tmp_path / "train.jsonl"
    io.write_jsonl(train, records)
    rationales = tmp_path / "rationales.jsonl"
    io.write_jsonl(rationales, [{"id": r["id"], "rationale": MSA.solve(r)} for r in records])
    expert_cfg = SCRIPTED
    stages.si_demo_attempts("multistep_arithmetic", train, expert_cfg, 1, 1.0, 0, tmp_path / "rollouts.jsonl",
                            tmp_path / "rollouts.ledger.json")
    by_id = {r["id"]: r for r in records}
    stages.feedback("multistep_arithmetic", tmp_path / "rollouts.jsonl", by_id, 512, expert_cfg,
                    tmp_path / "feedback.jsonl", tmp_path / "feedback.ledger.json",
                    expected=stages.expected_trajectories(by_id, ONE_PASS))
    stages.improvement("multistep_arithmetic", tmp_path / "feedback.jsonl", by_id, expert_cfg,
                       tmp_path / "improvements.jsonl", tmp_path / "improvements.ledger.json",
                       expected=stages.expected_trajectories(by_id, ONE_PASS))
    stages.build_improvement_data("multistep_arithmetic", tmp_path / "improvements.jsonl", [train], rationales,
                                  ONE_PASS, data_settings(improve_data_ratio=1.5, max_data_length=10000), 0,
                                  tmp_path / "data.jsonl", tmp_path / "counts.json")
    attempts = io.read_jsonl(tmp_path / "rollouts.jsonl")
    edits = io.read_jsonl(tmp_path / "improvements.jsonl")
    counts = io.read_json(tmp_path / "counts.json")
    # every demo attempt has a planted error: each is edited into attempt, feedback, improvement
    assert all(e["outcome"] == "edited" for e in edits) and len(edits) == len(records)
    for row, edit in zip(attempts, edits):
        record = by_id[row["id"]]
        attempt = row["attempts"][0]
        error = MSA.first_error(record, attempt)
        cut = next(i for i, line in enumerate(attempt.split("\n")) if line.startswith(f"({error.step})"))
        assert edit["attempts"] == [attempt, MSA.solve(record)]  # M's correct prefix = the gold lines before it
        assert attempt.split("\n")[:cut] == MSA.solve(record).split("\n")[:cut]
        assert edit["feedbacks"][0] == scripted_error_feedback(MSA.first_error(record, row["attempts"][0]))
    assert counts["num_improvement"] == len(records)
    assert counts["num_non_improvement"] == math.ceil(len(records) / 1.5)
    assert counts["num_ground_truth"] == counts["num_non_improvement"]
    data = io.read_jsonl(tmp_path / "data.jsonl")
    assert len(data) == counts["total"] == len(records) + 2 * math.ceil(len(records) / 1.5)
    improvement_rows = [d for d in data if "\nUpdated Answer:" in d["text"]]
    assert len(improvement_rows) == len(records)
    assert all(d["weight_start"] == d["text"].index("\nFeedback:") for d in improvement_rows)
