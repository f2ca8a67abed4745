"""Trajectory parsing (malformed generations), rendering, turns, rebalancing, GT mixing."""

from __future__ import annotations

import math
import random

from tripost.formats import StepError, correct_feedback, parse_feedback, scripted_error_feedback
from tripost.improvement_data import build_iteration_data, rebalance_turns
from tripost.inference import next_prompt, reading_stops
from tripost.job_settings import DataSettings
from tripost.tasks.multistep_arithmetic import INFO, MultistepArithmetic
from tripost.tasks.word_sorting import WordSorting, _record
from tripost.trajectory import Trajectory, extend, ground_truth_row, render, to_turns

MSA = MultistepArithmetic()
WS = WordSorting()
RECORD = {"id": "r1", "question": "((7 + 7 + 7) - (-8 - -5 + -9)) =", "answer": 33, "bucket": "l3-4d2", "seen": True}
WRONG = (MSA.solve(RECORD).replace("(-3 + -9) = -12", "(-3 + -9) = -11").replace("(21 - -12) = 33", "(21 - -11) = 32")
         .replace("answer is 33", "answer is 32"))
FB = ('Step (1) to (2) are correct. In step (3) the part " (-3 + -9) = -11 " is incorrect. '
      'This is because there is an calculation error, since (-3 + -9) is not equal to -11.')


def test_feedback_strings():
    assert correct_feedback("4") == "Step (1) to step (4) are correct. The final response is also correct."
    assert scripted_error_feedback(StepError("1", None, "x", "y")) == (
        'In step (1) the part " x " is incorrect. This is because y.')
    assert scripted_error_feedback(StepError("2", "1", "x", "y")).startswith("Step (1) is correct. In step (2)")
    parsed = parse_feedback(FB)
    assert parsed.step == "3" and parsed.part == "(-3 + -9) = -11"
    assert parse_feedback(correct_feedback("3")) is None
    assert parse_feedback("[ERROR] " + FB) is None
    assert parse_feedback(FB + "\nsecond line") is None


def test_paper_example_trajectory_rendering():
    gold = MSA.solve(RECORD)
    text = render(MSA, RECORD, [WRONG, gold], [FB, correct_feedback("4")])
    lines = text.split("\n")
    assert lines[0] == "Q: ((7 + 7 + 7) - (-8 - -5 + -9)) ="
    assert lines[1] == f"Answer: Let's think step by step. {INFO}"
    assert lines[7] == "Feedback: " + FB
    assert lines[8] == f"Updated Answer: Let's think step by step. {INFO}"
    assert lines[-1] == "Feedback: Step (1) to step (4) are correct. The final response is also correct."


def test_extend_reads_a_full_self_improvement_generation():
    trajectory = Trajectory()
    gold = MSA.solve(RECORD)
    generated = f"\n{WRONG}\nFeedback: {FB}\nUpdated Answer: Let's think step by step. {INFO}\n{gold}"
    assert extend(trajectory, generated, "attempt")
    assert trajectory.attempts == [WRONG, gold] and trajectory.feedbacks == [FB]
    assert trajectory.awaiting_feedback and not trajectory.malformed
    assert extend(trajectory, " " + correct_feedback("4"), "feedback")
    assert trajectory.done


def test_extend_counts_malformed_generations_without_crashing():
    cases = [
        ("\n(1) fine step\nthis line has no kind\n(2) never read", "attempt", 1, ["(1) fine step"]),
        ("\nFeedback: no attempt before it", "attempt", 1, []),
        ("", "attempt", 0, []),
        ("\x00\x01 garbage ⁇", "attempt", 1, []),
        ("\n(1) a\n(Final response) So the answer is 3.\nFeedback: ok\n(2) step after feedback", "attempt", 1,
         ["(1) a\n(Final response) So the answer is 3."]),
    ]
    for generated, asked, malformed, attempts in cases:
        trajectory = Trajectory()
        extend(trajectory, generated, asked)
        assert trajectory.malformed == malformed, generated
        assert trajectory.attempts == attempts, generated


def test_reading_stops_exactly_where_extend_stops():
    cases = [
        ("\n(1) fine step\nthis line has no kind\n", "attempt", True),
        ("\n(1) fine step\n", "attempt", False),
        ("\n(1) a\n(Final response) So the answer is 3.\nFeedback: ok\nUpdated Answer: x\n", "attempt", False),
        ("\n(1) a\n(Final response) So the answer is 3.\nFeedback: ok\n(2) step after feedback\n", "attempt", True),
        (" anything at all\n", "feedback", False),
        (" ok\n(1) a step with no Updated Answer before it\n", "feedback", True),
    ]
    for text, asked, stops in cases:
        trajectory = Trajectory(attempts=[WRONG]) if asked == "feedback" else Trajectory()
        before = (list(trajectory.attempts), trajectory.malformed)
        assert reading_stops(trajectory, text, asked) is stops, text
        assert (trajectory.attempts, trajectory.malformed) == before  # the probe leaves the trajectory alone
        # cutting a generation after a line where reading stops changes nothing that is read
        if stops:
            full, cut = Trajectory(*before[:1]), Trajectory(*before[:1])
            extend(full, text + "(3) more text after the cut\n", asked)
            extend(cut, text, asked)
            assert full == cut


def test_next_prompts():
    trajectory = Trajectory(attempts=[WRONG], feedbacks=[])
    prompt, asked = next_prompt(MSA, RECORD, trajectory)
    assert asked == "feedback" and prompt.endswith(WRONG + "\nFeedback:")
    trajectory.feedbacks.append(FB)
    prompt, asked = next_prompt(MSA, RECORD, trajectory)
    assert asked == "attempt" and prompt.endswith(f"Feedback: {FB}\nUpdated Answer: Let's think step by step. {INFO}")
    assert next_prompt(MSA, RECORD, Trajectory()) == (MSA.prompt(RECORD), "attempt")


def test_convert_to_turns():
    gold = MSA.solve(RECORD)
    improvements, last = to_turns(MSA, RECORD, [WRONG, gold], [FB, correct_feedback("4")])
    assert len(improvements) == 1
    text = improvements[0]["text"]
    assert text == render(MSA, RECORD, [WRONG, gold], [FB])
    assert text.endswith(gold) and "also correct" not in text
    assert improvements[0]["text_att_start_text"] == "\nFeedback:"
    assert improvements[0]["weight_start"] == text.index("\nFeedback:")
    assert improvements[0]["prompt_chars"] == len(MSA.prompt(RECORD))
    # the last turn uses "Answer:", not "Updated Answer:", for the final attempt
    assert last["text"] == MSA.prompt(RECORD) + "\n" + gold + "\nFeedback: " + correct_feedback("4")
    # no trailing space after the answer head when the task has no INFO
    ws_record = _record(["cosh", "inferno", "every"], "w")
    ws_last = to_turns(WS, ws_record, [WS.solve(ws_record)], [correct_feedback("3")])[1]
    assert "step by step.\n(1)" in ws_last["text"] and " \n" not in ws_last["text"]


def test_ground_truth_row_uses_last_step_id():
    record = _record(["cosh", "coterie", "every"], "w")
    row = ground_truth_row(WS, record, WS.solve(record))
    assert row["text"].endswith("Feedback: Step (1) to step (4) are correct. The final response is also correct.")
    assert row["text_att_start_text"] == "Q:" and row["weight_start"] is None


def test_rebalance_ratio_and_counts():
    rng = random.Random(0)
    improvement = [{"text": f"i{i}"} for i in range(30)]
    non = [{"text": f"n{i}"} for i in range(100)]
    for ratio, expected in ((1.5, 20), (1.0, 30), (2.0, 15), (0.5, 60), (0.2, 100), (-1, 100)):
        assert len(rebalance_turns(improvement, non, ratio, rng)) == expected
    assert len(rebalance_turns(improvement, non[:5], 1.5, rng)) == 5
    assert math.ceil(31 / 1.5) == len(rebalance_turns(improvement + [{}], non, 1.5, rng))


def _wrong_final(record):
    gold = MSA.solve(record)
    wrong = gold.replace(f"answer is {record['answer']}.", f"answer is {record['answer'] + 1}.")
    return wrong, scripted_error_feedback(MSA.first_error(record, wrong))


def test_iteration_data_counts():
    splits = MSA.make_splits(dict(bigbench_seed=42, trials=12, train_trials=10, test_trials=1, n_val=0,
                                  split_seed=0, extra_seed=1, n_extra_train=0), {})
    records = splits["train"][:10]
    gold = {r["id"]: MSA.solve(r) for r in records}
    edits = []
    for r in records[:6]:  # 6 edited -> 6 improvement turns + 6 final turns
        wrong, feedback = _wrong_final(r)
        edits.append({"id": r["id"], "pass": 0, "outcome": "edited", "attempts": [wrong, gold[r["id"]]],
                      "feedbacks": [feedback, correct_feedback("4")]})
    for r in records[6:]:
        edits.append({"id": r["id"], "pass": 0, "outcome": "directly_correct", "attempts": [gold[r["id"]]],
                      "feedbacks": [correct_feedback(gold[r["id"]].split("\n")[-2][1])]})
    edits.append({"id": records[0]["id"], "pass": 0, "outcome": "dropped:expert_error"})
    cfg = DataSettings(improve_data_ratio=1.5, max_data_length=1000, min_data_length=1)
    data, counts = build_iteration_data(MSA, records, gold, edits, cfg, seed=0)
    assert counts["num_improvement"] == 6
    assert counts["num_non_improvement"] == math.ceil(6 / 1.5)
    assert counts["outcomes"] == {"edited": 6, "directly_correct": 4, "dropped:expert_error": 1}
    # the 4 directly-correct texts are the GT examples of their questions: those are skipped
    assert counts["num_ground_truth"] == min(counts["num_non_improvement"], 10 - 4)
    assert counts["total"] == len(data) == 6 + 4 + counts["num_ground_truth"]
    assert len({row["text"] for row in data}) == len(data)
    weighted = [row for row in data if row["weight_start"] is not None]
    assert len(weighted) == 6 + sum(1 for row in data if row["text_att_start_text"] == "\nFeedback:") - 6
    assert all(row["text"][row["weight_start"]:].startswith("\nFeedback:") for row in weighted)


def test_an_attempt_ends_at_its_first_final_response():
    """Lines after ``(Final response)`` that are not a ``Feedback:`` line are malformed: the attempt
    ends at the final response, the rest is not read, and the generation stops there."""
    gold = MSA.solve(RECORD)
    final = gold.split("\n")[-1]
    for tail in ("\n(5) another step", f"\n{final}", "\n(1) a new attempt\n(Final response) So the answer is 1."):
        trajectory = Trajectory()
        extend(trajectory, f"\n{gold}{tail}", "attempt")
        assert trajectory.attempts == [gold], tail
        assert trajectory.malformed == 1, tail
        assert MSA.parse_answer(trajectory.last_attempt) == 33
        assert reading_stops(Trajectory(), f"\n{gold}{tail}\n", "attempt"), tail
    # the same after an update inside one generation
    trajectory = Trajectory()
    extend(trajectory, f"\n{WRONG}\nFeedback: {FB}\nUpdated Answer: Let's think step by step. {INFO}\n{gold}\n(9) more",
           "attempt")
    assert trajectory.attempts == [WRONG, gold] and trajectory.malformed == 1
    # a final response followed by its feedback is read on
    trajectory = Trajectory()
    extend(trajectory, f"\n{gold}\nFeedback: {correct_feedback('4')}", "attempt")
    assert trajectory.attempts == [gold] and trajectory.done and not trajectory.malformed
