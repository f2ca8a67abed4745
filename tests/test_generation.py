"""Batched KV-cache generation: equal to transformers' greedy generate; sampling reproducible;
rows end at a rejected line or in a loop; finished rows leave the batch without changing the rest;
batches by length, sized to the free memory; device placement without CUDA."""

from __future__ import annotations

import functools
from dataclasses import replace

import pytest
import torch

import tripost.model
from tripost import generation
from tripost.generation import generate, in_loop, kv_cache_bytes_per_token, length_batches
from tripost.model import build_scratch_model, job_device, load_for_generation
from tripost.tokenizer import train_tokenizer

from conftest import decoding_settings, scratch_model

CFG = decoding_settings(batch_size=3, max_new_tokens=12, loop_window=None)


def setup():
    tokenizer = train_tokenizer(["abcdefgh ijk\nQ: 0123456789"], [], 0)
    model = build_scratch_model(tokenizer, scratch_model(32, 2, 2, 64), seed=1)
    return model, tokenizer


def assert_equals_transformers_generate(model, tokenizer, prompts: list[str], ours: list[str],
                                        max_new_tokens: int) -> None:
    """Each of our batched continuations equals ``model.generate`` on its prompt alone (greedy)."""
    for prompt, text in zip(prompts, ours, strict=True):
        encoded = tokenizer(prompt, return_tensors="pt")
        out = model.generate(**encoded, max_new_tokens=max_new_tokens, do_sample=False,
                             pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id)
        assert text == tokenizer.decode(out[0, encoded["input_ids"].shape[1]:], skip_special_tokens=True)


def test_greedy_equals_transformers_generate():
    model, tokenizer = setup()
    prompts = ["Q: 1", "Q: 12345 abc", "ab", "Q: 9 8 7 6 5 4 3"]
    ours = generate(model, tokenizer, prompts, CFG, seed=0)
    assert_equals_transformers_generate(model, tokenizer, prompts, ours, max_new_tokens=12)


def test_bf16_autocast_decoding_runs_and_matches_length_limits(monkeypatch):
    monkeypatch.setattr(tripost.model, "native_bf16", lambda device: True)  # the bf16 path, on any CPU
    model, tokenizer = setup()
    out = generate(model, tokenizer, ["Q: 1", "Q: 12345 abc"], replace(CFG, bf16=True), seed=0)
    assert len(out) == 2 and all(len(tokenizer(o)["input_ids"]) <= 13 for o in out)


@pytest.mark.parametrize("native", [True, False])
def test_bf16_decodes_under_autocast_only_where_it_is_native(monkeypatch, native):
    monkeypatch.setattr(tripost.model, "native_bf16", lambda device: native)
    seen = []
    decode = generation.decode_batch
    monkeypatch.setattr(generation, "decode_batch",
                        lambda *args, **kwargs: seen.append(torch.is_autocast_enabled("cpu"))
                        or decode(*args, **kwargs))
    model, tokenizer = setup()
    generate(model, tokenizer, ["Q: 1"], replace(CFG, bf16=True), seed=0)
    assert seen == [native]


def test_sampling_is_seeded_and_applied():
    model, tokenizer = setup()
    cfg = replace(CFG, do_sample=True, temperature=1.5)
    prompts = ["Q: 1"] * 6
    first, again = generate(model, tokenizer, prompts, cfg, seed=3), generate(model, tokenizer, prompts, cfg, seed=3)
    assert first == again
    assert len(set(first)) > 1  # sampling really happened: rows differ


def test_context_limit_respected():
    model, tokenizer = setup()
    out = generate(model, tokenizer, ["a" * 70, "b"], replace(CFG, max_new_tokens=100), seed=0)
    assert out[0] == ""  # the prompt fills the context: nothing generated, no crash
    assert len(tokenizer(out[1])["input_ids"]) <= 64


# A tiny model fitted (plain Adam, a few seconds) to continue each prompt in a known way, so that
# greedy decoding has lines, loops and early EOS to work on.
FITTED = {"Q: 1": "\nab\ncd\nef\ngh", "Q: 2": "\nxy xy xy xy xy xy xy xy xy xy xy xy xy xy xy xy xy xy",
          "Q: 3": "\nfe", "Q: 4": "\nhgf\nedc\nba"}


@functools.cache
def fitted_model():
    texts = [prompt + rest for prompt, rest in FITTED.items()]
    tokenizer = train_tokenizer(texts, [], 0)
    model = build_scratch_model(tokenizer, scratch_model(64, 2, 2, 128), seed=1)
    encoded = [tokenizer(t)["input_ids"] + [tokenizer.eos_token_id] for t in texts]
    width = max(map(len, encoded))
    ids = torch.tensor([e + [tokenizer.pad_token_id] * (width - len(e)) for e in encoded])
    prompt_lengths = [len(tokenizer(prompt)["input_ids"]) for prompt in FITTED]
    labels = torch.tensor([[-100] * n + e[n:] + [-100] * (width - len(e)) for e, n in zip(encoded, prompt_lengths)])
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    targets, counted = labels[:, 1:], labels[:, 1:] != -100
    for _ in range(1000):  # until every continuation token is the argmax, with a margin (loss < 0.01)
        optimizer.zero_grad()
        output = model(input_ids=ids, labels=labels)
        if output.loss.item() < 0.01 and (output.logits[:, :-1].argmax(-1) == targets)[counted].all():
            break
        output.loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
    return model.eval(), tokenizer


def test_fitted_rows_finish_at_different_steps_and_still_equal_transformers_generate():
    model, tokenizer = fitted_model()
    prompts = list(FITTED) * 3  # rows ending at 3 to 50 tokens: finished rows leave the batch
    cfg = replace(CFG, batch_size=12, max_new_tokens=60)
    ours = generate(model, tokenizer, prompts, cfg, seed=0)
    assert ours[:4] == list(FITTED.values())  # the fit worked
    assert_equals_transformers_generate(model, tokenizer, prompts, ours, max_new_tokens=60)


def test_shared_padding_counts_the_columns_padded_in_every_row():
    attention = torch.tensor([[0, 0, 0, 1, 1], [0, 0, 1, 1, 1], [0, 0, 0, 0, 1]])
    assert generation.shared_padding(attention) == 2
    assert generation.shared_padding(torch.ones(2, 3, dtype=torch.long)) == 0


def test_a_prefill_chunk_runs_without_its_shared_padding_and_decodes_as_generate_does():
    model, tokenizer = setup()
    # 20 rows in one batch: the first chunk of 16 (the shortest prompts) shares the padding that the
    # four long prompts set, so it runs narrower than the batch
    prompts = ["Q: 1"] * 8 + ["Q: 12", "ab", "Q: 9 8"] * 3 + ["Q: 9 8 7 6 5 4 3 2 1 0 abc"] * 3
    widths = []
    hook = model.register_forward_pre_hook(lambda module, args, kwargs: widths.append(kwargs["input_ids"].shape),
                                           with_kwargs=True)
    ours = generate(model, tokenizer, prompts, replace(CFG, batch_size=20), seed=0)
    hook.remove()
    longest = len(tokenizer(prompts[-1])["input_ids"])
    assert widths[0][0] == 16 and widths[0][1] < longest and widths[1] == (4, longest)
    assert_equals_transformers_generate(model, tokenizer, prompts, ours, max_new_tokens=12)


def test_the_filled_static_cache_attends_over_what_was_written_and_decodes_as_the_whole_buffer(monkeypatch):
    cache = generation.filled_static_cache(setup()[0].config, 40)
    keys = torch.randn(3, 2, 5, 16)
    read, _ = cache.update(keys, keys.clone(), 0)
    assert read.shape[2] == 5 and torch.equal(read, keys) and cache.layers[0].keys.shape[2] == 40
    assert cache.layers[0].get_mask_sizes(1) == (6, 0)  # the next step's query sees 5 + itself
    model, tokenizer = fitted_model()
    prompts = list(FITTED) * 3  # rows that finish at different steps leave the batch
    cfg = replace(CFG, batch_size=12, max_new_tokens=60)
    ours = generate(model, tokenizer, prompts, cfg, seed=0)
    # transformers' own StaticCache: attention over the whole buffer, the masked tail included
    from transformers import StaticCache
    monkeypatch.setattr(generation, "filled_static_cache",
                        lambda config, max_cache_len: StaticCache(config=config, max_cache_len=max_cache_len))
    assert generate(model, tokenizer, prompts, cfg, seed=0) == ours


def test_a_row_ends_after_the_first_line_the_reader_rejects():
    model, tokenizer = fitted_model()
    asked = []

    def stop(index: int, text: str) -> bool:
        asked.append((index, text))
        return index == 0 and text.count("\n") == 3

    out = generate(model, tokenizer, ["Q: 1", "Q: 4"], replace(CFG, max_new_tokens=60), seed=0, stop_after_line=stop)
    assert out == ["\nab\ncd\n", FITTED["Q: 4"]]
    assert (0, "\nab\n") in asked and (1, "\nhgf\nedc\n") in asked


def test_a_row_in_a_loop_ends_early_and_others_are_unchanged():
    model, tokenizer = fitted_model()
    cfg = replace(CFG, max_new_tokens=60)
    plain = generate(model, tokenizer, ["Q: 2", "Q: 4"], cfg, seed=0)
    cut = generate(model, tokenizer, ["Q: 2", "Q: 4"], replace(cfg, loop_window=16), seed=0)
    assert plain[0] == FITTED["Q: 2"] and plain[1] == cut[1] == FITTED["Q: 4"]
    assert plain[0].startswith(cut[0]) and 16 <= len(cut[0]) < len(plain[0])


def test_in_loop_finds_cycles_up_to_a_quarter_of_the_window():
    rows = torch.tensor([
        [7] * 16,                  # period 1
        [1, 2, 3] * 5 + [1],       # period 3
        [1, 2, 3, 4, 5] * 3 + [1],  # period 5 > 16 / 4
        list(range(16)),           # no cycle
        [1, 2] * 7 + [1, 3],       # broken at the end
    ])
    assert in_loop(rows).tolist() == [True, True, False, False, False]


def test_length_batches_group_by_length_within_rows_and_cache_slots():
    lengths = [5, 1, 9, 3, 2, 8]  # in length order: 1, 4, 3, 0, 5, 2
    assert length_batches(lengths, max_rows=4, room=10) == [[1, 4, 3, 0], [5, 2]]
    # 24 cache slots, 10 new tokens each: rows x (longest + 10) <= 24
    assert length_batches(lengths, max_rows=4, room=10, cache_tokens=24) == [[1, 4], [3], [0], [5], [2]]
    # a prompt longer than the budget still gets a batch of its own
    assert length_batches([30], max_rows=4, room=10, cache_tokens=24) == [[0]]


def test_kv_cache_bytes_per_token_by_hand():
    model, _ = setup()  # 2 layers, 2 heads of 16, fp32: keys and values
    assert kv_cache_bytes_per_token(model.config, torch.float32) == 2 * 2 * 2 * 16 * 4
    assert kv_cache_bytes_per_token(model.config, torch.bfloat16) == 2 * 2 * 2 * 16 * 2


def test_auto_batches_fit_the_free_memory_and_decode_the_same(monkeypatch):
    model, tokenizer = setup()
    prompts = ["Q: 1", "Q: 12345 abc", "ab", "Q: 9 8 7 6 5 4 3", "Q: 77", "abc ijk"]
    fixed = generate(model, tokenizer, prompts, CFG, seed=0)
    per_token = kv_cache_bytes_per_token(model.config, torch.float32)
    lengths = [len(tokenizer(p)["input_ids"]) for p in prompts]
    free = int(2 * (max(lengths) + CFG.max_new_tokens) * per_token / generation.AUTO_MEMORY_SHARE)
    monkeypatch.setattr(generation, "free_memory_bytes", lambda device: free)  # room for two rows
    auto = replace(CFG, batch_size="auto")
    batches = generation.batches_for(model, lengths, auto)
    assert sorted(i for b in batches for i in b) == list(range(6)) and 3 <= len(batches) < 6
    assert all(len(b) * (max(lengths[i] for i in b) + CFG.max_new_tokens) * per_token
               <= generation.AUTO_MEMORY_SHARE * free for b in batches)
    assert generate(model, tokenizer, prompts, auto, seed=0) == fixed  # greedy: batching changes nothing


def test_a_model_for_generation_goes_to_the_cpu_in_fp32_without_cuda(tmp_path):
    model, tokenizer = setup()
    model.save_pretrained(tmp_path)
    tokenizer.save_pretrained(tmp_path)
    assert not torch.cuda.is_available() and job_device().type == "cpu"
    loaded, _ = load_for_generation(tmp_path, bf16=True)  # bf16 on the CPU is autocast, weights stay fp32
    assert loaded.device.type == "cpu" and loaded.dtype == torch.float32
    assert (generate(loaded, tokenizer, ["Q: 1", "ab"], CFG, seed=0)
            == generate(model, tokenizer, ["Q: 1", "ab"], CFG, seed=0))
