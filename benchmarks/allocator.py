"""A job's allocator setting (`snake.keep_freed_memory`) against glibc's default, as ratios.

    .venv/bin/python benchmarks/allocator.py [--rows 2000] [--prompts 128] [--threads 1] [--repeats 2]

Each pass is a fresh process, as a job is, alternately with and without the setting: our training
path (`training.train`, config.yaml's baseline settings, eager or `--compiled`) on multistep-arithmetic gold
rationales with the default scratch model, then our decoder (greedy, the evaluation's batch size)
on the model the first pass trained. Prints tokens/s, system seconds and page faults of each pass,
and the median ratio of the paired passes. The outputs are the same either way: the setting
changes where memory comes from, not what is computed.
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


def child(args: argparse.Namespace) -> dict:
    """One pass in this process: train (saving to ``args.model``) or decode with it."""
    import torch
    import yaml

    from tripost.snake import keep_freed_memory

    kept = keep_freed_memory() if args.keep else False
    torch.set_num_threads(args.threads)
    from versus_hf import SPLIT

    from tripost import training
    from tripost.generation import generate
    from tripost.job_settings import DecodingSettings, ScratchModelSettings, TrainingSettings, from_params
    from tripost.model import build_scratch_model, load
    from tripost.tasks.multistep_arithmetic import MultistepArithmetic
    from tripost.tokenizer import train_tokenizer

    config = yaml.safe_load((REPO / "config.yaml").read_text())
    task = MultistepArithmetic()
    records = task.make_splits(SPLIT, {})["extra_train"]
    start = resource.getrusage(resource.RUSAGE_SELF)
    if args.part == "train":
        texts = [task.rationale_text(r, task.solve(r)) for r in records[: args.rows]]
        rows = [{"text": t, "prompt_chars": 0, "weight_start": None} for t in texts]
        tokenizer = train_tokenizer(texts, task.phrases, config["model"]["tokenizer_vocab_size"][task.name])
        model = build_scratch_model(tokenizer, from_params(ScratchModelSettings, config["model"]["scratch"]), seed=0)
        cfg = from_params(TrainingSettings, {**config["baseline"]["training"], "epochs": 1,
                                             "compile_min_tokens": 0 if args.compiled else None})
        start = resource.getrusage(resource.RUSAGE_SELF)
        rate = training.train(model, tokenizer, rows, args.model, cfg, weight=1.0, seed=0)["speed"]["tokens_per_second"]
        outputs = None
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
    return json.loads(done.stdout.splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=2000, help="training rows")
    parser.add_argument("--prompts", type=int, default=128, help="prompts decoded")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=2, help="passes of each setting, alternately")
    parser.add_argument("--compiled", action="store_true", help="layers compiled (its time included)")
    parser.add_argument("--child", choices=["train", "decode"], default=None, help=argparse.SUPPRESS)
    parser.add_argument("--keep", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--model", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        args.part = args.child
        print(json.dumps(child(args)))
        return
    figures = {"threads": args.threads, "rows": args.rows, "prompts": args.prompts, "compiled": args.compiled}
    with tempfile.TemporaryDirectory() as tmp:
        for part in ("train", "decode"):
            passes = {"default": [], "keep": []}
            for index in range(args.repeats):
                for setting in ("default", "keep"):
                    model = Path(tmp) / ("model" if part == "decode" else f"train{index}{setting}")
                    passes[setting].append(run_pass(args, part, setting == "keep", model))
                if part == "train" and index == 0:
                    (Path(tmp) / "train0default").rename(Path(tmp) / "model")
            outputs = {json.dumps(p.pop("outputs")) for setting in passes.values() for p in setting}
            figures[part] = {
                "ratio": round(statistics.median(k["tokens_per_s"] / d["tokens_per_s"]
                                                 for d, k in zip(passes["default"], passes["keep"])), 3),
                "passes": passes}
            if part == "decode":
                figures[part]["identical_outputs"] = len(outputs) == 1
    print(json.dumps(figures, indent=1))


if __name__ == "__main__":
    main()
