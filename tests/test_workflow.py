"""The workflow itself: config validation, the DAG, lint, and one real end-to-end micro run."""

from __future__ import annotations

import json
import os
import pickle
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from conftest import REPO

SNAKEMAKE = [sys.executable, "-m", "snakemake"]
STAGES = {"splits", "rationales", "tokenizer", "baseline", "rollouts", "feedback", "improvement",
          "improvement_data", "tripost_checkpoint", "evaluate", "tables", "figures"}


def snakemake(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    result = subprocess.run(SNAKEMAKE + list(args), cwd=REPO, capture_output=True, text=True, env=env)
    if check and result.returncode != 0:
        raise AssertionError(result.stdout[-4000:] + result.stderr[-4000:])
    return result


def job_counts(output: str) -> dict[str, int]:
    block = output.split("Job stats:")[1].split("total")[0]
    return {m.group(1): int(m.group(2)) for m in re.finditer(r"^(\w+)\s+(\d+)$", block, re.M)}


def write_config(tmp_path: Path, name: str, change) -> Path:
    config = yaml.safe_load((REPO / "config" / "quick.yaml").read_text())
    change(config)
    path = tmp_path / name
    path.write_text(yaml.safe_dump(config))
    return path


@pytest.mark.parametrize("change,key", [
    (lambda c: c.update(epochz=3), "epochz"),
    (lambda c: c["tripost"].update(improve_data_ratio="high"), "improve_data_ratio"),
    (lambda c: c["baseline"]["training"].update(batch_size=0), "batch_size"),
    (lambda c: c.update(tasks=["chess"]), "chess"),
])
def test_bad_config_fails_before_any_job_naming_the_key(tmp_path, change, key):
    path = write_config(tmp_path, "bad.yaml", change)
    result = snakemake("-n", "--configfile", str(path), check=False)
    assert result.returncode != 0
    message = result.stdout + result.stderr
    assert key in message and "Job stats" not in message


def test_dry_run_of_the_default_lists_every_stage():
    counts = job_counts(snakemake("-n", "--forceall").stdout)  # whatever is already built here
    assert STAGES <= set(counts)
    assert counts["evaluate"] == 4 * 4 and counts["rollouts"] == 4 * 3 and counts["fetch_bigbench"] == 1


def test_lint_is_clean():
    result = snakemake("--lint", check=False)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.fixture(scope="module")
def micro_run(tmp_path_factory):
    results = tmp_path_factory.mktemp("micro") / "results"
    snakemake("--cores", "2", "--configfile", "config/quick.yaml", "--config", f"results={results}")
    return results


def test_micro_run_outputs_are_well_formed(micro_run):
    tasks = ("multistep_arithmetic", "word_sorting", "date_understanding", "logical_deduction")
    table = (micro_run / "tables" / "main.md").read_text()
    assert "ft rationale" in table and "TriPosT (t=3)" in table
    for task in tasks:
        assert f"{task} seen" in table
    iterations = pd.read_csv(micro_run / "tables" / "iterations.csv").set_index(["task", "checkpoint"])
    main = pd.read_csv(micro_run / "tables" / "main.csv").set_index("method")
    assert len(iterations) == len(tasks) * 4
    assert (micro_run / "figures" / "accuracy_by_iteration.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    for task in tasks:
        for checkpoint in ("baseline", "iter1", "iter2", "iter3"):
            assert (micro_run / "models" / task / "seed0" / checkpoint / "config.json").exists()
            with open(micro_run / "eval" / task / "seed0" / f"{checkpoint}.pkl", "rb") as handle:
                frame = pickle.load(handle)
            assert {"bucket", "seen", "prediction", "trajectory", "correct", "rounds"} <= set(frame.columns)
            assert len(frame) > 0 and frame["trajectory"].str.startswith("Q: ").all()
            summary = json.loads((micro_run / "eval" / task / "seed0" / f"{checkpoint}.json").read_text())
            assert 0 <= summary["total"] <= 100 and summary["n"] == len(frame)
            row = iterations.loc[(task, checkpoint)]
            for metric in ("seen", "unseen", "total"):  # the tables agree with the summaries
                assert row[metric] == pytest.approx(summary[metric])
                si_method = "ft rationale (SI inference)" if checkpoint == "baseline" else row["method"]
                assert main.loc[si_method, f"{task} {metric}"] == pytest.approx(summary[metric], abs=0.05)
            if checkpoint == "baseline":  # the paper's ft rationale row: the first attempt
                first_seen = summary["first_attempt"]["seen"]
                assert main.loc["ft rationale", f"{task} seen"] == pytest.approx(first_seen, abs=0.05)
        for t in (1, 2, 3):
            folder = micro_run / "tripost" / task / "seed0" / f"iter{t}"
            counts = json.loads((folder / "counts.json").read_text())
            assert counts["total"] == sum(1 for _ in open(folder / "train.jsonl"))
            assert sum(counts["outcomes"].values()) == sum(1 for _ in open(folder / "rollouts.jsonl"))
            stats = json.loads((micro_run / "models" / task / "seed0" / f"iter{t}" / "train_stats.json").read_text())
            if counts["enough_data"]:
                assert stats["examples"] + stats["dropped_too_long"] == counts["total"]
            else:
                assert stats["skipped"] and stats["examples"] == 0
            if task != "multistep_arithmetic":  # these micro models learn the format: every iteration trains
                assert counts["outcomes"].get("edited", 0) > 0 and stats["examples"] > 0 and not stats.get("skipped")
    for rule in ("baseline", "evaluate", "rollouts"):
        assert any((micro_run / "benchmarks" / rule).iterdir())


def test_changing_one_iteration_reruns_only_what_depends_on_it(micro_run, tmp_path):
    path = write_config(tmp_path, "changed.yaml", lambda c: c.update(
        results=str(micro_run), overrides={"iterations": {3: {"improve_data_ratio": 2.0}}}))
    counts = job_counts(snakemake("-n", "--configfile", str(path)).stdout)
    assert counts["improvement_data"] == 4 and counts["tripost_checkpoint"] == 4
    assert counts["evaluate"] == 4  # the four tasks' iteration-3 checkpoints only
    assert "baseline" not in counts and "rollouts" not in counts and "splits" not in counts
