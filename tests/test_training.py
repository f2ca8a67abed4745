"""Per-token labels, loss weights and the weighted loss, on hand-made examples; a real Trainer step."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys

import torch
from safetensors.torch import load_file

import tripost.model
from tripost.generation import generate
from tripost.job_settings import TrainingSettings
from tripost.model import build_scratch_model
from tripost.tokenizer import train_tokenizer
from tripost.training import (
    IGNORE,
    Collator,
    encode_dataset,
    encode_example,
    mask_before_weighted,
    train,
    weighted_loss,
    worth_compiling,
)

from conftest import decoding_settings, scratch_model, training_settings

ARCH = scratch_model(32, 1, 2, 256)


def tiny_tokenizer():
    return train_tokenizer(["Q: ab\nAnswer: Let's think step by step.\n(1) xy\nFeedback: ok"], [], 0)


def test_labels_and_weights_exact():
    tokenizer = tiny_tokenizer()
    prompt = "Q: ab\nAnswer: Let's think step by step."
    text = prompt + "\n(1) x\nFeedback: ok"
    item = encode_example(tokenizer, text, len(prompt), text.index("\nFeedback:"), 1.5)
    tokens = tokenizer.convert_ids_to_tokens(item["input_ids"])
    # <s> Q : ␠ a b \n [answer head] | \n ( 1 ) ␠ x | \n [Feedback:] ␠ o k </s>
    assert tokens[0] == "<s>" and tokens[-1] == "</s>"
    assert tokens[7] == "Answer: Let's think step by step."
    assert item["labels"][:8] == [IGNORE] * 8  # BOS and every prompt token masked
    assert item["labels"][8:] == item["input_ids"][8:]  # rationale, feedback and EOS learned
    assert item["weights"] == [1.0] * 14 + [1.5] * 6  # from "\n" before "Feedback:" to EOS
    assert tokens[14] == "\n" and tokens[15] == "Feedback:" and tokens[16] == " "


def test_masking_before_feedback_leaves_only_the_weighted_section_in_the_loss():
    tokenizer = tiny_tokenizer()
    prompt = "Q: ab\nAnswer: Let's think step by step."
    text = prompt + "\n(1) x\nFeedback: ok"
    row = mask_before_weighted({"text": text, "prompt_chars": len(prompt), "weight_start": text.index("\nFeedback:")})
    item = encode_example(tokenizer, text, row["prompt_chars"], row["weight_start"], 1.5)
    assert item["labels"][:14] == [IGNORE] * 14  # prompt and M's attempt "\n(1) x": context only
    assert item["labels"][14:] == item["input_ids"][14:]  # "\nFeedback: ok</s>" learned, weight w
    assert [w for w, label in zip(item["weights"], item["labels"]) if label != IGNORE] == [1.5] * 6
    gold = {"text": text, "prompt_chars": len(prompt), "weight_start": None}
    assert mask_before_weighted(gold) == gold  # ground-truth rationales keep their whole loss


def test_no_weight_without_feedback_section():
    tokenizer = tiny_tokenizer()
    item = encode_example(tokenizer, "Q: ab\nAnswer: Let's think step by step.\n(1) x", 5, None, 1.5)
    assert set(item["weights"]) == {1.0}


def test_a_prompt_without_continuation_leaves_even_eos_out_of_the_loss():
    tokenizer = tiny_tokenizer()
    text = "Q: ab\nAnswer: Let's think step by step."
    item = encode_example(tokenizer, text, len(text), None, 1.5)
    assert item["labels"] == [IGNORE] * len(item["input_ids"])  # EOS sits at the prompt's end


def test_encoding_a_dataset_in_chunks_gives_each_example_its_own_encoding():
    """The dataset's chunked tokenization pairs every row with its own tokens (rows of different
    lengths, prompts and weighted sections, across chunk boundaries), drops exactly the rows
    over max_length, and keeps the others in order."""
    tokenizer = tiny_tokenizer()
    prompt = "Q: ab\nAnswer: Let's think step by step."
    texts = [prompt + "\n(1) x" * n + ("\nFeedback: ok" if n % 2 else "") for n in range(1, 8)]
    rows = [{"text": text, "prompt_chars": len(prompt) - n, "weight_start": text.find("\nFeedback:") if n % 2 else None}
            for n, text in enumerate(texts, start=1)]
    alone = [encode_example(tokenizer, row["text"], row["prompt_chars"], row["weight_start"], 1.5) for row in rows]
    max_length = sorted(len(item["input_ids"]) for item in alone)[4]
    kept = [item for item in alone if len(item["input_ids"]) <= max_length]
    items, dropped = encode_dataset(tokenizer, rows, 1.5, max_length, chunk=3)
    assert dropped == 2 and len(items) == 5
    assert items == kept
    assert len({tuple(item["input_ids"]) for item in items}) == 5  # no two rows share an encoding


def test_collator_pads_out_of_the_loss():
    batch = Collator(pad_id=0)([
        {"input_ids": [1, 5, 6], "labels": [IGNORE, 5, 6], "weights": [1.0, 1.0, 1.5]},
        {"input_ids": [1, 7], "labels": [IGNORE, 7], "weights": [1.0, 1.0]},
    ])
    assert batch["labels"].tolist() == [[IGNORE, 5, 6], [IGNORE, 7, IGNORE]]
    assert batch["weights"].tolist() == [[1.0, 1.0, 1.5], [1.0, 1.0, 0.0]]
    assert set(batch) == {"input_ids", "labels", "weights"}  # no attention mask: see the next test


def test_right_padding_without_a_mask_changes_no_real_position():
    """The Collator's batch, run without an attention mask, gives every real position the logits
    that its row alone gives, and so the loss of the rows one at a time."""
    tokenizer = tiny_tokenizer()
    model = build_scratch_model(tokenizer, ARCH, seed=0).eval()
    prompt = "Q: ab\nAnswer: Let's think step by step."
    texts = [prompt + "\n(1) xy\nFeedback: ok", prompt + "\n(1) x", prompt]
    items = [encode_example(tokenizer, text, len(prompt), text.find("\nFeedback:") if "Feedback" in text else None, 1.5)
             for text in texts]
    batch = Collator(tokenizer.pad_token_id)(items)
    assert len({len(item["input_ids"]) for item in items}) == 3  # two rows padded, by different amounts
    with torch.no_grad():
        batched = model(input_ids=batch["input_ids"]).logits
        alone = [model(input_ids=torch.tensor([item["input_ids"]])).logits[0] for item in items]
    for row, logits in enumerate(alone):
        torch.testing.assert_close(batched[row, : len(logits)], logits, rtol=1e-5, atol=1e-5)
    per_row = [weighted_loss(logits[None], torch.tensor([item["labels"]]), torch.tensor([item["weights"]]))
               for logits, item in zip(alone, items)]
    targets = [sum(label != IGNORE for label in item["labels"][1:]) for item in items]
    expected = sum(loss * n for loss, n in zip(per_row, targets)) / sum(targets)
    with torch.no_grad():
        torch.testing.assert_close(weighted_loss(batched, batch["labels"], batch["weights"]), expected)


def test_weighted_loss_by_hand():
    logits = torch.zeros(1, 4, 3)
    logits[0, 0, 1] = 2.0  # predicts token 1 at position 1
    labels = torch.tensor([[IGNORE, 1, 2, IGNORE]])
    weights = torch.tensor([[1.0, 1.0, 2.0, 0.0]])
    ce1 = -torch.log_softmax(torch.tensor([0.0, 2.0, 0.0]), 0)[1]
    ce2 = -torch.log_softmax(torch.zeros(3), 0)[2]
    expected = (ce1 * 1.0 + ce2 * 2.0) / 2  # normalised by the number of targets, not by weights
    assert torch.isclose(weighted_loss(logits, labels, weights), expected)


def test_trainer_step_lowers_the_loss(tmp_path):
    tokenizer = tiny_tokenizer()
    model = build_scratch_model(tokenizer, ARCH, seed=0)
    prompt = "Q: ab\nAnswer: Let's think step by step."
    rows = [{"text": prompt + "\n(1) xy\nFeedback: ok", "prompt_chars": len(prompt),
             "weight_start": len(prompt) + 7}] * 16
    cfg = training_settings(max_length=128, epochs=8, lr=1e-2, lr_scheduler="constant", warmup_ratio=0.0,
                            weight_decay=0.0, bf16=False)
    item = Collator(tokenizer.pad_token_id)(
        [encode_example(tokenizer, rows[0]["text"], len(prompt), rows[0]["weight_start"], 1.5)])

    def loss_now():
        with torch.no_grad():
            return weighted_loss(model(input_ids=item["input_ids"]).logits, item["labels"], item["weights"])

    before = loss_now()
    umask = os.umask(0o027)  # a group that shares the results reads every file, the weights included
    try:
        stats = train(model, tokenizer, rows, tmp_path / "ckpt", cfg, weight=1.5, seed=0)
    finally:
        os.umask(umask)
    assert stats["examples"] == 16 and stats["dropped_too_long"] == 0
    assert (tmp_path / "ckpt" / "config.json").exists() and (tmp_path / "ckpt" / "tokenizer.json").exists()
    modes = {file.name: oct(file.stat().st_mode & 0o777) for file in (tmp_path / "ckpt").rglob("*") if file.is_file()}
    assert set(modes.values()) == {"0o640"}, modes  # safetensors alone would write its weights 0600
    assert not (tmp_path / "ckpt" / "trainer").exists()  # the Trainer's empty output_dir is not left behind
    assert loss_now() < 0.5 * before


def test_a_compiled_model_trains_like_the_eager_one_and_saves_under_the_same_names(tmp_path):
    tokenizer = tiny_tokenizer()
    prompt = "Q: ab\nAnswer: Let's think step by step."
    rows = [{"text": prompt + "\n(1) xy" + " xy" * k, "prompt_chars": len(prompt), "weight_start": None}
            for k in range(8)] * 2  # rows of several lengths: batches of several shapes
    cfg = training_settings(max_length=128, epochs=2, lr=1e-2, lr_scheduler="constant", warmup_ratio=0.0,
                            weight_decay=0.0, bf16=False)
    stats, models = {}, {}
    for name, min_tokens in (("eager", None), ("compiled", 1)):
        models[name] = build_scratch_model(tokenizer, ARCH, seed=0)
        settings = dataclasses.replace(cfg, compile_min_tokens=min_tokens)
        stats[name] = train(models[name], tokenizer, rows, tmp_path / name, settings, weight=1.0, seed=0)
    assert (stats["eager"]["compiled"], stats["compiled"]["compiled"]) == (False, True)
    # regional: each decoder layer is compiled, the model around them is not
    compiled_modules = {name for name, module in models["compiled"].named_modules()
                        if getattr(module, "_compiled_call_impl", None) is not None}
    assert compiled_modules == {f"model.layers.{i}" for i in range(ARCH.num_layers)}
    # the same optimisation, up to the fused kernels' rounding
    assert abs(stats["compiled"]["train_loss"] - stats["eager"]["train_loss"]) < 1e-3 * stats["eager"]["train_loss"]
    eager, compiled = (load_file(tmp_path / name / "model.safetensors") for name in ("eager", "compiled"))
    assert eager.keys() == compiled.keys()
    assert all(torch.allclose(eager[key], compiled[key], atol=1e-4) for key in eager)


def test_without_a_cpp_compiler_a_job_that_would_compile_trains_eager(tmp_path, monkeypatch, capsys):
    from torch._inductor import cpp_builder, exc

    def no_compiler():
        raise exc.InvalidCxxCompiler()

    monkeypatch.setattr(cpp_builder, "get_cpp_compiler", no_compiler)
    tokenizer = tiny_tokenizer()
    rows = [{"text": "Q: ab\nAnswer: xy", "prompt_chars": 5, "weight_start": None}] * 4
    cfg = training_settings(max_length=64, epochs=1, bf16=False, compile_min_tokens=1)
    model = build_scratch_model(tokenizer, ARCH, seed=0)
    assert not train(model, tokenizer, rows, tmp_path / "ckpt", cfg, weight=1.0, seed=0)["compiled"]
    assert all(getattr(m, "_compiled_call_impl", None) is None for m in model.modules())
    assert "no C++ compiler" in capsys.readouterr().err


def test_compile_only_where_the_job_trains_on_enough_tokens():
    assert worth_compiling(training_settings(epochs=2, compile_min_tokens=1000), 500)
    assert not worth_compiling(training_settings(epochs=1, compile_min_tokens=1000), 999)
    assert not worth_compiling(training_settings(compile_min_tokens=None), 10**9)


def bf16_rows_and_cfg() -> tuple[list[dict], TrainingSettings]:
    prompt = "Q: ab\nAnswer: Let's think step by step."
    rows = [{"text": prompt + "\n(1) xy", "prompt_chars": len(prompt), "weight_start": None}] * 8
    cfg = training_settings(max_length=128, epochs=1, lr=1e-3, lr_scheduler="constant", warmup_ratio=0.0,
                            weight_decay=0.0, bf16=True)
    return rows, cfg


def test_bf16_trains_in_fp32_where_the_cpu_has_no_native_bf16(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(tripost.model, "native_bf16", lambda device: False)
    tripost.model._say_no_native_bf16.cache_clear()
    tokenizer = tiny_tokenizer()
    rows, cfg = bf16_rows_and_cfg()
    stats = train(build_scratch_model(tokenizer, ARCH, seed=0), tokenizer, rows, tmp_path / "ckpt", cfg,
                  weight=1.0, seed=0)
    assert stats["precision"] == "fp32"
    assert "no native bf16: fp32 instead" in capsys.readouterr().err


def test_a_model_trained_with_bf16_autocast_decodes_in_fp32_afterwards(tmp_path, monkeypatch):
    monkeypatch.setattr(tripost.model, "native_bf16", lambda device: True)  # the bf16 path, on any CPU
    tokenizer = tiny_tokenizer()
    model = build_scratch_model(tokenizer, ARCH, seed=0)
    prompt = "Q: ab\nAnswer: Let's think step by step."
    rows, cfg = bf16_rows_and_cfg()
    assert train(model, tokenizer, rows, tmp_path / "ckpt", cfg, weight=1.0, seed=0)["precision"] == "bf16 autocast"
    assert model(input_ids=torch.tensor([[1, 2, 3]])).logits.dtype == torch.float32
    gen_cfg = decoding_settings(batch_size=2, max_new_tokens=4)
    assert len(generate(model, tokenizer, [prompt], gen_cfg, seed=0)) == 1


def test_tokenizer_ids_do_not_depend_on_the_process_hash_seed():
    script = (
        "from tripost.tasks.word_sorting import WordSorting\n"
        "from tripost.tokenizer import train_tokenizer\n"
        "t = train_tokenizer(['Q: 12 ab -3\\n'], WordSorting().phrases, 40)\n"
        "print(sorted(t.get_vocab().items(), key=lambda kv: kv[1]))\n"
    )
    vocabularies = {
        subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True,
                       env={**os.environ, "PYTHONHASHSEED": str(seed)}).stdout
        for seed in (1, 2, 3)
    }
    assert len(vocabularies) == 1 and "The first letter:" in vocabularies.pop()
