"""A job's allocator setting (`snake.keep_freed_memory`) against glibc's default, as ratios.

    .venv/bin/python benchmarks/allocator.py [--rows 2000] [--prompts 128] [--threads 1] [--repeats 3] [--compiled]

Each pass is a fresh process, as a job is, with or without the setting, in ABBA order: our
training path (`training.train`, config.yaml's baseline settings, eager or `--compiled`, the
compile time included) on multistep-arithmetic gold rationales with the default scratch model,
then our decoder on the model the first pass trained (greedy, the evaluation's batch size and
`max_new_tokens`, one call, no loop cut-off). Prints tokens/s, system seconds and page faults of
each pass (a decoding pass's include loading the model), the median ratio of the pairs, and
whether every pass computed the same (training loss, decoded texts): the setting changes where
memory comes from, not what is computed.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
RESULT = "RESULT "  # the child's line of figures


def child(args: argparse.Namespace) -> dict:
    """One pass in this process: train (saving to ``args.model``) or decode with it."""
    from tripost.snake import keep_freed_memory

    kept = keep_freed_memory() if args.keep else False  # before torch, as in a job
    import torch
    import yaml

    torch.set_num_threads(args.threads)
    from versus_hf import SPLIT, arithmetic_rationales

    from tripost import training
    from tripost.generation import generate
    from tripost.job_settings import DecodingSettings, ScratchModelSettings, TrainingSettings, from_params
    from tripost.model import build_scratch_model, load
    from tripost.tasks.multistep_arithmetic import MultistepArithmetic

    config = yaml.safe_load((REPO / "config.yaml").read_text())
    task = MultistepArithmetic()
    records = task.make_splits(SPLIT, {})["extra_train"]
    start = resource.getrusage(resource.RUSAGE_SELF)
    if args.part == "train":
        _, rows, tokenizer = arithmetic_rationales(task, records[: args.rows], config)
        model = build_scratch_model(tokenizer, from_params(ScratchModelSettings, config["model"]["scratch"]), seed=0)
        cfg = from_params(TrainingSettings, {**config["baseline"]["training"], "epochs": 1,
                                             "compile_min_tokens": 0 if args.compiled else None})
        start = resource.getrusage(resource.RUSAGE_SELF)
        stats = training.train(model, tokenizer, rows, args.model, cfg, weight=1.0, seed=0)
        rate, outputs = stats["speed"]["tokens_per_second"], stats["train_loss"]
    else:
        model, tokenizer = load(args.model)
        prompts = [task.prompt(r) for r in records[-args.prompts:]]
        cfg = from_params(DecodingSettings, {**config["evaluation"], "max_calls": 1, "loop_window": None})
        started = time.perf_counter()
        outputs = generate(model, tokenizer, prompts, cfg, seed=0)
        new = sum(len(tokenizer(o, add_special_tokens=False)["input_ids"]) for o in outputs)
        rate = new / (time.perf_counter() - started)
    end = resource.getrusage(resource.RUSAGE_SELF)
    return {"kept": kept, "tokens_per_s": round(rate), "system_s": round(end.ru_stime - start.ru_stime, 2),
            "page_faults": end.ru_minflt - start.ru_minflt, "outputs": outputs}


def run_pass(args: argparse.Namespace, part: str, keep: bool, model: Path) -> dict:
    command = [sys.executable, __file__, "--child", part, "--model", str(model), "--rows", str(args.rows),
               "--prompts", str(args.prompts), "--threads", str(args.threads)] + (["--keep"] if keep else []) \
        + (["--compiled"] if args.compiled else [])
    done = subprocess.run(command, capture_output=True, text=True, cwd=REPO,
                          env={**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), str(REPO / "benchmarks")])})
    if done.returncode:
        raise RuntimeError(done.stderr[-3000:])
    return json.loads(next(line for line in done.stdout.splitlines() if line.startswith(RESULT))[len(RESULT):])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=2000, help="training rows")
    parser.add_argument("--prompts", type=int, default=128, help="prompts decoded")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=3, help="passes of each setting, alternately (ABBA...)")
    parser.add_argument("--compiled", action="store_true", help="layers compiled (its time included)")
    parser.add_argument("--child", choices=["train", "decode"], default=None, help=argparse.SUPPRESS)
    parser.add_argument("--keep", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--model", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        args.part = args.child
        print(RESULT + json.dumps(child(args)))
        return
    figures = {"threads": args.threads, "rows": args.rows, "prompts": args.prompts, "compiled": args.compiled}
    with tempfile.TemporaryDirectory() as tmp:
        for part in ("train", "decode"):
            passes = {"default": [], "keep": []}
            for index in range(args.repeats):
                for setting in ("default", "keep") if index % 2 == 0 else ("keep", "default"):  # ABBA
                    model = Path(tmp) / ("model" if part == "decode" else f"train{index}{setting}")
                    passes[setting].append(run_pass(args, part, setting == "keep", model))
                if part == "train" and index == 0:
                    (Path(tmp) / "train0default").rename(Path(tmp) / "model")
            # the training loss, or the decoded texts: the same whatever the allocator
            outputs = {json.dumps(p.pop("outputs")) for setting in passes.values() for p in setting}
            figures[part] = {
                "ratio": round(statistics.median(k["tokens_per_s"] / d["tokens_per_s"]
                                                 for d, k in zip(passes["default"], passes["keep"])), 3),
                "passes": passes, "identical_outputs": len(outputs) == 1}
    print(json.dumps(figures, indent=1))


if __name__ == "__main__":
    main()
