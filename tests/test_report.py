"""The tables are computed from the evaluation pickles, and every cell can be traced back to them."""

from __future__ import annotations

import pickle
import random
from pathlib import Path

import pandas as pd
import pytest

from tripost import figures, results_page, tables
from tripost.evaluation import EvaluationKey, with_key

from conftest import recompute

TASKS = ["word_sorting", "logical_deduction"]
POINTS = {"word_sorting": [("improve_data_ratio", 1.5, "tripost"), ("improve_data_ratio", -1.0, "p-1"),
                           ("self_improve_section_weight", 1.5, "tripost"), ("self_improve_section_weight", 2.0, "w2")]}


def fake_frame(rng: random.Random, n: int = 20) -> pd.DataFrame:
    rows = []
    for i in range(n):
        first = rng.random() < 0.4
        rounds = rng.choice([0, 0, 1, 2])
        correct = first if rounds == 0 else rng.random() < 0.5
        rows.append({"id": f"q{i}", "bucket": "b", "seen": i % 3 != 0, "correct": correct, "first_correct": first,
                     "fixed": correct and not first, "broken": first and not correct, "rounds": rounds})
    return pd.DataFrame(rows)


def write_pickles(results: Path, checkpoints_by_task: dict[str, list[str]], seeds: list[int]) -> list[Path]:
    rng = random.Random(0)
    paths = []
    for task, names in checkpoints_by_task.items():
        for seed in seeds:
            for name in names:
                path = results / "eval" / task / f"seed{seed}" / f"{name}.pkl"
                path.parent.mkdir(parents=True, exist_ok=True)
                with open(path, "wb") as handle:
                    pickle.dump(with_key(fake_frame(rng), EvaluationKey(task, seed, name)), handle)
                paths.append(path)
    return paths


CHECKPOINTS = {"word_sorting": ["baseline", "answer_only", "lmsi", "si_demo/iter1", "tripost/iter1", "tripost/iter2",
                                "tripost/iter3", "p-1/iter2", "w2/iter2"],
               "logical_deduction": ["baseline", "answer_only", "tripost/iter1", "tripost/iter2"]}


@pytest.fixture
def built(tmp_path):
    results = tmp_path / "results"
    pickles = write_pickles(results, CHECKPOINTS, [0, 1, 2])
    out = {f"{name}_{ext}": results / "tables" / f"{name}.{ext}"
           for name in ("main", "ablations", "self_improvement") for ext in ("csv", "md")}
    out |= {"cells": results / "tables" / "cells.csv", "checkpoints": results / "tables" / "checkpoints.csv"}
    tables.write_tables(pickles, results, TASKS, [0, 1, 2], POINTS, iterations=2, ablation_iterations=2,
                        max_iteration=3, out=out)
    return results, out


def test_every_cell_is_traceable_to_its_pickles(built):
    results, out = built
    cells = pd.read_csv(out["cells"])
    assert len(cells) > 100 and set(cells["table"]) == {"main", "ablations", "self_improvement"}
    for cell in cells.itertuples():
        if cell.n == 0:
            assert pd.isna(cell.sources) or cell.sources == ""
            continue
        values = recompute(results, cell.sources, cell.metric)
        assert len(values) == cell.n == 3  # one pickle per seed
        assert cell.mean == pytest.approx(pd.Series(values).mean())
        assert cell.std == pytest.approx(pd.Series(values).std(ddof=1))
        for source in cell.sources.split(";"):  # the source is the cell's task and the row's checkpoint
            assert source.startswith(f"eval/{cell.task}/seed") and source.endswith(f"/{cell.checkpoint}.pkl")


def test_the_tables_read_what_an_evaluation_is_of_from_the_evaluation(tmp_path):
    """The key travels in the pickle: a folder layout says nothing; a pickle without one is refused."""
    rng = random.Random(0)
    path = tmp_path / "results" / "eval" / "somewhere.pkl"
    path.parent.mkdir(parents=True)
    path.write_bytes(pickle.dumps(with_key(fake_frame(rng), EvaluationKey("word_sorting", 2, "tripost/iter1"))))
    [row] = tables.checkpoint_table([path], tmp_path / "results").to_dict("records")
    assert (row["task"], row["seed"], row["checkpoint"]) == ("word_sorting", 2, "tripost/iter1")
    assert row["method"] == "TriPosT (t=1)" and row["source"] == "eval/somewhere.pkl"
    path.write_bytes(pickle.dumps(fake_frame(rng)))
    with pytest.raises(ValueError, match=r"somewhere\.pkl: an evaluation without its key"):
        tables.checkpoint_table([path], tmp_path / "results")


def test_the_wide_tables_show_the_cells(built):
    results, out = built
    cells = pd.read_csv(out["cells"]).set_index(["table", "method", "inference", "task", "metric"])
    main = pd.read_csv(out["main_csv"], keep_default_na=False).set_index("method")
    assert list(main.index) == ["ft rationale", "ft answer-only", "ft SI demo", "LMSI",
                                "TriPosT (t=1)", "TriPosT (t=2)"]
    # ft rationale is tested without self-improvement rounds (the paper's rationale wrapper)
    cell = cells.loc[("main", "ft rationale", "no SI", "word_sorting", "first_seen")]
    assert main.loc["ft rationale", "word_sorting seen"] == f"{cell['mean']:.1f} ± {cell['std']:.1f}"
    cell = cells.loc[("main", "TriPosT (t=2)", "SI", "logical_deduction", "total")]
    mark = "" if cell["p_two_sided"] >= 0.05 else " ▲" if cell["wins"] > cell["losses"] else " ▼"
    assert main.loc["TriPosT (t=2)", "logical_deduction total"] == f"{cell['mean']:.1f} ± {cell['std']:.1f}{mark}"
    assert main.loc["LMSI", "logical_deduction total"] == "n/a"  # not run for that task
    ablations = pd.read_csv(out["ablations_csv"], keep_default_na=False)
    groups = ablations.groupby("group")["method"].apply(list).to_dict()
    assert groups["improve_data_ratio (t=2)"] == ["p = 1.5", "p = -1 (no rebalancing)"]
    assert groups["self_improve_section_weight (t=2)"] == ["w = 1.5", "w = 2"]
    assert groups["iterations"] == ["t = 1", "t = 2", "t = 3"]
    p_main = ablations[(ablations["method"] == "p = 1.5")].iloc[0]
    t2 = ablations[(ablations["method"] == "t = 2")].iloc[0]
    assert p_main["word_sorting total"] == t2["word_sorting total"]  # the main run's p is the main run
    assert p_main["logical_deduction total"] == "n/a"  # no ablations for that task
    inference = ablations[ablations["group"] == "inference"]
    assert set(inference["inference"]) == {"SI", "no SI"} and "ft answer-only" not in set(inference["method"])
    si = pd.read_csv(out["self_improvement_csv"]).set_index("method")
    assert "word_sorting n_fixed" in si.columns and "ft answer-only" not in si.index
    assert "mean ± std over seeds 0, 1, 2" in out["main_md"].read_text()
    for name in ("main_md", "ablations_md"):  # the notes say what the marks mean
        assert (tables.paired_note("cells.csv") in out[name].read_text()
                and "{" not in out[name].read_text().split("\n\n")[-1])


def test_figures_and_results_page_are_written(built, tmp_path):
    results, out = built
    frame = pd.read_csv(out["checkpoints"])
    figures.accuracy_by_iteration(frame, TASKS, tmp_path / "f" / "acc")
    figures.seen_unseen(frame, tables.main_rows(frame, 2), TASKS, tmp_path / "f" / "bars")
    figures.ablation_curves(frame, POINTS, 2, tmp_path / "f" / "ablation")
    figures.self_improvement_rate(frame, TASKS, tmp_path / "f" / "rate")
    for stem in ("acc", "bars", "ablation", "rate"):
        assert (tmp_path / "f" / f"{stem}.png").read_bytes()[:4] == b"\x89PNG"
        assert (tmp_path / "f" / f"{stem}.pdf").read_bytes()[:4] == b"%PDF"
    page = results_page.render(pd.read_csv(out["cells"]), out["main_md"].read_text(), TASKS, [0, 1, 2],
                               "the scratch model")
    cells = pd.read_csv(out["cells"]).set_index(["table", "method", "inference", "task", "metric"])
    ours = cells.loc[("main", "ft rationale", "no SI", "logical_deduction", "first_total"), "mean"]
    assert "| ft rationale | LLaMA-7B ft rationale | " in page and f"{ours:.1f} / 45.8" in page
    assert "not run / 81.0" in page  # no LLM expert configured here
    assert "different model scale" in page
    ablation = cells.loc[("ablations", "p = -1 (no rebalancing)", "SI", "word_sorting", "total"), "mean"]
    assert "- improve_data_ratio (t=2), word_sorting: p = 1.5: " in page and f"p = -1: {ablation:.1f}" in page
    assert "- self-improvement at inference, logical_deduction: changes total accuracy by" in page


def test_paired_tests_pair_each_seed_with_its_own_baseline(built):
    """wins / losses recomputed with plain pandas: each seed's checkpoint against the same seed's
    ft rationale (first attempt), question by question; the exact McNemar p-values by hand."""
    from math import comb

    results, out = built
    cells = pd.read_csv(out["cells"])
    tested = cells[cells["pairs"].notna()]
    assert len(tested) > 50 and (tested["wins"] + tested["losses"]).gt(0).any()
    for cell in tested.itertuples():
        wins = losses = pairs = 0
        for source in cell.sources.split(";"):
            frame = pd.read_pickle(results / source)
            base = pd.read_pickle(results / (source.rsplit("/seed", 1)[0] + "/seed"
                                             + source.split("/seed")[1].split("/")[0] + "/baseline.pkl"))
            assert list(frame["id"]) == list(base["id"])
            split = cell.metric.removeprefix("first_")
            keep = frame["seen"] if split == "seen" else ~frame["seen"] if split == "unseen" else frame["seen"] | True
            ours = frame["first_correct" if cell.metric.startswith("first_") else "correct"][keep]
            theirs = base["first_correct"][keep]
            wins += int((ours & ~theirs).sum())
            losses += int((~ours & theirs).sum())
            pairs += int(keep.sum())
        assert (cell.pairs, cell.wins, cell.losses) == (pairs, wins, losses), cell
        n = wins + losses
        worse = sum(comb(n, k) for k in range(losses, n + 1)) / 2**n if n else 1.0
        better = sum(comb(n, k) for k in range(wins, n + 1)) / 2**n if n else 1.0
        assert cell.p_worse == pytest.approx(worse)
        assert cell.p_two_sided == pytest.approx(min(1.0, 2 * min(worse, better)))
    baseline = cells[(cells["method"] == "ft rationale") & (cells["inference"] == "no SI") & cells["pairs"].notna()]
    assert len(baseline) and (baseline["wins"] == 0).all() and (baseline["losses"] == 0).all()
