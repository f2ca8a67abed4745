"""The workflow itself: config validation, the DAG, lint, and one real end-to-end micro run."""

from __future__ import annotations

import json
import pickle
import re
import shutil
import subprocess
import sys

import pandas as pd
import pytest

from tripost import io
from tripost.tasks import get_task

from conftest import MICRO_CONFIGS, job_counts, lost_its_lock_folder, micro_config, recompute, snakemake, write_config

STAGES = {"splits", "rationales", "tokenizer", "baseline", "rollouts", "feedback", "improvement",
          "improvement_data", "tripost_checkpoint", "evaluate", "tables", "figures", "answer_only",
          "evaluate_answer_only", "lmsi_samples", "lmsi_data", "lmsi", "si_demo_attempts", "results_page", "runtimes"}
MICRO = ("--configfile", *MICRO_CONFIGS)
TASK = "date_understanding"  # the shared micro run's one task (tests/configs/micro.yaml)


def changed_micro_config(tmp_path, name: str, change) -> str:
    """The shared micro run's config with ``change`` applied, as a file: its path."""
    config = micro_config()
    change(config)
    return str(write_config(tmp_path, name, config))


def test_dry_run_of_the_default_lists_every_stage():
    counts = job_counts(snakemake("-n", "--forceall").stdout)  # whatever is already built here
    assert STAGES <= set(counts)
    # per task and seed: ft rationale, LMSI, ft SI demo, TriPosT t = 1..5 and six ablation runs at t = 1
    assert counts["evaluate"] == 4 * 3 * (3 + 5 + 6) and counts["fetch_bigbench"] == 1
    # the ablation runs' first iteration edits the main run's rollouts: none of their own
    assert counts["rollouts"] == 4 * 3 * 5 and counts["tripost_checkpoint"] == 4 * 3 * (5 + 6 + 1)
    assert "evaluate_llm" not in counts  # the default expert is scripted: no LLM baselines


def test_seeds_given_on_the_command_line_plan_only_those_seeds(tmp_path):
    # Snakemake parses `--config seeds=[...]` with YAML's base loader: strings, made ints again
    output = snakemake("paper", "-n", "--config", "seeds=[2]", f"results={tmp_path}").stdout
    assert job_counts(output)["evaluate"] == 4 * (3 + 5 + 6)
    planned = set(re.findall(r"/seed(\d+)/", output))
    assert planned == {"2"}


@pytest.mark.parametrize("config", ["configs/paper.yaml", "configs/quick.yaml"])
def test_every_shipped_config_validates_and_plans_the_paper_target(config, tmp_path):
    counts = job_counts(snakemake("paper", "-n", "--configfile", config, "--config", f"results={tmp_path}").stdout)
    assert counts["tables"] == 1 and counts["evaluate"] > 0 and counts["lmsi"] > 0


def planned_priorities(output: str) -> list[tuple[str, dict[str, str], int]]:
    """(rule, wildcards, priority) of every job a dry run prints."""
    jobs = []
    parts = re.split(r"^(?:local)?rule (\w+):$", output, flags=re.M)  # [before, rule, its block, rule, ...]
    for rule, block in zip(parts[1::2], parts[2::2]):
        wildcards = re.search(r"^\s+wildcards: (.*)$", block, re.M)
        priority = re.search(r"^\s+priority: (-?\d+)$", block, re.M)
        jobs.append((rule, dict(pair.split("=") for pair in wildcards.group(1).split(", ")) if wildcards else {},
                     int(priority.group(1)) if priority else 0))
    return jobs


def test_jobs_early_in_a_chain_and_of_the_first_listed_task_go_first(tmp_path):
    output = snakemake("core", "-n", "--configfile", "configs/quick.yaml", "--config", f"results={tmp_path}").stdout
    jobs = planned_priorities(output)
    assert len(jobs) == sum(job_counts(output).values())  # every planned job read
    tasks = ["multistep_arithmetic", "word_sorting", "date_understanding", "logical_deduction"]

    def priority(rule, **wildcards):
        [found] = {p for r, w, p in jobs if r == rule and wildcards.items() <= w.items()}
        return found

    for task in tasks:  # a task's data preparation goes with its baseline, ahead of every iteration job
        assert priority("splits", task=task) == priority("tokenizer", task=task) == priority("baseline", task=task)
        assert priority("baseline", task=task) > max(p for r, w, p in jobs if "iteration" in w)
        chain = [priority("rollouts", task=task, iteration="1"), priority("rollouts", task=task, iteration="2"),
                 priority("tripost_checkpoint", task=task, iteration="3"),
                 priority("evaluate", task=task, checkpoint="baseline")]
        assert chain == sorted(chain, reverse=True) and len(set(chain)) == len(chain)
    for first, second in zip(tasks, tasks[1:]):  # at one step, in the order of `tasks`
        assert priority("baseline", task=first) > priority("baseline", task=second)
        assert priority("rollouts", task=first, iteration="2") > priority("rollouts", task=second, iteration="2")
    # the lowest: evaluations, then the tables (no priority)
    assert min(p for r, w, p in jobs if r == "evaluate") > priority("core_table") == 0


def test_lint_is_clean():
    result = snakemake("--lint", check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_micro_run_builds_every_checkpoint_and_evaluation(micro_run):
    for seed in (0, 1):
        names = ["baseline", "answer_only", "lmsi", "si_demo/iter1", "p-1/iter1", "w2/iter1"]
        names += [f"tripost/iter{t}" for t in (1, 2, 3, 4)]  # t = 4: the t ablation
        for name in names:
            assert (micro_run / "models" / TASK / f"seed{seed}" / name / "config.json").exists()
            with open(micro_run / "eval" / TASK / f"seed{seed}" / f"{name}.pkl", "rb") as handle:
                frame = pickle.load(handle)
            assert {"bucket", "seen", "prediction", "trajectory", "correct", "rounds"} <= set(frame.columns)
            assert len(frame) > 0 and frame["trajectory"].str.startswith("Q: ").all()
            summary = json.loads((micro_run / "eval" / TASK / f"seed{seed}" / f"{name}.json").read_text())
            assert 0 <= summary["total"] <= 100 and summary["n"] == len(frame)
        # the answer-only model answers in one line: no rounds
        with open(micro_run / "eval" / TASK / f"seed{seed}" / "answer_only.pkl", "rb") as handle:
            assert (pickle.load(handle)["rounds"] == 0).all()
        lmsi = json.loads((micro_run / "lmsi" / TASK / f"seed{seed}" / "counts.json").read_text())
        assert lmsi["selection"] == "majority" and lmsi["samples"] == 3 * lmsi["questions"]
        assert lmsi["examples"] == sum(1 for _ in open(micro_run / "lmsi" / TASK / f"seed{seed}" / "train.jsonl"))


def assert_iterations_train_on_what_they_collected(results, task: str, iterations: int, edits: bool) -> None:
    """Each iteration's counts match its files, and its checkpoint trained on its data (or
    skipped, when there was too little); with ``edits``, every iteration edited and trained."""
    for t in range(1, iterations + 1):
        folder = results / "tripost" / task / "seed0" / "tripost" / f"iter{t}"
        counts = json.loads((folder / "counts.json").read_text())
        assert counts["total"] == sum(1 for _ in open(folder / "train.jsonl"))
        assert sum(counts["outcomes"].values()) == sum(1 for _ in open(folder / "rollouts.jsonl"))
        checkpoint = results / "models" / task / "seed0" / "tripost" / f"iter{t}"
        stats = json.loads((checkpoint / "train_stats.json").read_text())
        if counts["enough_data"]:
            assert stats["examples"] + stats["dropped_too_long"] == counts["total"]
        else:
            assert stats["skipped"] and stats["examples"] == 0
        if edits:
            assert counts["outcomes"].get("edited", 0) > 0 and stats["examples"] > 0 and not stats.get("skipped")


def test_micro_run_iterations_train_on_what_they_collected(micro_run):
    # date understanding's micro model writes attempts the expert can read on every machine kind
    # seen so far (word sorting's learns to copy the words on some CPUs only)
    assert_iterations_train_on_what_they_collected(micro_run, TASK, 3, edits=True)
    demo = json.loads((micro_run / "tripost" / TASK / "seed0" / "si_demo" / "iter1" / "counts.json").read_text())
    assert demo["num_improvement"] > 0 and demo["outcomes"].get("edited", 0) > 0
    # an ablation run's first iteration edits the main run's rollouts (none of its own) with its own p
    ablation = micro_run / "tripost" / TASK / "seed0" / "p-1" / "iter1"
    assert not (ablation / "rollouts.jsonl").exists() and (ablation / "counts.json").exists()
    for rule in ("baseline", "evaluate", "rollouts", "lmsi", "answer_only"):
        assert any((micro_run / "benchmarks" / rule).iterdir())


def test_micro_run_tables_trace_to_the_pickles(micro_run):
    cells = pd.read_csv(micro_run / "tables" / "cells.csv")
    for cell in cells[cells["n"] > 0].itertuples():
        values = recompute(micro_run, cell.sources, cell.metric)
        assert len(values) == cell.n and cell.mean == pytest.approx(pd.Series(values).mean())
        assert cell.n == 2  # both seeds
    main = pd.read_csv(micro_run / "tables" / "main.csv", keep_default_na=False).set_index("method")
    assert list(main.index) == ["ft rationale", "ft answer-only", "ft SI demo", "LMSI", "TriPosT (t=1)",
                                "TriPosT (t=2)", "TriPosT (t=3)"]
    assert all(" ± " in main.loc[m, f"{TASK} total"] for m in main.index)
    ablations = pd.read_csv(micro_run / "tables" / "ablations.csv", keep_default_na=False)
    assert {"p = 1.5", "p = -1 (no rebalancing)", "w = 1.5", "w = 2", "t = 4"} <= set(ablations["method"])
    for name in ("accuracy_by_iteration", "seen_unseen", "ablation_curves", "self_improvement_rate"):
        assert (micro_run / "figures" / f"{name}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert (micro_run / "figures" / f"{name}.pdf").read_bytes()[:4] == b"%PDF"
    page = (micro_run / "results.md").read_text()
    assert "different model scale" in page and "| ft rationale | LLaMA-7B ft rationale |" in page
    runtimes = pd.read_csv(micro_run / "tables" / "runtimes.csv").set_index("rule")
    assert runtimes.loc["baseline", "jobs"] == 2 and runtimes.loc["evaluate", "total_s"] > 0


def test_recipe_compares_variants_and_the_control_on_validation(micro_run):
    """The micro recipe (two variants and the control, one iteration) for one task, from the
    micro run's baseline: scored on the validation split, which no model trained on."""
    task = TASK
    snakemake(str(micro_run / "recipe" / f"{task}_t1.md"), "--cores", "2", *MICRO, "--config", f"results={micro_run}")
    data = micro_run / "data" / task
    val = {r["id"] for r in io.read_jsonl(data / "val.jsonl")}
    trained = {r["id"] for split in ("train", "extra_train") for r in io.read_jsonl(data / f"{split}.jsonl")}
    generated = [r["id"] for r in io.read_jsonl(data / "val.jsonl") if r["id"].startswith("du-x")]
    assert len(generated) == 4 and not val & trained  # n_val_extra, held out of the baseline's data
    table = pd.read_csv(micro_run / "recipe" / f"{task}_t1.csv", keep_default_na=False, dtype=str)
    runs = ["tripost", "temp0.7", "mask", "control"]
    assert list(table["checkpoint"]) == ["baseline"] + [f"{run}/iter1" for run in runs]
    for name in table["checkpoint"]:
        frame = pd.read_pickle(micro_run / "eval_val" / task / "seed0" / f"{name}.pkl")
        assert set(frame["id"]) == val
        shown = table.loc[table["checkpoint"] == name, "first attempt"].iloc[0]
        assert shown.startswith(f"{100 * frame['first_correct'].mean():.1f}")
    # the temperature changes what is collected at t = 1; the mask does not (it reads the main run's)
    runs_dir = micro_run / "tripost" / task / "seed0"
    assert (runs_dir / "temp0.7" / "iter1" / "rollouts.jsonl").exists()
    assert not (runs_dir / "mask" / "iter1" / "rollouts.jsonl").exists()
    # the control: the main run's questions, row for row, as gold-rationale SFT texts
    gold = {r["id"]: r["rationale"] for r in io.read_jsonl(data / "rationales.jsonl")}
    records = {r["id"]: r for split in ("train", "extra_train") for r in io.read_jsonl(data / f"{split}.jsonl")}
    du = get_task(task)
    main = io.read_jsonl(runs_dir / "tripost" / "iter1" / "train.jsonl")
    control = io.read_jsonl(runs_dir / "control" / "iter1" / "train.jsonl")
    assert sorted(r["id"] for r in control) == sorted(r["id"] for r in main) and control
    assert all(r["text"] == du.rationale_text(records[r["id"]], gold[r["id"]]) for r in control)


def test_core_target_is_the_first_seeds_main_run(micro_run):
    (micro_run / "tables" / "core.md").unlink(missing_ok=True)
    result = snakemake("core", "--cores", "1", *MICRO, "--config", f"results={micro_run}")
    assert set(job_counts(result.stdout + result.stderr)) == {"core_table", "core"}  # every evaluation was there
    core = (micro_run / "tables" / "core.md").read_text()
    assert "| ft rationale |" in core and "| TriPosT (t=3) |" in core and "seed 0." in core
    assert "| TriPosT (t=3) first attempt |" in core and "n_broken" in core
    # both seeds of the micro run: every cell pools them, with its paired test
    snakemake("core", "--cores", "1", *MICRO, "--config", f"results={micro_run}", "core_seeds=2")
    assert "seeds 0, 1." in (micro_run / "tables" / "core.md").read_text()
    cells = pd.read_csv(micro_run / "tables" / "core_cells.csv")
    tripost = cells[(cells["table"] == "core") & (cells["method"] == "TriPosT (t=3)") & (cells["metric"] == "seen")]
    assert len(tripost) and (tripost["n"] == 2).all() and tripost["p_worse"].between(0, 1).all()


def test_a_new_seed_is_planned_by_the_evaluations_target_whatever_the_tables(micro_run):
    """The paper target one seed at a time: with the tables of earlier seeds there and the
    input-set trigger unavailable (here: mtime only), `paper` for a new seed plans nothing, since
    Snakemake does not rerun an existing output for its missing inputs; `evaluations` plans the
    seed's every job and none of the report's."""
    new_seed = ("--rerun-triggers", "mtime", *MICRO, "--config", f"results={micro_run}", "seeds=[2]")
    planned = snakemake("paper", "-n", *new_seed)
    assert "Nothing to be done" in planned.stdout + planned.stderr
    counts = job_counts(snakemake("evaluations", "-n", *new_seed).stdout)
    assert counts["baseline"] == counts["lmsi"] == counts["answer_only"] == 1
    # a seed's nine checkpoints (test_micro_run_builds_every_checkpoint_and_evaluation) and answer-only
    assert counts["evaluate"] == 9 and counts["evaluate_answer_only"] == 1
    assert not set(counts) & {"tables", "figures", "results_page", "runtimes", "paper"}


def test_changing_one_iteration_reruns_only_what_depends_on_it(micro_run, tmp_path):
    path = changed_micro_config(tmp_path, "changed.yaml", lambda c: c.update(
        results=str(micro_run), overrides={"iterations": {2: {"improve_data_ratio": 2.0}}}))
    counts = job_counts(snakemake("paper", "-n", "--configfile", path).stdout)
    # per seed: the main run's iteration-2 data (the p and w points stop at t = 1), then what
    # follows from its new checkpoint: iterations 3 and 4 (the t ablation)
    assert counts["improvement_data"] == 2 * 3 and counts["rollouts"] == 2 * 2
    assert counts["tripost_checkpoint"] == 2 * 3 and counts["evaluate"] == 2 * 3
    assert "baseline" not in counts and "splits" not in counts and "lmsi" not in counts


def test_settings_no_job_reads_rerun_nothing(micro_run, tmp_path):
    """With the scripted expert no job sends a request: the LLM's model, prices, connection and
    request settings are read by none, and changing them plans no job."""
    def change(config: dict) -> None:
        config["results"] = str(micro_run)
        config["expert"]["openai"].update(model="another", price_per_million_tokens={"prompt": 9, "completion": 9},
                                          concurrency=1, timeout_s=5, feedback={"temperature": 0.5, "max_tokens": 7})
    result = snakemake("paper", "-n", "--configfile", changed_micro_config(tmp_path, "unread.yaml", change))
    # only the record of the whole config (results/config.yaml) is made again
    assert set(job_counts(result.stdout)) == {"config_record", "paper"}, result.stdout[-3000:]


def test_the_training_rate_reruns_only_checkpoints_and_what_follows(micro_run, tmp_path):
    def change(config: dict) -> None:
        config["results"] = str(micro_run)
        config["tripost"]["training"]["lr"] = 2 * config["tripost"]["training"]["lr"]
    output = snakemake("paper", "-n", "--configfile", changed_micro_config(tmp_path, "lr.yaml", change)).stdout
    counts = job_counts(output)
    assert counts["tripost_checkpoint"] > 0 and counts["lmsi"] == 2  # LMSI trains with tripost.training
    assert not set(counts) & {"splits", "rationales", "tokenizer", "baseline", "answer_only", "lmsi_samples",
                              "lmsi_data", "si_demo_attempts"}
    # iteration 1 collects from the baseline, which does not change: its rollouts and data stay
    made = [path for line in re.findall(r"^\s+output: (.+)$", output, re.M) for path in line.split(", ")]
    assert any(path.endswith("/iter2/rollouts.jsonl") for path in made)
    assert not [path for path in made if re.search(r"/iter1/(rollouts|feedback|improvements|train)\.jsonl$", path)]


CHROMIUM = shutil.which("chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]


def test_report_is_self_contained_and_shows_every_figure_in_chromium(micro_run, tmp_path):
    report = tmp_path / "report.html"
    snakemake("paper", "--report", str(report), *MICRO, "--config", f"results={micro_run}")
    html = report.read_text()
    assert "<script src=" not in html and "<link href=\"http" not in html  # nothing fetched when opened
    if CHROMIUM is None:
        pytest.skip("Debian's chromium is not installed (apt-get install chromium; .ci/run does)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.goto(report.as_uri())
        menu = page.inner_text("body")
        for category in ("Figures", "Tables", "Runtimes", "Configuration", "Results page"):
            assert category in menu
        page.get_by_text("Figures", exact=True).click()
        for figure in ("accuracy by iteration", "seen unseen", "ablation curves", "self improvement rate"):
            row = page.locator("tr").filter(has=page.get_by_text(figure, exact=True))
            row.locator("a[iconname=eye]").click()
            shown = page.locator(f"img[src^='data:image/png'][src*='{figure.replace(' ', '_')}']")
            shown.wait_for(state="visible", timeout=10_000)
            width, height = shown.evaluate("e => [e.naturalWidth, e.naturalHeight]")
            assert width > 400 and height > 200, figure  # the PNG decoded, not a broken image
        page.screenshot(path=str(tmp_path / "report.png"))
        browser.close()


def test_a_run_that_ends_removes_every_runs_locks_which_the_suites_helper_retries(tmp_path):
    """Why ``conftest.snakemake`` runs again a run that lost its lock folder: Snakemake removes
    the working directory's whole ``.snakemake/locks`` when any run ends, another run's lock file
    too (if a Snakemake release stops doing so, this fails, and the retry can go)."""
    (tmp_path / "Snakefile").write_text('rule a:\n    output: "a.txt"\n    shell: "touch {output}"\n')
    locks = tmp_path / ".snakemake" / "locks"
    locks.mkdir(parents=True)
    (locks / "7.input.lock").write_text(str(tmp_path / "someone_elses_input.txt"))  # another run's lock
    subprocess.run([sys.executable, "-m", "snakemake", "--cores", "1", "a.txt"], cwd=tmp_path, check=True,
                   capture_output=True)
    assert (tmp_path / "a.txt").exists() and not locks.exists()
    error = "FileNotFoundError: [Errno 2] No such file or directory: '/work/ci/.snakemake/locks/0.input.lock'"
    assert lost_its_lock_folder(error)  # the message of such a run (a CI run of session 22)
    assert not lost_its_lock_folder("FileNotFoundError: [Errno 2] No such file or directory: 'results/data/x.jsonl'")
