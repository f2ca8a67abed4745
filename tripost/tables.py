"""The paper's tables, computed from the evaluation pickles (one DataFrame of per-question results
per checkpoint and seed). Every cell is the mean ± std over seeds of one metric of the pickles it
names in ``cells.csv``, so each number can be traced to, and recomputed from, its files.
"""

from __future__ import annotations

import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from tripost import io, paired, plan
from tripost.evaluation import SPLITS, key_of, metric

SI, NO_SI = "SI", "no SI"
SI_COLUMNS = ("attempted", "n_fixed", "n_broken", "rounds")
def paired_note(cells: str | None) -> str:
    """The tables' note on the paired test; ``cells``: the file that holds its p-values."""
    where = f" (p-values in {cells})" if cells else ""
    return ("▲ / ▼: better / worse than the same seed's ft rationale (first attempt) on the same questions, "
            f"exact McNemar test pooled over seeds, two-sided p < 0.05{where}.")
METRICS = [*SPLITS, *(f"first_{s}" for s in SPLITS), *SI_COLUMNS, "fixed", "broken"]


EVAL_FOLDERS = ("eval", "eval_val")  # the test split's evaluations, the validation split's


def results_root(pickle_path: Path) -> Path:
    """The results folder of an evaluation pickle (the parent of its nearest evaluation folder)."""
    return next(parent.parent for parent in Path(pickle_path).parents if parent.name in EVAL_FOLDERS)


def load_frame(path: Path) -> pd.DataFrame:
    with open(path, "rb") as handle:
        return pickle.load(handle)


def checkpoint_table(pickles: list[Path], results: Path) -> pd.DataFrame:
    """One row per pickle: task, seed, checkpoint, method label, source and every metric."""
    rows = []
    for path in pickles:
        frame = load_frame(Path(path))
        key = key_of(frame, str(path))
        row: dict[str, Any] = {"task": key.task, "seed": key.seed, "checkpoint": key.checkpoint,
                               "method": plan.label(key.checkpoint),
                               "source": str(Path(path).relative_to(results)), "n": len(frame)}
        row.update({name: metric(frame, name) for name in METRICS})
        rows.append(row)
    return pd.DataFrame(rows)


@dataclass(frozen=True)
class Row:
    """One table row: its label, and per task the checkpoint and inference it reads."""

    label: str
    checkpoints: dict[str, str]  # task -> checkpoint
    inference: str = SI
    group: str = ""


def cell(values: list[float], digits: int = 1) -> str:
    values = [v for v in values if v is not None and v == v]
    if not values:
        return "n/a"
    series = pd.Series(values)
    if len(values) == 1:
        return f"{series.iloc[0]:.{digits}f}"
    return f"{series.mean():.{digits}f} ± {series.std(ddof=1):.{digits}f}"


BASELINE = "baseline"  # the checkpoint every other one is paired with (its first attempt)


def paired_with_baseline(chosen: pd.DataFrame, checkpoints: pd.DataFrame, results: Path, column: str, split: str,
                         frames: dict[str, pd.DataFrame]) -> paired.Paired | None:
    """The cell's checkpoints against their own seed's ft rationale (first attempt), pooled over
    seeds; None when a checkpoint has no seed (an LLM row) or its seed has no baseline."""
    def frame(source: str) -> pd.DataFrame:
        if source not in frames:
            frames[source] = load_frame(Path(results) / source)
        return frames[source]

    total = paired.NONE
    for row in chosen.itertuples():
        base = checkpoints[(checkpoints["task"] == row.task) & (checkpoints["seed"] == row.seed)
                           & (checkpoints["checkpoint"] == BASELINE)]
        if pd.isna(row.seed) or base.empty:
            return None
        total += paired.compare(frame(row.source), column, frame(base["source"].iloc[0]), "first_correct", split)
    return total if len(chosen) else None


def fill(rows: list[Row], checkpoints: pd.DataFrame, tasks: list[str], metrics: tuple[str, ...],
         table: str, results: Path) -> tuple[pd.DataFrame, list[dict]]:
    """The wide table (rows × task-metric columns, "mean ± std" strings, ▲/▼ where the paired test
    against the same seed's ft rationale is significant) and its cells, long."""
    wide, cells, frames = [], [], {}
    for row in rows:
        out = {"group": row.group, "method": row.label, "inference": row.inference}
        for task in tasks:
            chosen = checkpoints[(checkpoints["task"] == task)
                                 & (checkpoints["checkpoint"] == row.checkpoints.get(task))]
            for name in metrics:
                column = f"first_{name}" if row.inference == NO_SI and name in SPLITS else name
                kept = [v for v in chosen[column].tolist() if v is not None and v == v]
                test = None
                if name in SPLITS and kept:
                    correct = "first_correct" if row.inference == NO_SI else "correct"
                    test = paired_with_baseline(chosen, checkpoints, results, correct, name, frames)
                out[f"{task} {name}"] = (cell(kept, 2 if name == "rounds" else 0 if name.startswith("n_") else 1)
                                         + (f" {test.mark}" if test and test.mark else ""))
                cells.append({"table": table, "group": row.group, "method": row.label, "inference": row.inference,
                              "task": task, "checkpoint": row.checkpoints.get(task), "metric": column,
                              "mean": pd.Series(kept).mean() if kept else None,
                              "std": pd.Series(kept).std(ddof=1) if len(kept) > 1 else None,
                              "n": len(kept), "sources": ";".join(chosen["source"]),
                              "pairs": test.pairs if test else None, "wins": test.wins if test else None,
                              "losses": test.losses if test else None,
                              "p_two_sided": test.p_two_sided if test else None,
                              "p_worse": test.p_worse if test else None})
        wide.append(out)
    return pd.DataFrame(wide), cells


def _present(checkpoints: pd.DataFrame, name: str) -> dict[str, str]:
    tasks = checkpoints.loc[checkpoints["checkpoint"] == name, "task"]
    return {task: name for task in dict.fromkeys(tasks)}


def main_rows(checkpoints: pd.DataFrame, iterations: int) -> list[Row]:
    """The paper's main table: each method tested the way the paper tests it (the rationale
    wrapper, no rounds, for the SFT baselines; self-improvement inference for the rest)."""
    order = [("baseline", NO_SI), ("answer_only", NO_SI), (f"{plan.SI_DEMO}/iter1", SI), ("lmsi", NO_SI),
             ("llm_few_shot", NO_SI), ("llm_self_improve", SI)]
    order += [(f"{plan.MAIN_RUN}/iter{t}", SI) for t in range(1, iterations + 1)]
    return [Row(plan.label(name), present, inference) for name, inference in order
            if (present := _present(checkpoints, name))]


def ablation_rows(checkpoints: pd.DataFrame, points: dict[str, list], iterations: int, max_iteration: int) -> list[Row]:
    """p and w points (at the last iteration), t = 1..max, and every checkpoint without and with
    self-improvement at inference."""
    rows = []
    for setting, symbol in plan.ABLATED.items():
        values = list(dict.fromkeys(value for task_points in points.values()
                                    for s, value, _ in task_points if s == setting))
        for value in values:
            chosen = {task: f"{run}/iter{iterations}" for task, task_points in points.items()
                      for s, v, run in task_points if s == setting and v == value}
            note = " (no rebalancing)" if setting == "improve_data_ratio" and value <= 0 else ""
            rows.append(Row(f"{symbol} = {value:g}{note}", chosen, SI, f"{setting} (t={iterations})"))
    for t in range(1, max_iteration + 1):
        rows.append(Row(f"t = {t}", _present(checkpoints, f"{plan.MAIN_RUN}/iter{t}"), SI, "iterations"))
    for name in dict.fromkeys(checkpoints["checkpoint"]):
        if name in ("llm_few_shot", "answer_only"):
            continue  # one answer, no rounds: nothing to compare
        for inference in (NO_SI, SI):
            rows.append(Row(plan.label(name), _present(checkpoints, name), inference, "inference"))
    return rows


def self_improvement_rows(checkpoints: pd.DataFrame) -> list[Row]:
    """Every checkpoint that ran self-improvement rounds."""
    names = [n for n in dict.fromkeys(checkpoints["checkpoint"]) if n not in ("answer_only", "llm_few_shot")]
    return [Row(plan.label(n), _present(checkpoints, n), SI) for n in names]


def write_csv(frame: pd.DataFrame, path: Path) -> None:
    with io.atomic_output(path) as tmp:
        frame.to_csv(tmp, index=False)


def markdown(frame: pd.DataFrame, columns: list[str], note: str) -> str:
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(str(v) for v in row) + " |" for row in frame[columns].values.tolist()]
    return "\n".join(lines) + f"\n\n{note}\n"


def write_tables(pickles: list[Path], results: Path, tasks: list[str], seeds: list[int], points: dict[str, list],
                 iterations: int, ablation_iterations: int, max_iteration: int, out: dict[str, Path]) -> None:
    """main / ablations / self_improvement (.csv, .md), cells.csv and checkpoints.csv."""
    checkpoints = checkpoint_table(pickles, results)
    write_csv(checkpoints, out["checkpoints"])
    seeds_note = f"mean ± std over seeds {', '.join(map(str, seeds))} (LLM rows: one run, no seed)"
    specs = {
        "main": (main_rows(checkpoints, iterations), SPLITS, ["method"],
                 f"Accuracy (%) on the test split; {seeds_note}. The SFT baselines answer without "
                 f"self-improvement rounds, as the paper tests them; the other rows with them. "
                 f"{paired_note('cells.csv')}"),
        "ablations": (ablation_rows(checkpoints, points, ablation_iterations, max_iteration), SPLITS,
                      ["group", "method", "inference"],
                      f"Accuracy (%); {seeds_note}. SI: self-improvement inference (up to 3 generation calls); "
                      f"no SI: the first attempt of the same run. {paired_note('cells.csv')}"),
        "self_improvement": (self_improvement_rows(checkpoints), SI_COLUMNS, ["method"],
                             f"Per checkpoint, % of test questions with an update (attempted), the number of answers "
                             f"turned from wrong to right (n_fixed) and from right to wrong (n_broken) by the "
                             f"updates, mean updates (rounds); {seeds_note}."),
    }
    all_cells = []
    for name, (rows, metrics, keys, note) in specs.items():
        wide, cells = fill(rows, checkpoints, tasks, metrics, name, results)
        all_cells += cells
        value_columns = [f"{task} {m}" for task in tasks for m in metrics]
        wide = wide.reindex(columns=keys + value_columns) if len(wide) else pd.DataFrame(columns=keys + value_columns)
        write_csv(wide, out[f"{name}_csv"])
        io.write_text(out[f"{name}_md"], markdown(wide, keys + value_columns, note))
    write_csv(pd.DataFrame(all_cells), out["cells"])


def core_table(pickles: list[Path], results: Path, tasks: list[str], iterations: int, out_md: Path,
               out_cells: Path) -> None:
    """ft rationale and the TriPosT iterations of the seeds ``make run`` builds: accuracy with and
    without self-improvement, each paired with the same seed's ft rationale, and what
    self-improvement did; the cells (with their p-values) in ``out_cells``."""
    checkpoints = checkpoint_table(pickles, results)
    tripost = [f"{plan.MAIN_RUN}/iter{t}" for t in range(1, iterations + 1)]
    rows = [Row("ft rationale", _present(checkpoints, "baseline"), NO_SI),
            Row("ft rationale (SI inference)", _present(checkpoints, "baseline"), SI)]
    for name in tripost:
        rows += [Row(f"{plan.label(name)} first attempt", _present(checkpoints, name), NO_SI),
                 Row(plan.label(name), _present(checkpoints, name), SI)]
    wide, cells = fill(rows, checkpoints, tasks, SPLITS, "core", results)
    si_wide, si_cells = fill(self_improvement_rows(checkpoints), checkpoints, tasks, SI_COLUMNS,
                             "core_self_improvement", results)
    seeds = checkpoints["seed"].dropna().unique().tolist()
    seeds_note = f"seed{'s' if len(seeds) > 1 else ''} {', '.join(str(int(s)) for s in seeds)}"
    accuracy = markdown(wide, ["method"] + [f"{task} {m}" for task in tasks for m in SPLITS],
                        f"Accuracy (%) on the test split; {seeds_note}. {paired_note(Path(out_cells).name)}")
    self_improvement = markdown(si_wide, ["method"] + [f"{task} {m}" for task in tasks for m in SI_COLUMNS],
                                f"Self-improvement on the test split: % of questions with an update (attempted), "
                                f"answers turned wrong to right (n_fixed) and right to wrong (n_broken), "
                                f"mean updates; {seeds_note}.")
    io.write_text(out_md, accuracy + "\n" + self_improvement)
    write_csv(pd.DataFrame(cells + si_cells), out_cells)


def recipe_table(pickles: list[Path], results: Path, task: str, out_md: Path, out_csv: Path) -> None:
    """The recipe's comparison on the validation split: per checkpoint, the first attempt and the
    answer after self-improvement, with the answers SI fixed and broke, each accuracy paired
    with the same seed's ft rationale (first attempt) on the same questions."""
    checkpoints = checkpoint_table(pickles, results)
    names = list(dict.fromkeys(checkpoints["checkpoint"]))
    first, _ = fill([Row(plan.label(n), {task: n}, NO_SI) for n in names], checkpoints, [task], ("total",),
                    "recipe", results)
    si, _ = fill([Row(plan.label(n), {task: n}, SI) for n in names], checkpoints, [task],
                     ("total", "n_fixed", "n_broken"), "recipe", results)
    wide = pd.DataFrame({"checkpoint": names, "method": first["method"],
                         "first attempt": first[f"{task} total"], "SI": si[f"{task} total"],
                         "SI fixed": si[f"{task} n_fixed"], "SI broken": si[f"{task} n_broken"]})
    write_csv(wide, out_csv)
    n = checkpoints["n"].iloc[0] if len(checkpoints) else 0
    seeds = ", ".join(str(int(x)) for x in checkpoints["seed"].dropna().unique())
    note = (f"{task}: accuracy (%) on the {n} validation questions; seeds {seeds} (mean ± std); SI fixed / broken: "
            f"answers self-improvement turned from wrong to right / right to wrong. {paired_note(None)}")
    io.write_text(out_md, markdown(wide, ["method", "first attempt", "SI", "SI fixed", "SI broken"], note))


def runtime_table(benchmarks: Path) -> pd.DataFrame:
    """Per rule, from its ``benchmark:`` files: jobs, total / mean / max wall seconds, peak memory."""
    rows = []
    for path in sorted(Path(benchmarks).rglob("*.tsv")):
        bench = pd.read_csv(path, sep="\t")
        rule = path.relative_to(benchmarks).parts[0] if len(path.relative_to(benchmarks).parts) > 1 else path.stem
        rows.append({"rule": rule, "s": float(bench["s"].iloc[0]),
                     "max_rss_mb": pd.to_numeric(bench["max_rss"], errors="coerce").iloc[0]})
    frame = pd.DataFrame(rows, columns=["rule", "s", "max_rss_mb"])
    table = frame.groupby("rule").agg(jobs=("s", "size"), total_s=("s", "sum"), mean_s=("s", "mean"),
                                      max_s=("s", "max"), peak_rss_mb=("max_rss_mb", "max"))
    return table.sort_values("total_s", ascending=False).round(1).reset_index()
