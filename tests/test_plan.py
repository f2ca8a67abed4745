"""What a config asks the workflow to build: runs, their settings, checkpoints and labels."""

from __future__ import annotations

import copy

import pytest
import yaml

from tripost import plan
from tripost.settings import normalise_config

from conftest import REPO

DEFAULT = yaml.safe_load((REPO / "config.yaml").read_text())
normalise_config(DEFAULT)  # as the Snakefile does


def config(**changes) -> dict:
    out = copy.deepcopy(DEFAULT)
    for key, value in changes.items():
        out[key] = value
    return out


def test_ablation_points_map_the_main_value_to_the_main_run():
    points = plan.ablation_points(DEFAULT, "word_sorting")
    assert points == [("improve_data_ratio", 0.5, "p0.5"), ("improve_data_ratio", 1.0, "p1"),
                      ("improve_data_ratio", 1.5, "tripost"), ("improve_data_ratio", 2.0, "p2"),
                      ("improve_data_ratio", -1.0, "p-1"), ("self_improve_section_weight", 1.0, "w1"),
                      ("self_improve_section_weight", 1.5, "tripost"), ("self_improve_section_weight", 2.0, "w2")]
    assert plan.ablation_runs(DEFAULT, "word_sorting") == ["p0.5", "p1", "p2", "p-1", "w1", "w2"]


def test_a_task_override_moves_the_main_point():
    changed = config(overrides={"tasks": {"word_sorting": {"tripost": {"improve_data_ratio": 2.0}}}})
    runs = {value: run for setting, value, run in plan.ablation_points(changed, "word_sorting")
            if setting == "improve_data_ratio"}
    assert runs[2.0] == "tripost" and runs[1.5] == "p1.5"
    assert plan.run_config(changed, "word_sorting", "p1.5", 1)["improve_data_ratio"] == 1.5
    assert plan.run_config(changed, "multistep_arithmetic", "tripost", 1)["improve_data_ratio"] == 1.5


def test_run_settings_change_only_their_own_key():
    main = plan.run_config(DEFAULT, "logical_deduction", "tripost", 2)
    for run, key, value in (("p-1", "improve_data_ratio", -1.0), ("w2", "self_improve_section_weight", 2.0)):
        changed = plan.run_config(DEFAULT, "logical_deduction", run, 2)
        assert changed[key] == value and {k: v for k, v in changed.items() if k != key} == \
            {k: v for k, v in main.items() if k != key}
    demo = plan.run_config(DEFAULT, "logical_deduction", "si_demo", 1)
    assert demo["collect_window"] is None and demo["self_improve_section_weight"] == 1.0  # whole split, w = 1
    assert main["collect_window"] == 90  # the task override still applies to the main run
    with pytest.raises(ValueError, match="unknown TriPosT run"):
        plan.run_config(DEFAULT, "logical_deduction", "p7", 1)


def test_checkpoints_of_the_default_and_of_a_narrower_config():
    assert plan.model_checkpoints(DEFAULT, "word_sorting") == [
        "baseline", "lmsi", "si_demo/iter1", "tripost/iter1", "tripost/iter2", "tripost/iter3", "tripost/iter4",
        "tripost/iter5", "p0.5/iter1", "p1/iter1", "p2/iter1", "p-1/iter1", "w1/iter1", "w2/iter1"]
    narrow = config(ablations={**DEFAULT["ablations"], "tasks": ["word_sorting"]},
                    baselines={**DEFAULT["baselines"], "methods": ["answer_only"]})
    assert plan.model_checkpoints(narrow, "date_understanding") == ["baseline", "tripost/iter1", "tripost/iter2",
                                                                    "tripost/iter3"]
    assert plan.methods(narrow, "date_understanding") == ["answer_only"]
    assert plan.core_checkpoints(DEFAULT) == ["baseline", "tripost/iter1", "tripost/iter2", "tripost/iter3"]


def test_llm_baselines_only_for_an_llm_expert():
    assert "llm_few_shot" not in plan.methods(DEFAULT, "date_understanding")
    llm = config(overrides={"tasks": {"date_understanding": {"expert": {"kind": "openai"}}}})
    assert plan.methods(llm, "date_understanding")[-2:] == ["llm_few_shot", "llm_self_improve"]
    assert "llm_few_shot" not in plan.methods(llm, "word_sorting")


def test_labels():
    assert [plan.label(c) for c in ("baseline", "answer_only", "lmsi", "si_demo/iter1", "tripost/iter2", "p-1/iter1",
                                    "w2/iter3", "llm_self_improve")] == [
        "ft rationale", "ft answer-only", "LMSI", "ft SI demo", "TriPosT (t=2)", "TriPosT p=-1 (t=1)",
        "TriPosT w=2 (t=3)", "LLM + self-improve"]


def test_recipe_variants_change_only_their_settings_and_share_what_they_can():
    main = plan.run_config(DEFAULT, "word_sorting", "tripost", 2)
    for run, changed in (("temp0.7", {"rollout"}), ("mask", {"mask_before_feedback"}), ("lr3e-4", {"training"}),
                         ("more_questions", {"collect_from", "collect_window"})):
        block = plan.run_config(DEFAULT, "word_sorting", run, 2)
        assert {k for k in block if block[k] != main[k]} == changed, run
    assert plan.run_config(DEFAULT, "word_sorting", "temp0.7", 2)["rollout"]["temperature"] == 0.7
    assert plan.run_config(DEFAULT, "word_sorting", "lr3e-4", 1)["training"]["lr"] == 3.0e-4
    # a variant for some iterations only
    assert (plan.run_config(DEFAULT, "word_sorting", "greedy_after1", 1)
            == plan.run_config(DEFAULT, "word_sorting", "tripost", 1))
    assert plan.run_config(DEFAULT, "word_sorting", "greedy_after1", 3)["rollout"]["do_sample"] is False
    # iteration 1 reuses the main run's edited trajectories unless the collection differs
    shared = {run: plan.trajectories_run(DEFAULT, task, run, 1) == "tripost"
              for task in ("word_sorting", "logical_deduction") for run in plan.recipe_runs(DEFAULT) + ["p-1", "w2"]
              if (task, run) != ("logical_deduction", "window_all")}
    assert not shared["temp0.7"] and not shared["more_questions"]
    assert all(shared[run] for run in ("greedy_after1", "mask", "lr3e-4", "lr3e-5", "ep4", "control", "p-1", "w2"))
    assert plan.trajectories_run(DEFAULT, "word_sorting", "window_all", 1) == "tripost"  # the window was all already
    assert plan.trajectories_run(DEFAULT, "logical_deduction", "window_all", 1) == "window_all"  # 90 -> 360
    assert plan.trajectories_run(DEFAULT, "word_sorting", "mask", 2) == "mask"


def test_recipe_checkpoints_and_name_clashes():
    checkpoints = plan.recipe_checkpoints(DEFAULT, "word_sorting")
    runs = ["tripost", *DEFAULT["recipe"]["runs"], "control"]
    # a run that is the main run so far is not trained twice: greedy from t = 2 on; the whole
    # window, which word sorting has already
    same = {"greedy_after1/iter1", "window_all/iter1", "window_all/iter2", "window_all/iter3"}
    assert checkpoints == ["baseline"] + [f"{run}/iter{t}" for run in runs for t in (1, 2, 3)
                                          if f"{run}/iter{t}" not in same]
    assert "window_all/iter1" in plan.recipe_checkpoints(DEFAULT, "logical_deduction", 1)
    assert plan.recipe_checkpoints(DEFAULT, "word_sorting", 1) == [
        "baseline", "tripost/iter1", "temp0.7/iter1", "mask/iter1", "lr3e-4/iter1", "lr1e-4/iter1", "lr3e-5/iter1",
        "lr3e-5_greedy_after1/iter1", "ep4/iter1", "more_questions/iter1", "control/iter1"]
    clash = config(recipe={**DEFAULT["recipe"], "variants": {"p-1": {"tripost": {"mask_before_feedback": True}}},
                           "runs": ["p-1"]})
    with pytest.raises(ValueError, match=r"recipe.variants.p-1"):
        plan.recipe_runs(clash)
    with pytest.raises(ValueError, match=r"recipe.runs: 'nope'"):
        plan.recipe_runs(config(recipe={**DEFAULT["recipe"], "runs": ["nope"]}))
    assert plan.recipe_runs(config(recipe={**DEFAULT["recipe"], "runs": ["mask"], "control": False})) == ["mask"]
    assert plan.label("control/iter2") == "control: gold SFT (t=2)"
    assert plan.label("temp0.7/iter1") == "TriPosT temp0.7 (t=1)"
