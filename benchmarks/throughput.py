"""Training and generation throughput of the scratch model (run on demand, not in the tests).

    .venv/bin/python benchmarks/throughput.py [--hidden 256] [--layers 4] [--threads 2] [--attention eager]
    # on a GPU, a ~100M-parameter model through DeepSpeed ZeRO-2, batches sized to the GPU:
    .venv/bin/python benchmarks/throughput.py --hidden 768 --layers 12 --deepspeed configs/ds_zero2.json \
        --attention sdpa --precisions bf16 --decode-batches 32,128,auto

Prints training tokens/s (bf16 and fp32) through the real Trainer path, and generation tokens/s of
the batched KV-cache decoder on the inference device (the GPU when there is one), with the peak GPU
memory of each.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch

from tripost.generation import generate
from tripost.job_settings import DecodingSettings, ScratchModelSettings, TrainingSettings
from tripost.model import build_scratch_model, job_device, parameter_count
from tripost.tasks.multistep_arithmetic import MultistepArithmetic
from tripost.tokenizer import train_tokenizer
from tripost.training import train

SPLIT = dict(bigbench_seed=42, trials=300, train_trials=150, test_trials=30, n_val=50, split_seed=0,
             extra_seed=1, n_extra_train=800)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--hidden", type=int, default=256)
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--attention", choices=["eager", "sdpa"], default="eager", help="the model's attention kernel")
    parser.add_argument("--deepspeed", default=None, help="a DeepSpeed config for training")
    parser.add_argument("--precisions", default="bf16,fp32", help="training precisions to measure")
    parser.add_argument("--decode-batches", default="32,128,256", help="rows a batch, or auto")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    task = MultistepArithmetic()
    records = task.make_splits(SPLIT, {})["extra_train"]
    rows = [{"text": task.rationale_text(r, task.solve(r)), "prompt_chars": len(task.prompt(r)), "weight_start": None}
            for r in records]
    tokenizer = train_tokenizer([row["text"] for row in rows], task.phrases, 400)
    arch = ScratchModelSettings(hidden_size=args.hidden, intermediate_size=args.hidden * 8 // 3 // 16 * 16,
                                num_layers=args.layers, num_heads=max(args.hidden // 64, 2), max_positions=2048)
    for precision in args.precisions.split(","):
        model = build_scratch_model(tokenizer, arch, seed=0)
        model.set_attn_implementation(args.attention)
        cfg = TrainingSettings(epochs=1, lr=1e-3, lr_scheduler="cosine", warmup_ratio=0.0, weight_decay=0.0,
                               max_grad_norm=1.0, batch_size=8, grad_accum=1, max_length=1024, bf16=precision == "bf16",
                               deepspeed=args.deepspeed, compile_min_tokens=None)
        with tempfile.TemporaryDirectory() as tmp:
            stats = train(model, tokenizer, rows, Path(tmp), cfg, weight=1.0, seed=0)
        memory = stats["speed"]["peak_gpu_memory_gib"]
        print(f"train  params={parameter_count(model):,} {precision} on {stats['devices']}, "
              f"deepspeed={args.deepspeed}: {stats['speed']['tokens_per_second']:.0f} tokens/s"
              + (f", peak GPU memory {memory:.1f} GiB" if memory else ""))
    device = job_device()
    model = model.to(device, torch.bfloat16 if device.type == "cuda" else torch.float32)
    prompts = [task.prompt(r) for r in records[:256]]
    for batch in args.decode_batches.split(","):
        decode = DecodingSettings(max_calls=1, batch_size=batch if batch == "auto" else int(batch), max_new_tokens=256,
                                  loop_window=None, do_sample=False, temperature=1.0, top_p=1.0,
                                  bf16=device.type == "cuda", revise_on="any")
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats()
        started = time.time()
        outputs = generate(model, tokenizer, prompts, decode, seed=0)
        seconds = time.time() - started
        tokens = sum(len(tokenizer(o, add_special_tokens=False)["input_ids"]) for o in outputs)
        memory = (f", peak GPU memory {torch.cuda.max_memory_allocated() / 2**30:.1f} GiB"
                  if device.type == "cuda" else "")
        print(f"decode batch={batch} on {device}: {tokens / seconds:.0f} new tokens/s "
              f"({seconds:.1f} s for {len(prompts)} prompts){memory}")


if __name__ == "__main__":
    main()
