"""Wall time of self-improvement evaluation of one checkpoint (run on demand, not in the tests).

    .venv/bin/python benchmarks/evaluation.py results/models/word_sorting/seed0/baseline \
        results/data/word_sorting/test.jsonl word_sorting [--threads 1] [--batch 128] [--limit N]

Runs the evaluation job's own decoding (config.yaml's `evaluation` block for the task: greedy, 3 calls, its
batch size, loop stop and `revise_on`) and prints the seconds, the seen / unseen / total accuracy
(after self-improvement and at the first attempt) and a hash of the trajectories, so that a
decoding change can be checked for speed and for identical results: run it from a checkout of
each version, alternately, on the same machine.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import time
from pathlib import Path

import torch
import yaml

from tripost import inference, io, plan
from tripost.evaluation import evaluation_frame, summarise
from tripost.model import load
from tripost.tasks import get_task

REPO = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("checkpoint")
    parser.add_argument("test")
    parser.add_argument("task")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--batch", type=int, default=None, help="rows a batch (default: the config's)")
    parser.add_argument("--limit", type=int, default=None, help="evaluate the first N questions only")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    task = get_task(args.task)
    test = io.read_jsonl(args.test)[: args.limit]
    model, tokenizer = load(args.checkpoint)
    cfg = plan.resolve(yaml.safe_load((REPO / "config.yaml").read_text()), args.task).evaluation
    if args.batch is not None:
        cfg = dataclasses.replace(cfg, batch_size=args.batch)
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
