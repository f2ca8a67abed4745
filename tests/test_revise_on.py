"""Which feedback asks for an updated answer at inference (`revise_on`): any that is not "correct"
(the original) or only one that names an error of the attempt (`named_error`)."""

from __future__ import annotations

import random

import pytest

from tripost import inference, io
from tripost.expert import ScriptedExpert, plant_error
from tripost.formats import correct_feedback, names_an_error, scripted_error_feedback
from tripost.inference import end_at_unactionable, reading_stops
from tripost.tasks.multistep_arithmetic import MultistepArithmetic
from tripost.tasks.word_sorting import WordSorting, _record
from tripost.trajectory import Trajectory

from conftest import decoding_settings

MSA = MultistepArithmetic()
MSA_RECORD = {"id": "r1", "question": "((7 + 7 + 7) - (-8 - -5 + -9)) =", "answer": 33}
WS = WordSorting()
WS_RECORD = _record(["cosh", "inferno", "every", "bale"], "w")


@pytest.mark.parametrize("task,record", [(MSA, MSA_RECORD), (WS, WS_RECORD)], ids=["msa", "ws"])
def test_the_verifiers_error_feedback_names_an_error_of_its_attempt(task, record):
    wrong, error = plant_error(task, record)
    feedback = scripted_error_feedback(error)
    assert ScriptedExpert(task).error_feedback(record, wrong) == feedback
    assert names_an_error(wrong, feedback)
    assert not names_an_error(wrong, correct_feedback("4"))


def test_a_sub_step_and_the_final_response_can_be_named():
    record = _record(["cosh", "inferno", "cat", "bale"], "w")
    gold = WS.solve(record)
    assert names_an_error(gold, 'In step (3.1) the part " (1) "cat" " is incorrect. This is because x.')
    assert not names_an_error(gold, 'In step (3.1) the part " (3.1) " is incorrect. '
                                    'This is because x.')  # the id is no part
    assert names_an_error(gold, 'In step (Final response) the part " bale cat " is incorrect. This is because x.')


def test_every_tasks_expert_feedback_names_an_error_of_its_attempt(task_splits):
    task, outputs = task_splits
    records = [r for split in ("train", "extra_train") for r in io.read_jsonl(outputs[split])][:60]
    named = 0
    for index, record in enumerate(records):
        planted = plant_error(task, record, random.Random(index))
        if planted is None:
            continue
        wrong, _ = planted
        feedback = ScriptedExpert(task).error_feedback(record, wrong)
        assert names_an_error(wrong, feedback), (wrong, feedback)
        named += 1
    assert named >= 30


def test_feedback_that_points_nowhere_names_no_error():
    gold = MSA.solve(MSA_RECORD)
    assert names_an_error(gold, 'In step (3) the part " (-3 + -9) = -12 " is incorrect. This is because x.')
    assert not names_an_error(gold, "-45.")  # unparsable
    assert not names_an_error(gold, 'In step (9) the part " (-3 + -9) = -12 " is incorrect. This is because x.')
    assert not names_an_error(gold, 'In step (2) the part " (-3 + -9) = -12 " is incorrect. This is because x.')
    assert names_an_error(gold, 'In step (Final response) the part " 33 " is incorrect. This is because x.')


def test_a_trajectory_ends_at_its_first_unactionable_feedback():
    gold = MSA.solve(MSA_RECORD)
    named = 'In step (3) the part " (-3 + -9) = -12 " is incorrect. This is because x.'
    trajectory = Trajectory([gold, gold, gold], [named, "-45.", named])
    assert end_at_unactionable(trajectory)
    assert trajectory.attempts == [gold, gold] and trajectory.feedbacks == [named, "-45."]
    assert trajectory.unactionable and not trajectory.done
    kept = Trajectory([gold, gold], [named, correct_feedback("4")])
    assert not end_at_unactionable(kept) and len(kept.attempts) == 2 and not kept.unactionable


def test_a_generation_is_cut_at_an_unactionable_feedback_only_under_named_error():
    gold = MSA.solve(MSA_RECORD)
    text = f"{gold}\nFeedback: -45.\nUpdated Answer: Let's think step by step.\n{gold}"
    assert reading_stops(Trajectory(), text, "attempt", "named_error")
    assert not reading_stops(Trajectory(), text, "attempt", "any")
    named = f"{gold}\nFeedback: In step (3) the part \" (-3 + -9) = -12 \" is incorrect. This is because x."
    assert not reading_stops(Trajectory(), named, "attempt", "named_error")


@pytest.mark.parametrize("revise_on", ["any", "named_error"])
def test_self_improve_stops_at_an_unactionable_feedback_only_under_named_error(monkeypatch, revise_on):
    gold = MSA.solve(MSA_RECORD)
    calls = []

    def fake_generate(model, tokenizer, prompts, cfg, seed, desc, stop_after_line):
        calls.append(prompts)
        return [f"{gold}\nFeedback: -45." if not prompt.endswith("Feedback:") else " -45." for prompt in prompts]

    monkeypatch.setattr(inference, "generate", fake_generate)
    cfg = decoding_settings(max_calls=3, revise_on=revise_on)
    [trajectory] = inference.self_improve(None, None, MSA, [MSA_RECORD], cfg, seed=0)
    if revise_on == "named_error":
        assert len(calls) == 1 and trajectory.unactionable
        assert trajectory.attempts == [gold] and trajectory.feedbacks == ["-45."]
    else:
        assert len(calls) == 3 and not trajectory.unactionable and len(trajectory.attempts) == 3
