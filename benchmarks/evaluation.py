"""Wall time of self-improvement evaluation of one checkpoint (run on demand, not in the tests).

    .venv/bin/python benchmarks/evaluation.py results/models/word_sorting/seed0/baseline \
        results/data/word_sorting/test.jsonl word_sorting [--threads 1] [--max-new-tokens 768] [--loop-window 0]

Runs the evaluation of the config's defaults (greedy, batch 128, 3 calls) and prints the seconds
the seen / unseen / total accuracy (after self-improvement and at the first attempt) and a hash of
the trajectories, so that a decoding change can be checked for speed and for identical results.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import time

import torch

from tripost import inference, io
from tripost.evaluation import evaluation_frame, summarise
from tripost.job_settings import DecodingSettings
from tripost.model import load
from tripost.tasks import get_task


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("checkpoint")
    parser.add_argument("test")
    parser.add_argument("task")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--max-new-tokens", type=int, default=768)
    parser.add_argument("--loop-window", type=int, default=0)
    parser.add_argument("--limit", type=int, default=None, help="evaluate the first N questions only")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    task = get_task(args.task)
    test = io.read_jsonl(args.test)[: args.limit]
    model, tokenizer = load(args.checkpoint)
    cfg = DecodingSettings(max_calls=3, batch_size=128, max_new_tokens=args.max_new_tokens,
                           loop_window=args.loop_window, do_sample=False, temperature=1.0, top_p=1.0, bf16=False,
                           revise_on="any")
    started = time.time()
    trajectories = inference.self_improve(model, tokenizer, task, test, cfg, seed=0)
    seconds = time.time() - started
    summary = summarise(evaluation_frame(task, test, trajectories), task)
    digest = hashlib.sha256(json.dumps([dataclasses.asdict(t) for t in trajectories]).encode()).hexdigest()
    print(json.dumps({"seconds": round(seconds, 1), "trajectories_sha256": digest[:16],
                      **{k: summary[k] for k in ("seen", "unseen", "total", "first_attempt", "pct_changed",
                                                 "mean_rounds", "malformed_generations")}}))


if __name__ == "__main__":
    main()
