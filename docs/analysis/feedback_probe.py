"""Does M prefer the expert's verdict on its own first attempts? Teacher-forced log-probabilities of
the "correct" feedback and (for a wrong attempt) the expert's error feedback after
`<prompt>\n<attempt>\nFeedback:`. Prints, per checkpoint: AUC of log P("correct") between right and
wrong attempts (0.5: no discrimination), and the share of wrong attempts where the expert's error
feedback is more likely than "correct" (in total and per token).

Usage (from the results folder): python feedback_probe.py . <task> <checkpoint> [<checkpoint> ...]
"""
import sys
import pandas as pd
import torch
from tripost import io
from tripost.expert import ScriptedExpert, expert_feedback
from tripost.formats import FEEDBACK, correct_feedback, last_top_step, is_done_feedback
from tripost.model import load_for_generation
from tripost.tasks import get_task
from tripost.trajectory import Trajectory, answer_head, extend

torch.set_num_threads(1)


def logprob(model, tok, prefix, continuation):
    ids_p = tok(prefix, add_special_tokens=True)["input_ids"]
    ids_all = tok(prefix + continuation, add_special_tokens=True)["input_ids"]
    assert ids_all[: len(ids_p)] == ids_p
    x = torch.tensor([ids_all])
    with torch.no_grad():
        logits = model(x).logits[0, :-1].float().log_softmax(-1)
    target = x[0, 1:]
    lp = logits[torch.arange(len(target)), target][len(ids_p) - 1:]
    return lp.sum().item(), lp.numel()


def auc(pos, neg):
    wins = sum((p > n) + 0.5 * (p == n) for p in pos for n in neg)
    return wins / (len(pos) * len(neg)) if pos and neg else float("nan")


root, task_name = sys.argv[1], sys.argv[2]
task = get_task(task_name)
expert = ScriptedExpert(task)
records = io.by_id(io.read_jsonl(f"{root}/data/{task_name}/val.jsonl"), "val")
head = answer_head(task)
for ck in sys.argv[3:]:
    model, tok = load_for_generation(f"{root}/models/{task_name}/seed0/{ck}", False)
    frame = pd.read_pickle(f"{root}/eval_val/{task_name}/seed0/{ck}.pkl")
    right_scores, wrong_scores, prefer_err, prefer_err_tok, n_wrong = [], [], 0, 0, 0
    for _, row in frame.iterrows():
        t = Trajectory(); text = row["trajectory"]
        extend(t, text[text.index(head) + len(head) + 1:], "attempt")
        if not t.attempts:
            continue
        record = records[row["id"]]
        attempt = t.attempts[0]
        prefix = f"{task.prompt(record)}\n{attempt}\n{FEEDBACK}"
        ok_lp, ok_n = logprob(model, tok, prefix, " " + correct_feedback(last_top_step(attempt)))
        if row["first_correct"]:
            right_scores.append(ok_lp)
            continue
        wrong_scores.append(ok_lp)
        verdict = expert_feedback(task, expert, record, attempt)
        if is_done_feedback(verdict) or verdict.startswith("["):
            continue
        err_lp, err_n = logprob(model, tok, prefix, " " + verdict)
        n_wrong += 1
        prefer_err += err_lp > ok_lp
        prefer_err_tok += err_lp / err_n > ok_lp / ok_n
    print(f"| {task_name} | {ck} | {len(right_scores)} / {len(wrong_scores)} | {auc(right_scores, wrong_scores):.2f} | "
          f"{prefer_err}/{n_wrong} | {prefer_err_tok}/{n_wrong} |", flush=True)
