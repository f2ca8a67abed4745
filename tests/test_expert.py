"""The scripted expert: first wrong feedback of M, the improvement, and what is dropped."""

from __future__ import annotations

import pytest

from tripost.expert import ERROR, ScriptedExpert, expert_feedback, gold_continuation, improve, locate_edit
from tripost.formats import correct_feedback, scripted_error_feedback
from tripost.tasks.multistep_arithmetic import MultistepArithmetic
from tripost.tasks.word_sorting import WordSorting, _record
from tripost.trajectory import Trajectory

MSA = MultistepArithmetic()
EXPERT = ScriptedExpert(MSA)
WS = WordSorting()
RECORD = {"id": "r1", "question": "((7 + 7 + 7) - (-8 - -5 + -9)) =", "answer": 33}
GOLD = MSA.solve(RECORD)
WRONG = (GOLD.replace("(-3 + -9) = -12", "(-3 + -9) = -11").replace("(21 - -12) = 33", "(21 - -11) = 32")
         .replace("answer is 33", "answer is 32"))
EXPERT_FB = scripted_error_feedback(MSA.first_error(RECORD, WRONG))


def test_expert_feedback_kinds():
    assert expert_feedback(MSA, EXPERT, RECORD, GOLD) == correct_feedback("4")
    assert EXPERT_FB.startswith("Step (1) to (2) are correct. In step (3)")
    assert expert_feedback(MSA, EXPERT, RECORD, "not an attempt") == ERROR


def test_directly_correct_and_self_improved_are_kept():
    located = locate_edit(MSA, EXPERT, RECORD, Trajectory([GOLD], []), 512)
    assert located["outcome"] == "directly_correct"
    kept = improve(MSA, EXPERT, RECORD, located, 5)
    assert kept["feedbacks"] == [correct_feedback("4")]
    located = locate_edit(MSA, EXPERT, RECORD, Trajectory([WRONG, GOLD], [EXPERT_FB]), 512)
    assert located["outcome"] == "self_improved"
    assert improve(MSA, EXPERT, RECORD, located, 5)["feedbacks"] == [EXPERT_FB, correct_feedback("4")]


def test_a_right_answer_reached_after_a_wrong_feedback_is_edited_there():
    # M's own feedback is verified, not kept as it is (the original kept it, method §5.4.2)
    located = locate_edit(MSA, EXPERT, RECORD, Trajectory([WRONG, GOLD], ["my own feedback"]), 512)
    assert located["outcome"] == "to_edit" and located["edit_index"] == 0 and located["feedback"] == EXPERT_FB
    # a false alarm on a right attempt: the trajectory ends there with the "correct" feedback
    false_alarm = 'In step (2) the part " (-8 - -5) = -3 " is incorrect. This is because (-8 - -5) = -2.'
    located = locate_edit(MSA, EXPERT, RECORD, Trajectory([GOLD, GOLD], [false_alarm]), 512)
    assert located["outcome"] == "directly_correct"
    assert located["attempts"] == [GOLD] and located["feedbacks"] == [correct_feedback("4")]
    # ... and so is one on the last attempt
    located = locate_edit(MSA, EXPERT, RECORD, Trajectory([GOLD], [false_alarm]), 512)
    assert located["outcome"] == "directly_correct" and located["feedbacks"] == [correct_feedback("4")]


def test_a_right_trajectory_is_cut_only_at_an_attempt_with_valid_content():
    record = _record(["cosh", "inferno", "cat", "bale"], "w")
    gold = WS.solve(record)
    unsorted = gold.replace('(4) Hence, we have "bale" < "cat" < "cosh"',
                            '(4) Hence, we have "bale" < ["cat" ? "cosh"]')
    assert unsorted != gold and WS.is_correct(WS.parse_answer(unsorted), record)
    false_alarm = 'In step (2) the part " (2) "bale" " is incorrect. This is because x.'
    located = locate_edit(WS, ScriptedExpert(WS), record, Trajectory([unsorted, gold], [false_alarm]), 512)
    assert located["outcome"] != "directly_correct" and located["outcome"].startswith("dropped:")


def test_an_edit_of_a_right_trajectory_keeps_the_length_limit():
    trajectory = Trajectory([WRONG, GOLD], ["my own feedback"])
    assert locate_edit(MSA, EXPERT, RECORD, trajectory, 5)["outcome"] == "dropped:attempt_too_long"
    assert locate_edit(MSA, EXPERT, RECORD, Trajectory([GOLD], []), 5)["outcome"] == "directly_correct"


def test_first_wrong_feedback_is_replaced_and_improved():
    # M says its wrong attempt is fine: the edit point is attempt 0
    trajectory = Trajectory([WRONG], [correct_feedback("4")])
    located = locate_edit(MSA, EXPERT, RECORD, trajectory, 512)
    assert located["outcome"] == "to_edit" and located["edit_index"] == 0
    assert located["feedback"] == EXPERT_FB and located["error_step"] == "3"
    improved = improve(MSA, EXPERT, RECORD, located, 5)
    assert improved["outcome"] == "edited"
    assert improved["attempts"] == [WRONG, GOLD]
    assert improved["feedbacks"] == [EXPERT_FB, correct_feedback("4")]


def test_agreeing_feedback_moves_the_edit_point():
    second = GOLD.replace("answer is 33", "answer is 34")
    trajectory = Trajectory([WRONG, second], [EXPERT_FB, correct_feedback("4")])
    located = locate_edit(MSA, EXPERT, RECORD, trajectory, 512)
    assert located["edit_index"] == 1
    improved = improve(MSA, EXPERT, RECORD, located, 5)
    assert improved["attempts"] == [WRONG, second, GOLD]
    assert improved["feedbacks"][0] == EXPERT_FB  # M's right feedback is kept


def test_dropped_cases():
    assert locate_edit(MSA, EXPERT, RECORD, Trajectory([], []), 512)["outcome"] == "dropped:no_attempt"
    assert locate_edit(MSA, EXPERT, RECORD, Trajectory(["garbage"], []), 512)["outcome"] == "dropped:expert_error"
    assert locate_edit(MSA, EXPERT, RECORD, Trajectory([WRONG], []), 5)["outcome"] == "dropped:attempt_too_long"
    # a correct intermediate attempt makes the expert's feedback unparsable: dropped, as in the original
    third = GOLD.replace("answer is 33", "answer is 30")
    located = locate_edit(MSA, EXPERT, RECORD, Trajectory([GOLD, third], [EXPERT_FB, "x"]), 512)
    assert located["outcome"] == "dropped:correct_intermediate_attempt"
    assert improve(MSA, EXPERT, RECORD, located, 5) == {"outcome": "dropped:correct_intermediate_attempt"}


def test_gold_continuation_keeps_the_correct_prefix():
    record = _record(["cosh", "inferno", "every"], "w")
    gold = WS.solve(record)
    wrong = gold.replace("(3) Hence, we have \"cosh\" < \"every\" < \"inferno\".",
                         "(3) Hence, we have \"cosh\" < \"inferno\" < \"every\".")
    assert gold_continuation(WS, record, wrong, "3") == gold
    assert gold_continuation(WS, record, wrong, "Final response").split("\n")[:-1] == wrong.split("\n")[:-1]


def test_unreadable_steps_are_expert_errors_not_crashes():
    """Model lines that the verifiers once crashed on (the feedback job died on every rerun): a
    "Let's calculate" line without "X = ", and a letter pair with an empty letter."""
    msa = ScriptedExpert(MSA)
    lines = MSA.solve(RECORD).split("\n")
    attempt = "\n".join(lines[:1] + ["(2) Let's calculate A is 21."] + lines[2:])
    assert msa.error_feedback(RECORD, attempt) == ERROR
    # a letter past the end of a word (the subpart checks usually catch it first)
    from tripost.tasks.word_sorting_verifier import _check_letters, _State, _Wrong

    with pytest.raises(_Wrong) as wrong:
        _check_letters(_State(["ab", "abc"]), '"ab"="" (0)', ["ab"], 2)
    assert wrong.value.part == '"ab"="" (0)' and "no third letter" in wrong.value.reason
