"""The paper's outputs from the evaluation summaries: the main table and the iteration figure."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from tripost import io  # noqa: E402

METRICS = ("seen", "unseen", "total")


def method_name(checkpoint: str) -> str:
    return "ft rationale" if checkpoint == "baseline" else f"TriPosT (t={checkpoint[4:]})"


def _key(path: Path) -> tuple[str, int, str]:
    """(task, seed, checkpoint) of ``.../<task>/seed<seed>/<checkpoint>[.json|/counts.json]``."""
    parts = path.with_suffix("").parts if path.name != "counts.json" else path.parent.parts
    return parts[-3], int(parts[-2].removeprefix("seed")), parts[-1]


def long_table(summaries: list[Path], counts: list[Path]) -> pd.DataFrame:
    """One row per (task, seed, checkpoint), read from the eval summaries and iteration counts."""
    counts_by_key = {_key(p): io.read_json(p) for p in counts}
    rows = []
    for path in summaries:
        task, seed, checkpoint = _key(path)
        summary = io.read_json(path)
        row = {"task": task, "seed": seed, "checkpoint": checkpoint, "method": method_name(checkpoint),
               "iteration": 0 if checkpoint == "baseline" else int(checkpoint[4:])}
        row.update({m: summary[m] for m in METRICS})
        row.update({f"first_attempt_{m}": summary["first_attempt"][m] for m in METRICS})
        row.update({k: summary[k] for k in ("pct_changed", "pct_fixed", "pct_broken", "mean_rounds")})
        if (task, seed, checkpoint) in counts_by_key:
            c = counts_by_key[(task, seed, checkpoint)]
            row.update({k: c[k] for k in ("num_improvement", "num_non_improvement", "num_ground_truth")})
            row["num_train_examples"] = c["total"]  # not "total": that column is the accuracy
        rows.append(row)
    return pd.DataFrame(rows)


def _cell(values: pd.Series) -> str:
    values = values.dropna()
    if values.empty:
        return "n/a"
    if len(values) == 1:
        return f"{values.iloc[0]:.1f}"
    return f"{values.mean():.1f} ± {values.std(ddof=1):.1f}"


BASELINE_SI = "ft rationale (SI inference)"


def main_table(frame: pd.DataFrame) -> pd.DataFrame:
    """Rows: methods; columns: task × seen/unseen/total; cells: mean ± std over seeds (%).

    "ft rationale" is the baseline's first attempt, as the paper tests it (spec §7.1: the rationale
    wrapper, no feedback rounds); "ft rationale (SI inference)" is the same checkpoint run through
    the self-improvement rounds like the TriPosT rows."""
    rows = [("ft rationale", "baseline", "first_attempt_"), (BASELINE_SI, "baseline", "")]
    later = frame[frame["checkpoint"] != "baseline"].sort_values("iteration")
    rows += [(method, checkpoint, "") for method, checkpoint in
             dict.fromkeys(zip(later["method"], later["checkpoint"]))]
    table = pd.DataFrame(index=pd.Index([method for method, _, _ in rows], name="method"))
    for task in dict.fromkeys(frame["task"]):
        part = frame[frame["task"] == task]
        for metric in METRICS:
            table[f"{task} {metric}"] = [_cell(part[part["checkpoint"] == checkpoint][prefix + metric])
                                         for _, checkpoint, prefix in rows]
    return table


def write_tables(summaries: list[Path], counts: list[Path], seeds: list[int],
                 out_csv: Path, out_md: Path, out_iterations: Path) -> None:
    frame = long_table(summaries, counts)
    out_iterations.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(out_iterations, index=False)
    table = main_table(frame)
    table.to_csv(out_csv)
    header = "| method | " + " | ".join(table.columns) + " |"
    lines = [header, "|" + "---|" * (len(table.columns) + 1)]
    lines += ["| " + method + " | " + " | ".join(row) + " |" for method, row in zip(table.index, table.values.tolist())]
    note = f"\nAccuracy (%) on the test split; mean ± std over seeds {', '.join(map(str, seeds))}.\n"
    out_md.write_text("\n".join(lines) + "\n" + note)


def accuracy_figure(iterations_csv: Path, out: Path) -> None:
    """Accuracy by iteration (0 = ft rationale), seen vs unseen after self-improvement inference and
    seen at the first attempt, one panel per task."""
    frame = pd.read_csv(iterations_csv)
    tasks = list(dict.fromkeys(frame["task"]))
    fig, axes = plt.subplots(1, len(tasks), figsize=(4.5 * len(tasks), 3.5), squeeze=False)
    for ax, task in zip(axes[0], tasks):
        part = frame[frame["task"] == task].groupby("iteration")
        for metric, style, label in (("seen", "-o", "seen"), ("unseen", "--s", "unseen"),
                                     ("first_attempt_seen", ":^", "seen, first attempt")):
            mean, std = part[metric].mean(), part[metric].std().fillna(0)
            ax.plot(mean.index, mean.values, style, label=label)
            ax.fill_between(mean.index, (mean - std).values, (mean + std).values, alpha=0.2)
        ax.set_title(task.replace("_", " "))
        ax.set_xlabel("TriPosT iteration (0 = ft rationale)")
        ax.set_ylabel("accuracy (%)")
        ax.set_xticks(sorted(frame["iteration"].unique()))
        ax.legend()
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=120)
    plt.close(fig)
