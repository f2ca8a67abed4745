"""Train and inference see the same text: for every task and every prompt kind (first attempt,
feedback, updated answer), the token ids of the inference prompt are a prefix of the token ids
of the training text that continues it — with the scratch tokenizer and with a byte-level BPE
like a pretrained model's (trained here by the ``tokenizers`` library) and with SmolLM2's own."""

from __future__ import annotations

import random

import pytest
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import AutoTokenizer, PreTrainedTokenizerFast

from tripost import expert, io, stages
from tripost.improvement_data import sft_rows
from tripost.inference import next_prompt
from tripost.tasks import TASKS, get_task
from tripost.tokenizer import train_tokenizer
from tripost.training import encode_example
from tripost.trajectory import Trajectory, ground_truth_row, to_turns

from conftest import SPLIT_CFG, bigbench_sources

VOCAB = {"multistep_arithmetic": 400}  # the scratch tokenizer's merges, as config.yaml sets them
N_TRAJECTORIES = 6


def byte_level_bpe(texts: list[str]) -> PreTrainedTokenizerFast:
    """A GPT-2-style byte-level BPE (no added phrases), as a pretrained model's tokenizer."""
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=2000, special_tokens=["<|endoftext|>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tokenizer.train_from_iterator(texts, trainer=trainer)
    return PreTrainedTokenizerFast(tokenizer_object=tokenizer, eos_token="<|endoftext|>",
                                   pad_token="<|endoftext|>", clean_up_tokenization_spaces=False)


def edited_trajectories(task, records: list[dict]) -> list[tuple[dict, list[str], list[str]]]:
    """(record, attempts, feedbacks) of trajectories the scripted expert edited: a planted wrong
    attempt, its error feedback, the improvement and the "all correct" feedback."""
    judge, out = expert.ScriptedExpert(task), []
    for record in records:
        wrong = judge.demo_attempt(record, 0, 1.0)
        located = expert.locate_edit(task, judge, record, Trajectory([wrong], []), 10_000)
        edited = expert.improve(task, judge, record, located, 5)
        if edited["outcome"] == "edited":
            out.append((record, edited["attempts"], edited["feedbacks"]))
        if len(out) == N_TRAJECTORIES:
            break
    return out


@pytest.fixture(scope="module", params=sorted(TASKS))
def task_texts(request, tmp_path_factory):
    """(task, trajectories, every training text) of one task."""
    task = get_task(request.param)
    tmp = tmp_path_factory.mktemp(request.param)
    outputs = {split: tmp / f"{split}.jsonl" for split in stages.SPLITS}
    cfg = dict(SPLIT_CFG[task.name], n_extra_train=50)
    stages.make_splits(task.name, cfg, bigbench_sources(task, tmp), outputs)
    train = io.read_jsonl(outputs["train"])
    random.Random(0).shuffle(train)
    trajectories = edited_trajectories(task, train)
    assert len(trajectories) == N_TRAJECTORIES
    gold = {r["id"]: task.solve(r) for r in train}
    texts = [row["text"] for row in sft_rows(task, train, gold)]
    for record, attempts, feedbacks in trajectories:
        turns, last = to_turns(task, record, attempts, feedbacks)
        texts += [row["text"] for row in turns + [last, ground_truth_row(task, record, gold[record["id"]])]]
    return task, trajectories, texts


def prompts_and_continuations(task, record: dict, attempts: list[str], feedbacks: list[str]):
    """(kind, inference prompt, training text) for each generation call of one improvement turn."""
    (improvement,), _ = to_turns(task, record, attempts[:2], feedbacks[:2])
    states = {"attempt": Trajectory(), "feedback": Trajectory(attempts[:1], []),
              "updated answer": Trajectory(attempts[:1], feedbacks[:1])}
    for kind, state in states.items():
        prompt, asked = next_prompt(task, record, state)
        assert asked == ("feedback" if kind == "feedback" else "attempt")
        assert improvement["text"].startswith(prompt), kind
        yield kind, prompt, improvement["text"]
    yield "attempt (sft)", task.prompt(record), task.rationale_text(record, task.solve(record))


def _check_prefixes(tokenizer, task, trajectories) -> None:
    for record, attempts, feedbacks in trajectories:
        for kind, prompt, text in prompts_and_continuations(task, record, attempts, feedbacks):
            prompt_ids = tokenizer(prompt, add_special_tokens=True)["input_ids"]
            text_ids = encode_example(tokenizer, text, len(prompt), None, 1.0)["input_ids"]
            assert text_ids[: len(prompt_ids)] == prompt_ids, (
                f"{task.name} {kind}: the prompt's tokens {tokenizer.convert_ids_to_tokens(prompt_ids[-6:])} "
                "vs the training text's "
                f"{tokenizer.convert_ids_to_tokens(text_ids[len(prompt_ids) - 6: len(prompt_ids)])}")
            assert len(text_ids) > len(prompt_ids) + 1


def test_inference_prompts_are_token_prefixes_with_the_scratch_tokenizer(task_texts):
    task, trajectories, texts = task_texts
    _check_prefixes(train_tokenizer(texts, task.phrases, VOCAB.get(task.name, 0)), task, trajectories)


def test_inference_prompts_are_token_prefixes_with_a_byte_level_bpe(task_texts):
    task, trajectories, texts = task_texts
    _check_prefixes(byte_level_bpe(texts), task, trajectories)


def test_inference_prompts_are_token_prefixes_with_smollm2s_tokenizer(task_texts, smollm2):
    task, trajectories, _ = task_texts
    _check_prefixes(AutoTokenizer.from_pretrained(smollm2), task, trajectories)
