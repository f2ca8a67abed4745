"""The paper's figures (matplotlib, PNG and PDF), from ``checkpoints.csv`` (one row per task,
seed and checkpoint; see ``tables.checkpoint_table``). Bands and error bars: ± one std over seeds."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from tripost import io, plan


def save(fig, stem: Path) -> None:
    """``<stem>.png`` and ``<stem>.pdf``."""
    fig.tight_layout()
    for suffix in (".png", ".pdf"):
        with io.atomic_output(Path(stem).with_suffix(suffix)) as tmp:
            fig.savefig(tmp, dpi=120)
    plt.close(fig)


def _panels(tasks: list[str], width: float = 4.5):
    """One panel per task, two to a row; panels left over are hidden."""
    columns = min(len(tasks), 2)
    rows = -(-len(tasks) // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(width * columns, 3.6 * rows), squeeze=False)
    for ax in axes.flat[len(tasks):]:
        ax.set_visible(False)
    return fig, axes.flat[: len(tasks)]


def _title(task: str) -> str:
    return task.replace("_", " ")


def _band(ax, x, values: pd.DataFrame, column: str, style: str, label: str) -> None:
    grouped = values.groupby(x)[column]
    mean, std = grouped.mean(), grouped.std().fillna(0)
    ax.plot(mean.index, mean.values, style, label=label)
    ax.fill_between(mean.index, (mean - std).values, (mean + std).values, alpha=0.2)


def main_run(frame: pd.DataFrame) -> pd.DataFrame:
    """The ft-rationale rows (as iteration 0) and the main TriPosT run, with an ``iteration`` column."""
    rows = frame[(frame["checkpoint"] == "baseline")
                 | frame["checkpoint"].str.startswith(f"{plan.MAIN_RUN}/iter")].copy()
    rows["iteration"] = [0 if c == "baseline" else int(c.split("/iter")[1]) for c in rows["checkpoint"]]
    return rows


def _by_iteration(frame: pd.DataFrame, tasks: list[str], lines: tuple, ylabel: str, stem: Path) -> None:
    """Per task: each (column, style, label) of ``lines`` against the TriPosT iteration."""
    data = main_run(frame)
    fig, axes = _panels(tasks)
    for ax, task in zip(axes, tasks):
        part = data[data["task"] == task]
        for column, style, label in lines:
            _band(ax, "iteration", part, column, style, label)
        ax.set(title=_title(task), xlabel="TriPosT iteration (0 = ft rationale)", ylabel=ylabel)
        ax.set_xticks(sorted(part["iteration"].unique()))
        ax.legend(fontsize=8)
    save(fig, stem)


def accuracy_by_iteration(frame: pd.DataFrame, tasks: list[str], stem: Path) -> None:
    """Seen / unseen accuracy after self-improvement, and seen at the first attempt."""
    _by_iteration(frame, tasks, (("seen", "-o", "seen"), ("unseen", "--s", "unseen"),
                                 ("first_seen", ":^", "seen, no SI at inference")), "accuracy (%)", stem)


def seen_unseen(frame: pd.DataFrame, rows: list, tasks: list[str], stem: Path) -> None:
    """Per task: seen and unseen accuracy of every main-table method (bars, ± std)."""
    fig, axes = _panels(tasks, width=5.5)
    for ax, task in zip(axes, tasks):
        labels, means, stds = [], {"seen": [], "unseen": []}, {"seen": [], "unseen": []}
        for row in rows:
            name = row.checkpoints.get(task)
            part = frame[(frame["task"] == task) & (frame["checkpoint"] == name)]
            if part.empty:
                continue
            labels.append(row.label)
            for split in means:
                column = split if row.inference == "SI" else f"first_{split}"
                means[split].append(part[column].mean())
                stds[split].append(part[column].std() if len(part) > 1 else 0.0)
        x = np.arange(len(labels))
        for offset, split in ((-0.2, "seen"), (0.2, "unseen")):
            ax.bar(x + offset, means[split], 0.4, yerr=np.nan_to_num(stds[split]), label=split, capsize=2)
        ax.set_xticks(x, labels, rotation=45, ha="right", fontsize=8)
        ax.set(title=_title(task), ylabel="accuracy (%)")
        ax.legend(fontsize=8)
    save(fig, stem)


def ablation_curves(frame: pd.DataFrame, points: dict[str, list], iterations: int, stem: Path) -> None:
    """Total accuracy at the last iteration against p and against w, one line per task."""
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    for ax, (setting, symbol) in zip(axes, plan.ABLATED.items()):
        for task, task_points in points.items():
            chosen = sorted((value, run) for s, value, run in task_points if s == setting)
            if not chosen:
                continue
            # p <= 0 (no rebalancing) is drawn to the right of the largest p
            xs = [v if v > 0 or setting != "improve_data_ratio" else max(c[0] for c in chosen) + 1 for v, _ in chosen]
            order = np.argsort(xs)
            means, stds = [], []
            for _, run in chosen:
                part = frame[(frame["task"] == task) & (frame["checkpoint"] == f"{run}/iter{iterations}")]["total"]
                means.append(part.mean())
                stds.append(part.std() if len(part) > 1 else 0.0)
            xs, means, stds = (np.array(a, dtype=float)[order] for a in (xs, means, stds))
            ax.plot(xs, means, "-o", label=_title(task))
            ax.fill_between(xs, means - np.nan_to_num(stds), means + np.nan_to_num(stds), alpha=0.2)
            ticks = [f"{v:g}" if v > 0 or setting != "improve_data_ratio" else "none" for v, _ in chosen]
            ax.set_xticks(xs, [ticks[i] for i in order])
        ax.set(title=f"{setting} ({symbol}), TriPosT t={iterations}", xlabel=symbol, ylabel="total accuracy (%)")
        ax.legend(fontsize=8)
    save(fig, stem)


def self_improvement_rate(frame: pd.DataFrame, tasks: list[str], stem: Path) -> None:
    """% of test questions fixed (wrong -> right), broken (right -> wrong) and with an update."""
    _by_iteration(frame, tasks, (("fixed", "-o", "fixed (wrong → right)"), ("broken", "--s", "broken (right → wrong)"),
                                 ("attempted", ":^", "attempted an update")), "% of test questions", stem)
