"""One ft-rationale baseline of an accuracy study of a training speed-up: eager or
layer-compiled, with eager or SDPA attention, its initial embedding scaled by (1 + eps), then
evaluated on the validation split (run on demand, hours).

    .venv/bin/python benchmarks/baseline_accuracy.py OUT_DIR {eager,compiled} EPS SEED \
        [--attention {eager,sdpa}] [--task multistep_arithmetic] [--results results]

Trains as the `baseline` rule does (the task's resolved `baseline.training`, with
`compile_min_tokens` 0 for `compiled` and null for `eager`; the attention kernel as `--attention`
says) on the `results` folder's splits, gold rationales and tokenizer, then evaluates as the
`evaluate` rule does on `val.jsonl`. Writes OUT_DIR/{model/, val.pkl, val.json, study.json}. Run
the two variants with the same eps side by side (one thread each) so that their training times
compare.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from pathlib import Path

import torch
import yaml

from tripost import io, plan, stages, training
from tripost.model import build_scratch_model
from tripost.tasks import get_task

REPO = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("out", type=Path)
    parser.add_argument("mode", choices=["eager", "compiled"])
    parser.add_argument("eps", type=float, help="the initial embedding is scaled by 1 + eps")
    parser.add_argument("seed", type=int)
    parser.add_argument("--attention", choices=["eager", "sdpa"], default="eager",
                        help="the scratch model's attention kernel (the workflow's: eager)")
    parser.add_argument("--task", default="multistep_arithmetic")
    parser.add_argument("--results", type=Path, default=REPO / "results")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    data = args.results / "data" / args.task
    resolved = plan.resolve(yaml.safe_load((REPO / "config.yaml").read_text()), args.task)
    settings = dataclasses.replace(resolved.baseline, compile_min_tokens=0 if args.mode == "compiled" else None)
    task = get_task(args.task)
    questions = io.read_jsonl(data / "train.jsonl") + io.read_jsonl(data / "extra_train.jsonl")
    rows = stages.baseline_rows(task, questions, data / "rationales.jsonl")
    tokenizer = stages.load_tokenizer(args.results / "models" / args.task / "tokenizer")
    model = build_scratch_model(tokenizer, resolved.model.scratch, args.seed)
    model.set_attn_implementation(args.attention)
    with torch.no_grad():
        model.get_input_embeddings().weight.mul_(1 + args.eps)
    started = time.time()
    stats = training.train(model, tokenizer, rows, args.out / "model", settings, weight=1.0, seed=args.seed)
    seconds = time.time() - started
    stages.evaluate(args.task, args.out.name, args.out / "model", io.read_jsonl(data / "val.jsonl"),
                    resolved.evaluation, args.seed, args.out / "val.pkl", args.out / "val.json")
    record = {"mode": args.mode, "attention": args.attention, "eps": args.eps, "seed": args.seed, "task": args.task,
              "train_seconds": round(seconds, 1), "tokens_per_second": round(stats["speed"]["tokens_per_second"]),
              "train_loss": stats["train_loss"], "compiled": stats["compiled"]}
    io.write_json(args.out / "study.json", record)
    print(json.dumps(record))


if __name__ == "__main__":
    main()
