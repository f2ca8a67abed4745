"""Our training and decoding paths against plain Hugging Face, measured in one run, as ratios.

    .venv/bin/python benchmarks/versus_hf.py [--rows 1000] [--prompts 64] [--threads 2] [--repeats 1] [--profile] \
        [--out FILE.json]
    .venv/bin/python benchmarks/versus_hf.py --iteration results/tripost/word_sorting/seed0/tripost/iter1/train.jsonl \
        --checkpoint results/models/word_sorting/seed0/baseline --repeats 3 --threads 1

The same scratch model (config.yaml's `model.scratch`), tokenizer and multistep-arithmetic gold
rationales for every side:

- training: `training.train` (our collator, length-grouped batches, weighted loss), eager and
  compiled (`compile_min_tokens: 0`; its tokens/s include the compile time), against a
  plain `transformers.Trainer` with `DataCollatorForLanguageModeling` (pad to the longest row of
  a random batch), one epoch each at config.yaml's baseline settings; tokens/s counts real tokens
  (no padding), and MFU is 6 x parameters x tokens/s over the matmul rate measured here;
- decoding, greedy, on a model trained by the run above: `generation.generate` against HF
  `generate` batched with left padding and one prompt at a time (on the first `--single`
  prompts); new tokens/s, and how many outputs differ from ours.

With `--iteration TRAIN.jsonl --checkpoint DIR` it measures instead what a TriPosT iteration's
training job does: both sides train the checkpoint that iteration starts from (loaded as the job
loads it) for one epoch of that iteration's rows at config.yaml's `tripost.training` settings;
ours with its weighted loss, the plain Trainer with a loss on every token (docs/recipe.md,
session 24).

With `--profile` it also runs one pass of ours under the torch profiler and reports the seconds
its matmul kernels took (`mm`, `addmm`, and `bmm`: the scratch model's eager attention), and the
ceiling: the ratio ours would reach if everything but those matmuls took no time.

Run it on a quiet machine: the ratios are what carries over between machines. On a shared host
whose speed swings, `--repeats N` trains ours and the plain Trainer alternately N times, and
decodes with ours and batched `generate` alternately N times, and reports every pass and the
median of the passes' ratios.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import json
import math
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import torch
import yaml
from transformers import DataCollatorForLanguageModeling, Trainer, TrainingArguments

from tripost import io
from tripost.generation import generate
from tripost.job_settings import DecodingSettings, ScratchModelSettings, TrainingSettings, from_params
from tripost.model import build_scratch_model, load, native_bf16, parameter_count
from tripost.tasks.multistep_arithmetic import MultistepArithmetic
from tripost.tokenizer import train_tokenizer
from tripost.training import ListDataset, mask_before_weighted, train

REPO = Path(__file__).resolve().parent.parent
SPLIT = dict(bigbench_seed=42, trials=300, train_trials=150, test_trials=30, n_val=50, split_seed=0,
             extra_seed=1, n_extra_train=2000)


def arithmetic_rationales(task: MultistepArithmetic, records: list, config: dict) -> tuple[list[str], list[dict], Any]:
    """The benchmarks' training material: gold rationales of ``records``, as texts and as training
    rows (no prompt masked, no weighted section), and the scratch tokenizer trained on them."""
    texts = [task.rationale_text(r, task.solve(r)) for r in records]
    rows = [{"text": t, "prompt_chars": 0, "weight_start": None} for t in texts]
    return texts, rows, train_tokenizer(texts, task.phrases, config["model"]["tokenizer_vocab_size"][task.name])


def matmul_rate(dtype: torch.dtype, size: int = 1024, seconds: float = 2.0) -> float:
    """FLOP/s of square matmuls in ``dtype`` on this machine's threads."""
    a, b = torch.randn(size, size, dtype=dtype), torch.randn(size, size, dtype=dtype)
    a @ b  # warm-up
    done, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        a @ b
        done += 1
    return 2 * size**3 * done / (time.perf_counter() - started)


def plain_trainer_rate(new_model, tokenizer, texts: list[str], cfg: TrainingSettings, bf16: bool) -> float:
    """Real tokens/s of a plain Trainer training ``new_model()``: causal-LM loss on every token,
    padded to the longest row."""
    model = new_model()
    items = [{"input_ids": tokenizer(t)["input_ids"] + [tokenizer.eos_token_id]} for t in texts]
    items = [i for i in items if len(i["input_ids"]) <= cfg.max_length]  # the rows ours keeps
    with tempfile.TemporaryDirectory() as tmp:
        args = TrainingArguments(output_dir=tmp, num_train_epochs=1, per_device_train_batch_size=cfg.batch_size,
                                 learning_rate=cfg.lr, lr_scheduler_type=cfg.lr_scheduler,
                                 warmup_steps=int(cfg.warmup_ratio * math.ceil(len(items) / cfg.batch_size)),
                                 weight_decay=cfg.weight_decay, bf16=bf16, use_cpu=True, seed=0, save_strategy="no",
                                 report_to="none", disable_tqdm=True, dataloader_num_workers=0)
        collator = DataCollatorForLanguageModeling(tokenizer, mlm=False)
        result = Trainer(model=model, args=args, train_dataset=ListDataset(items), data_collator=collator).train()
    return sum(len(i["input_ids"]) for i in items) / result.metrics["train_runtime"]


def new_tokens(tokenizer, outputs: list[str]) -> int:
    return sum(len(tokenizer(o, add_special_tokens=False)["input_ids"]) for o in outputs)


def hf_generate(model, tokenizer, prompts: list[str], batch_size: int, max_new_tokens: int) -> list[str]:
    """HF ``generate``, greedy, left-padded batches in input order."""
    outputs = []
    for start in range(0, len(prompts), batch_size):
        encoded = tokenizer(prompts[start:start + batch_size], return_tensors="pt", padding=True)
        with torch.no_grad():
            ids = model.generate(**encoded, max_new_tokens=max_new_tokens, do_sample=False,
                                 pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id)
        outputs += tokenizer.batch_decode(ids[:, encoded["input_ids"].size(1):], skip_special_tokens=True)
    return outputs


MATMULS = ("aten::mm", "aten::addmm", "aten::bmm")


def matmul_seconds(function) -> tuple[Any, float]:
    """``function()``'s result, and the seconds its matmul kernels took (torch profiler, self time)."""
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as profile:
        result = function()
    return result, sum(e.self_cpu_time_total for e in profile.key_averages() if e.key in MATMULS) / 1e6


def ceiling(work: float, other_rate: float, ours_matmul_s: float) -> dict:
    """Ours' matmul seconds for ``work`` (tokens), and the ratio to ``other_rate`` (tokens/s) that
    ours would reach if nothing but its matmuls took time."""
    return {"ours_matmul_seconds": round(ours_matmul_s, 2),
            "ceiling_ratio": round(work / ours_matmul_s / other_rate, 2)}


def decoding_rate(outputs: list, tokenizer, decode, *args, **kwargs) -> float:
    """New tokens/s of ``decode(*args, **kwargs)``; its outputs are appended to ``outputs``."""
    result, seconds = timed(decode, *args, **kwargs)
    outputs.append(result)
    return new_tokens(tokenizer, result) / seconds


def timed(function, *args, **kwargs):
    started = time.perf_counter()
    result = function(*args, **kwargs)
    return result, time.perf_counter() - started


def our_training(model, tokenizer, rows: list[dict], cfg: TrainingSettings, weight: float = 1.0) -> dict:
    """``training.train``'s stats for ``model`` on ``rows`` (the saved checkpoint is discarded)."""
    with tempfile.TemporaryDirectory() as tmp:
        return train(model, tokenizer, rows, Path(tmp), cfg, weight=weight, seed=0)


def our_training_rate(model, tokenizer, rows: list[dict], cfg: TrainingSettings, weight: float = 1.0) -> float:
    """Our tokens/s training ``model`` on ``rows``."""
    return our_training(model, tokenizer, rows, cfg, weight)["speed"]["tokens_per_second"]


def scratch_training_rate(trained: list, tokenizer, arch: ScratchModelSettings, rows: list[dict],
                          cfg: TrainingSettings) -> float:
    """Our tokens/s training a new scratch model on ``rows``; the model is appended to ``trained``."""
    trained.append(build_scratch_model(tokenizer, arch, seed=0))
    return our_training_rate(trained[-1], tokenizer, rows, cfg)


def alternate(ours, plain, repeats: int) -> tuple[list[float], list[float], float]:
    """Both sides' tokens/s over ``repeats`` alternate passes, and the median of the passes' ratios."""
    ours_passes, plain_passes = [], []
    for _ in range(repeats):
        ours_passes.append(ours())
        plain_passes.append(plain())
    return ours_passes, plain_passes, statistics.median(o / p for o, p in zip(ours_passes, plain_passes))


def iteration_training(data: Path, checkpoint: Path, config: dict, repeats: int, bf16: bool) -> dict:
    """Ours against the plain Trainer on one TriPosT iteration's rows, from the checkpoint it trains."""
    settings = config["tripost"]
    rows = io.read_jsonl(data)
    if settings["mask_before_feedback"]:
        rows = [mask_before_weighted(r) for r in rows]
    cfg = from_params(TrainingSettings, {**settings["training"], "bf16": bf16})
    start, tokenizer = load(checkpoint)

    def ours() -> float:
        return our_training_rate(load(checkpoint)[0], tokenizer, rows, cfg, settings["self_improve_section_weight"])

    ours_passes, plain_passes, ratio = alternate(
        ours, functools.partial(plain_trainer_rate, lambda: load(checkpoint)[0], tokenizer,
                                [r["text"] for r in rows], cfg, bf16), repeats)
    return {"rows": len(rows), "attention": start.config._attn_implementation,
            "ours_tokens_per_s": round(statistics.median(ours_passes)),
            "plain_trainer_tokens_per_s": round(statistics.median(plain_passes)), "ratio": round(ratio, 2),
            "passes": {"ours": [round(o) for o in ours_passes], "plain": [round(p) for p in plain_passes]}}


def report(figures: dict, out: Path | None) -> None:
    """Print ``figures`` as JSON, and write them to ``out`` when given."""
    print(json.dumps(figures, indent=1))
    if out:
        out.write_text(json.dumps(figures, indent=1) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1000, help="training rows")
    parser.add_argument("--prompts", type=int, default=64, help="prompts decoded batched")
    parser.add_argument("--single", type=int, default=16, help="of those, decoded one at a time by HF")
    parser.add_argument("--batch", type=int, default=32, help="rows a decoding batch")
    parser.add_argument("--max-new-tokens", type=int, default=256)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--precisions", default="bf16,fp32", help="of these, the ones this CPU computes natively")
    parser.add_argument("--repeats", type=int, default=1, help="passes of ours and plain HF, alternately")
    parser.add_argument("--out", type=Path, default=None, help="the figures as JSON")
    parser.add_argument("--profile", action="store_true", help="also ours' matmul seconds and ceiling ratios")
    parser.add_argument("--iteration", type=Path, default=None, help="a TriPosT iteration's train.jsonl")
    parser.add_argument("--checkpoint", type=Path, default=None, help="the checkpoint that iteration trains")
    args = parser.parse_args()
    if (args.iteration is None) != (args.checkpoint is None):
        parser.error("--iteration and --checkpoint go together")
    torch.set_num_threads(args.threads)
    config = yaml.safe_load((REPO / "config.yaml").read_text())
    if args.iteration:
        bf16 = native_bf16(torch.device("cpu")) and "bf16" in args.precisions.split(",")
        figures = {"machine_threads": args.threads, "iteration": str(args.iteration),
                   f"train_{'bf16' if bf16 else 'fp32'}": iteration_training(args.iteration, args.checkpoint, config,
                                                                             args.repeats, bf16)}
        report(figures, args.out)
        return
    task = MultistepArithmetic()
    records = task.make_splits(SPLIT, {})["extra_train"]
    texts, rows, tokenizer = arithmetic_rationales(task, records[: args.rows], config)
    arch = from_params(ScratchModelSettings, config["model"]["scratch"])
    figures: dict = {"machine_threads": args.threads, "rows": len(rows)}
    precisions = ["bf16", "fp32"] if native_bf16(torch.device("cpu")) else ["fp32"]
    for precision in [p for p in precisions if p in args.precisions.split(",")]:
        peak = matmul_rate(torch.bfloat16 if precision == "bf16" else torch.float32)
        settings = {**config["baseline"]["training"], "epochs": 1, "bf16": precision == "bf16"}
        cfg = from_params(TrainingSettings, settings)
        trained: list = []  # the models ours trained; the last one decodes below
        eager = dataclasses.replace(cfg, compile_min_tokens=None)
        ours_passes, plain_passes, ratio = alternate(
            functools.partial(scratch_training_rate, trained, tokenizer, arch, rows, eager),
            functools.partial(plain_trainer_rate, functools.partial(build_scratch_model, tokenizer, arch, seed=0),
                              tokenizer, texts, cfg, cfg.bf16),
            args.repeats)
        ours_model = trained[-1]
        ours, plain = statistics.median(ours_passes), statistics.median(plain_passes)
        # the compile time included, as a job sees it
        compiled = our_training_rate(build_scratch_model(tokenizer, arch, seed=0), tokenizer, rows,
                                     dataclasses.replace(cfg, compile_min_tokens=0))
        flops_per_token = 6 * parameter_count(ours_model)
        figures[f"train_{precision}"] = {
            "ours_tokens_per_s": round(ours), "plain_trainer_tokens_per_s": round(plain),
            "ratio": round(ratio, 2),
            "passes": {"ours": [round(o) for o in ours_passes], "plain": [round(p) for p in plain_passes]},
            "ours_compiled_tokens_per_s": round(compiled), "compiled_ratio": round(compiled / plain, 2),
            "matmul_gflops": round(peak / 1e9, 1), "ours_mfu": round(ours * flops_per_token / peak, 3),
            "plain_mfu": round(plain * flops_per_token / peak, 3)}
        if args.profile:
            stats, seconds = matmul_seconds(functools.partial(
                our_training, build_scratch_model(tokenizer, arch, seed=0), tokenizer, rows, eager))
            # the tokens of the rows ours kept, as both sides count them
            figures[f"train_{precision}"]["profiled"] = ceiling(stats["tokens_per_epoch"] * eager.epochs, plain,
                                                                seconds)
    trained = ours_model.eval()  # fp32 weights, whatever the training's autocast
    prompts = [task.prompt(r) for r in records[-args.prompts:]]
    decoding = DecodingSettings(max_calls=1, batch_size=args.batch, max_new_tokens=args.max_new_tokens,
                                loop_window=None, do_sample=False, temperature=1.0, top_p=1.0, bf16=False,
                                revise_on="any")
    outputs: dict[str, list] = {"ours": [], "batched": []}
    ours_passes, batched_passes, ratio = alternate(
        functools.partial(decoding_rate, outputs["ours"], tokenizer, generate, trained, tokenizer, prompts, decoding,
                          seed=0),
        functools.partial(decoding_rate, outputs["batched"], tokenizer, hf_generate, trained, tokenizer, prompts,
                          args.batch, args.max_new_tokens),
        args.repeats)
    ours, batched = outputs["ours"][0], outputs["batched"][0]
    single, single_s = timed(hf_generate, trained, tokenizer, prompts[: args.single], 1, args.max_new_tokens)
    ours_rate, batched_rate = statistics.median(ours_passes), statistics.median(batched_passes)
    figures["decode_fp32"] = {
        "prompts": len(prompts), "batch": args.batch, "ours_new_tokens_per_s": round(ours_rate),
        "hf_batched_new_tokens_per_s": round(batched_rate),
        "hf_single_new_tokens_per_s": round(new_tokens(tokenizer, single) / single_s),
        "ratio_vs_batched": round(ratio, 2),
        "passes": {"ours": [round(o) for o in ours_passes], "batched": [round(b) for b in batched_passes]},
        "ratio_vs_single": round(ours_rate / (new_tokens(tokenizer, single) / single_s), 2),
        "outputs_differing_from_batched": sum(a != b for a, b in zip(ours, batched)),
        "outputs_differing_from_single": sum(a != b for a, b in zip(ours, single)),
        # a decoder whose passes disagree with its own first one
        "passes_not_repeating_the_first": sum(o != outputs[side][0] for side in outputs for o in outputs[side]),
        "mean_new_tokens": round(new_tokens(tokenizer, ours) / len(prompts), 1)}
    if args.profile:
        _, seconds = matmul_seconds(functools.partial(generate, trained, tokenizer, prompts, decoding, seed=0))
        figures["decode_fp32"]["profiled"] = ceiling(new_tokens(tokenizer, ours), batched_rate, seconds)
    report(figures, args.out)


if __name__ == "__main__":
    main()
