"""The typed settings: resolved once from every override layer, with help on every field, in step
with the schema, and rebuilt from a rule's params exactly."""

from __future__ import annotations

import dataclasses

import pytest
import yaml

from tripost import plan
from tripost.job_settings import (
    DecodingSettings,
    ExpertSettings,
    IterationSettings,
    LLMConnection,
    LLMSettings,
    ModelSettings,
    RolloutSettings,
    TrainingSettings,
    as_params,
    from_params,
    llm_settings,
)
from tripost.settings import load_schema, merged

from conftest import REPO

CONFIG = yaml.safe_load((REPO / "config.yaml").read_text())
SCHEMA = load_schema(REPO / "schemas" / "config.schema.yaml")
EVERY_SETTINGS_CLASS = [value for value in vars(__import__("tripost.job_settings").job_settings).values()
                        if isinstance(value, type) and dataclasses.is_dataclass(value)]


def test_every_field_says_what_it_is():
    assert len(EVERY_SETTINGS_CLASS) >= 15
    for cls in EVERY_SETTINGS_CLASS:
        assert cls.__doc__ and cls.__dataclass_params__.frozen, cls
        for field in dataclasses.fields(cls):
            assert field.metadata.get("help"), f"{cls.__name__}.{field.name} has no help"


def _schema_keys(definition: str) -> set[str]:
    block = SCHEMA["definitions"][definition]
    parts = [block, *block.get("allOf", [])]
    return {key for part in parts for key in part.get("properties", {})}


@pytest.mark.parametrize(("cls", "schema_block"), [
    (TrainingSettings, "training_delta"), (RolloutSettings, "decoding_delta"), (IterationSettings, "tripost"),
])
def test_the_settings_classes_name_what_the_schema_allows(cls, schema_block):
    """A key the schema takes is a field (and back): neither can gain a setting the other lacks."""
    fields = {field.name for field in dataclasses.fields(cls)}
    assert fields == _schema_keys(schema_block)


def test_resolve_applies_every_layer_and_types_every_block():
    """config.yaml, then the task's overrides, the iteration's, the run's own."""
    config = merged(CONFIG, {"overrides": {"iterations": {"2": {"rollout": {"temperature": 0.5}}}}})
    main = plan.resolve(config, "logical_deduction", plan.MAIN_RUN, 2)
    assert isinstance(main.tripost, IterationSettings) and isinstance(main.tripost.rollout, RolloutSettings)
    assert main.tripost.collect_window == 90  # overrides.tasks.logical_deduction
    assert main.tripost.rollout.temperature == 0.5  # overrides.iterations.2
    assert plan.resolve(config, "logical_deduction", plan.MAIN_RUN, 1).tripost.rollout.temperature == 1.0
    assert main.tripost.collect_from == ("train",) and main.iteration == 2
    assert plan.resolve(config, "multistep_arithmetic").baseline.lr == 3.0e-4  # its baseline override
    assert plan.resolve(config, "word_sorting").baseline.lr == CONFIG["baseline"]["training"]["lr"]
    variant = plan.resolve(config, "word_sorting", "lr3e-4", 1)
    assert variant.tripost.training.lr == 3.0e-4 and variant.tripost.training.epochs == 1
    demo = plan.resolve(config, "word_sorting", plan.SI_DEMO, 1).tripost
    assert demo.self_improve_section_weight == CONFIG["baselines"]["si_demo"]["self_improve_section_weight"]
    # a baseline's null training falls back on the block the config names
    resolved = plan.resolve(config, "word_sorting")
    assert resolved.answer_only == resolved.baseline and resolved.lmsi.training == resolved.tripost.training
    # LMSI samples with the task's rollout settings, not an iteration's
    first = plan.resolve(config, "logical_deduction").tripost.rollout
    assert main.lmsi.rollout.temperature == 1.0 and main.lmsi.rollout == first
    assert isinstance(resolved.evaluation, DecodingSettings) and isinstance(resolved.model, ModelSettings)


def test_the_stage_views_hold_what_their_jobs_read():
    tripost = plan.resolve(CONFIG, "logical_deduction", plan.MAIN_RUN, 3).tripost
    assert as_params(tripost.collection(3)) == {"collect_window": 90, "iteration": 3, "passes": 1}
    assert as_params(tripost.data()) == {"improve_data_ratio": 1.5, "max_data_length": 10000, "min_data_length": 1}
    weighted = tripost.weighted_training()
    assert weighted.training == tripost.training and weighted.self_improve_section_weight == 1.5


@pytest.mark.parametrize("cls", [TrainingSettings, RolloutSettings, IterationSettings, ModelSettings])
def test_params_round_trip_exactly(cls):
    resolved = plan.resolve(CONFIG, "word_sorting", plan.MAIN_RUN, 2)
    settings = {TrainingSettings: resolved.baseline, RolloutSettings: resolved.tripost.rollout,
                IterationSettings: resolved.tripost, ModelSettings: resolved.model}[cls]
    params = as_params(settings)
    assert repr(params) == repr(eval(repr(params)))  # builtins only: Snakemake compares params by repr
    assert from_params(cls, params) == settings


def test_an_unknown_or_missing_key_names_its_path():
    block = as_params(plan.resolve(CONFIG, "word_sorting").tripost)
    block["training"]["learning_rate"] = 1e-3
    with pytest.raises(ValueError, match=r"tripost\.training\.learning_rate: unknown key"):
        from_params(IterationSettings, block, "tripost.")
    del block["training"]["learning_rate"], block["rollout"]["top_p"]
    with pytest.raises(ValueError, match=r"tripost\.rollout\.top_p: missing"):
        from_params(IterationSettings, block, "tripost.")


def test_an_llm_block_splits_into_what_it_answers_and_how_to_reach_it():
    block = CONFIG["expert"]["openai"]
    llm = llm_settings(block)
    assert isinstance(llm, LLMSettings) and isinstance(llm.connection, LLMConnection)
    assert llm.connection.cache == block["cache"] and llm.feedback.temperature == block["feedback"]["temperature"]
    assert llm.price_per_million_tokens.prompt == block["price_per_million_tokens"]["prompt"]
    expert = ExpertSettings(kind="openai", max_rounds=5, openai=llm)
    assert from_params(ExpertSettings, as_params(expert)) == expert
