"""Data preparation against its reference, in one run, as ratios (run on demand, not in the tests).

    .venv/bin/python benchmarks/data_prep.py [--extra 10000]

- the multistep-arithmetic question stream: `LegacyChoice` against numpy's own
  `RandomState.choice`, the draws BIG-Bench makes (the same expressions are checked);
- the scratch tokenizer: trained on `merge_corpus` against training on the full rationale texts
  (the same `tokenizer.json` is checked).
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from tripost import tokenizer as scratch
from tripost.tasks import arithmetic_expr
from tripost.tasks.multistep_arithmetic import MultistepArithmetic

CONFIGS = ([[2], [2, 2]], [3, 4])  # the extra training questions' configurations


def numpy_stream(seed: int, trials: int) -> list[str]:
    """The reference: every draw through ``RandomState.choice``, as BIG-Bench's generator does."""
    rng = np.random.RandomState(seed)
    number = lambda: rng.choice(arithmetic_expr.NUMBERS)  # noqa: E731
    operation = lambda: rng.choice(arithmetic_expr.OPERATIONS)  # noqa: E731
    return [arithmetic_expr._nested(list(depth), length, number, operation)
            for depth in CONFIGS[0] for length in CONFIGS[1] for _ in range(trials)]


def timed(function, *args):
    started = time.perf_counter()
    result = function(*args)
    return result, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--extra", type=int, default=10000, help="questions per configuration")
    args = parser.parse_args()
    ours, ours_s = timed(lambda: [e for *_, e in arithmetic_expr.bigbench_stream(1234, args.extra, *CONFIGS)])
    reference, reference_s = timed(numpy_stream, 1234, args.extra)
    assert ours == reference, "the streams differ"
    task = MultistepArithmetic()
    records = [{"question": f"{e} =", "answer": arithmetic_expr.evaluate(e)} for e in ours[: args.extra * 2]]
    texts = [task.rationale_text(r, task.solve(r)) for r in records]
    fast, fast_s = timed(scratch.train_tokenizer, texts, task.phrases, 400)
    merge_corpus, scratch.merge_corpus = scratch.merge_corpus, list  # the full texts, as before
    full, full_s = timed(scratch.train_tokenizer, texts, task.phrases, 400)
    scratch.merge_corpus = merge_corpus
    assert fast.backend_tokenizer.to_str() == full.backend_tokenizer.to_str(), "the tokenizers differ"
    print(json.dumps({
        "stream": {"expressions": len(ours), "ours_s": round(ours_s, 2), "numpy_choice_s": round(reference_s, 2),
                   "ratio": round(reference_s / ours_s, 1)},
        "tokenizer": {"texts": len(texts), "ours_s": round(fast_s, 2), "full_text_s": round(full_s, 2),
                      "ratio": round(full_s / fast_s, 1)},
    }, indent=1))


if __name__ == "__main__":
    main()
