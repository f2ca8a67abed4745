"""Replay self-improvement under `revise_on: named_error` from pickles evaluated under `any`.

Greedy decoding: the trajectory up to the first unactionable feedback is what named_error would
have generated; it ends there with that attempt as the answer. Prints, per checkpoint: first
attempt, SI (any), SI (named_error), fixed/broken under each.

Usage (from the results folder): python replay_revise_on.py . eval_val <task> [<task> ...]
"""
import sys
from pathlib import Path

import pandas as pd

from tripost.inference import end_at_unactionable
from tripost.tasks import get_task
from tripost.trajectory import Trajectory, answer_head, extend


def replay(task, frame):
    head = answer_head(task)
    rows = []
    for _, r in frame.iterrows():
        text = r["trajectory"]
        start = text.index(head) + len(head) + 1
        t = Trajectory()
        extend(t, text[start:], "attempt")
        record = {"answer": r["gold"]}
        as_any = task.is_correct(task.parse_answer(t.last_attempt) if t.attempts else None, record)
        assert as_any == bool(r["correct"]), "the pickle's trajectory does not read back"
        end_at_unactionable(t)
        final = task.parse_answer(t.last_attempt) if t.attempts else None
        first = task.parse_answer(t.attempts[0]) if t.attempts else None
        assert task.is_correct(first, record) == bool(r["first_correct"]), (first, r["first_prediction"])
        rows.append(dict(correct=task.is_correct(final, record), first=bool(r["first_correct"]),
                         any_correct=bool(r["correct"]), seen=r["seen"]))
    out = pd.DataFrame(rows)
    return out


def main(root, evalset, tasks):
    for task_name in tasks:
        task = get_task(task_name)
        print(f"\n{task_name}\n| checkpoint | first | SI any | fixed/broken | SI named_error | fixed/broken |\n|---|---|---|---|---|---|")
        for pkl in sorted(Path(root, evalset, task_name, "seed0").rglob("*.pkl")):
            frame = pd.read_pickle(pkl)
            out = replay(task, frame)
            n = len(out)
            pct = lambda c: f"{100 * c.mean():.1f}"
            fa, ba = int((out.any_correct & ~out.first).sum()), int((~out.any_correct & out.first).sum())
            fn, bn = int((out.correct & ~out.first).sum()), int((~out.correct & out.first).sum())
            name = str(pkl.relative_to(Path(root, evalset, task_name, "seed0")))[:-4]
            print(f"| {name} | {pct(out.first)} | {pct(out.any_correct)} | {fa}/{ba} | {pct(out.correct)} | {fn}/{bn} |")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3:])
