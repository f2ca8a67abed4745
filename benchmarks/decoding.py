"""Greedy decoding of a trained checkpoint at the evaluation's settings, three ways in one run.

    .venv/bin/python benchmarks/decoding.py results/models/multistep_arithmetic/seed0/baseline \
        results/data/multistep_arithmetic/test.jsonl multistep_arithmetic [--prompts 128] [--batch 128]

On the task's first-attempt prompts: `generation.generate` with its KV cache (a static buffer
whose attention reads only the positions written so far), the same decoder with transformers'
`StaticCache` (attention over the whole buffer: the path before), and HF `generate` batched with
left padding. Prints new tokens/s, the ratios, and how many outputs differ from ours (greedy:
none may). No loop stop (`loop_window` off), so that all three write the same tokens.
"""

from __future__ import annotations

import argparse
import json
import time

import torch
from transformers import StaticCache
from versus_hf import hf_generate, new_tokens

from tripost import generation, io
from tripost.job_settings import DecodingSettings
from tripost.model import load_for_generation
from tripost.tasks import get_task


def whole_buffer_cache(config, max_cache_len: int) -> StaticCache:
    """transformers' StaticCache: attention reads the whole buffer, its masked tail included."""
    return StaticCache(config=config, max_cache_len=max_cache_len)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("checkpoint")
    parser.add_argument("test")
    parser.add_argument("task")
    parser.add_argument("--prompts", type=int, default=128)
    parser.add_argument("--batch", type=int, default=128, help="rows a batch (the evaluation's default)")
    parser.add_argument("--max-new-tokens", type=int, default=768)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    task = get_task(args.task)
    model, tokenizer = load_for_generation(args.checkpoint, bf16=False)
    prompts = [task.prompt(record) for record in io.read_jsonl(args.test)[: args.prompts]]
    cfg = DecodingSettings(max_calls=1, batch_size=args.batch, max_new_tokens=args.max_new_tokens, loop_window=None,
                           do_sample=False, temperature=1.0, top_p=1.0, bf16=False, revise_on="named_error")
    filled = generation.filled_static_cache
    seconds = {}
    started = time.perf_counter()
    ours = generation.generate(model, tokenizer, prompts, cfg, seed=0)
    seconds["ours"] = time.perf_counter() - started
    generation.filled_static_cache = whole_buffer_cache
    try:
        started = time.perf_counter()
        whole = generation.generate(model, tokenizer, prompts, cfg, seed=0)
        seconds["whole_buffer"] = time.perf_counter() - started
    finally:
        generation.filled_static_cache = filled
    started = time.perf_counter()
    hf = hf_generate(model, tokenizer, prompts, args.batch, args.max_new_tokens)
    seconds["hf_batched"] = time.perf_counter() - started
    tokens = new_tokens(tokenizer, ours)
    print(json.dumps({
        "checkpoint": args.checkpoint, "prompts": len(prompts), "batch": args.batch,
        "max_new_tokens": args.max_new_tokens, "mean_new_tokens": round(tokens / len(prompts), 1),
        **{f"{name}_new_tokens_per_s": round(tokens / s) for name, s in seconds.items()},
        "ratio_vs_whole_buffer": round(seconds["whole_buffer"] / seconds["ours"], 2),
        "ratio_vs_hf_batched": round(seconds["hf_batched"] / seconds["ours"], 2),
        "outputs_differing_from_whole_buffer": sum(a != b for a, b in zip(ours, whole)),
        "outputs_differing_from_hf_batched": sum(a != b for a, b in zip(ours, hf)),
    }, indent=1))


if __name__ == "__main__":
    main()
