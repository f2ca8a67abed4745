"""Killed and resumed, end to end: SIGKILL of the whole Snakemake process group in the middle of a
training job, a rollout job and an LLM feedback job; the same command again (after
`snakemake --unlock` where Snakemake asks for it, as the README says) finishes, and every artifact
is byte-identical to an uninterrupted run's."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import yaml

from tripost.settings import merged

from conftest import REPO, quick_config
from test_llm_expert import SECRET, _settings, server  # noqa: F401 - the loopback LLM fixture

# Run-specific files: logs, wall times, the record of the config (it names the results folder).
RUN_SPECIFIC = ("logs/", "benchmarks/", "config.yaml", "tables/runtimes.csv", "tables/runtimes.md")


def micro_config(tmp_path: Path, name: str, **changes) -> Path:
    """configs/quick.yaml, one task and one seed, two TriPosT iterations, no other baselines."""
    config = quick_config()
    config.update(tasks=["word_sorting"], seeds=[0], core_seeds=1)
    config["tripost"]["iterations"] = 2
    config = merged(config, changes)
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def _command(configfile: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "snakemake", "core", "--cores", "1", "--configfile", str(configfile), *extra]


def _env() -> dict[str, str]:
    return dict(os.environ, PYTHONPATH=str(REPO), TRIPOST_TEST_KEY=SECRET)


def run_to_end(configfile: Path) -> list[str]:
    """The command until it succeeds, doing what Snakemake asks in between; returns those steps."""
    steps = []
    for _ in range(3):
        result = subprocess.run(_command(configfile), cwd=REPO, capture_output=True, text=True, env=_env())
        output = result.stdout + result.stderr
        if result.returncode == 0:
            return steps
        if "--unlock" in output:
            subprocess.run(_command(configfile, "--unlock"), cwd=REPO, check=True, capture_output=True, env=_env())
            steps.append("unlock")
        elif "--rerun-incomplete" in output:
            subprocess.run(_command(configfile, "--rerun-incomplete"), cwd=REPO, check=True, capture_output=True,
                           env=_env())
            steps.append("rerun-incomplete")
            return steps
        else:
            raise AssertionError(output[-4000:])
    raise AssertionError(f"did not finish after {steps}")


def kill_during(configfile: Path, started: Path, finished: Path, ready=None, timeout: float = 900) -> None:
    """Start the run, and SIGKILL its whole process group while the job whose log is ``started``
    runs (its output ``finished`` not yet there) and ``ready()`` holds (by default: the job has
    written to its log)."""
    ready = ready or (lambda: started.stat().st_size > 0)
    if started.parents[2].exists():  # resumed after an earlier kill: unlock first, as the README says
        subprocess.run(_command(configfile, "--unlock"), cwd=REPO, check=True, capture_output=True, env=_env())
    process = subprocess.Popen(_command(configfile), cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               env=_env(), start_new_session=True)
    deadline = time.time() + timeout
    try:
        while time.time() < deadline and process.poll() is None:
            if started.exists() and not finished.exists() and ready():
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
                assert not finished.exists(), f"{finished} was finished before the kill"
                return
            time.sleep(0.05)
        raise AssertionError(f"the job of {started} was never seen running")
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def artifacts(results: Path) -> dict[str, bytes]:
    files = {p.relative_to(results).as_posix(): p for p in sorted(results.rglob("*")) if p.is_file()}
    return {name: path.read_bytes() for name, path in files.items()
            if not any(name == skip or (skip.endswith("/") and name.startswith(skip)) for skip in RUN_SPECIFIC)}


def assert_same_artifacts(resumed: Path, reference: Path) -> None:
    got, want = artifacts(resumed), artifacts(reference)
    assert sorted(got) == sorted(want)
    differ = [name for name in want if got[name] != want[name]]
    assert not differ, f"{len(differ)} artifacts differ from the uninterrupted run's: {differ[:10]}"


def test_killed_mid_training_and_mid_rollouts_the_run_resumes_to_the_same_artifacts(tmp_path):
    reference = tmp_path / "reference"
    run_to_end(micro_config(tmp_path, "reference", results=str(reference)))
    killed = tmp_path / "killed"
    configfile = micro_config(tmp_path, "killed", results=str(killed))
    kill_during(configfile, killed / "logs/baseline/word_sorting_seed0.log",
                killed / "models/word_sorting/seed0/baseline")
    kill_during(configfile, killed / "logs/rollouts/word_sorting_seed0_tripost_iter2.log",
                killed / "tripost/word_sorting/seed0/tripost/iter2/rollouts.jsonl")
    steps = run_to_end(configfile)
    assert "unlock" in steps or not steps  # Snakemake may ask for --unlock after a SIGKILL
    assert_same_artifacts(killed, reference)
    # no temporary of an interrupted write is left (Snakemake marks folder outputs with its own)
    assert not [p for p in killed.rglob(".*") if p.name != ".snakemake_timestamp"]


def test_killed_mid_llm_feedback_the_rerun_pays_nothing_twice(server, tmp_path):  # noqa: F811
    proxy, model = server

    def config(name: str) -> Path:
        results = tmp_path / name
        return micro_config(tmp_path, name, results=str(results), tasks=["date_understanding"],
                            tripost={"iterations": 1},
                            expert={"kind": "openai", "rationales": "scripted",
                                    "openai": _settings(proxy, model, tmp_path / f"{name}-cache")})

    before = proxy.forwarded
    run_to_end(config("reference"))
    paid_reference = proxy.forwarded - before
    killed = tmp_path / "killed"
    feedback = killed / "tripost/date_understanding/seed0/tripost/iter1/feedback.jsonl"
    at_start: list[int] = []

    def some_answers_cached() -> bool:  # the feedback job has been paid for part of its requests
        at_start.append(proxy.forwarded) if not at_start else None
        return proxy.forwarded >= at_start[0] + 3

    with proxy.lock:  # the reference run asked the same requests (another cache): count this run's only
        proxy.delivered.clear()
    asked_again, before = proxy.asked_again, proxy.forwarded
    kill_during(config("killed"), killed / "logs/feedback/date_understanding_seed0_tripost_iter1.log", feedback,
                some_answers_cached)
    run_to_end(config("killed"))
    # answers received before the kill are not asked for again; at most the requests in flight at
    # the kill (the expert's concurrency: 2) are sent a second time
    assert proxy.asked_again - asked_again <= 2
    assert paid_reference <= proxy.forwarded - before <= paid_reference + 2
    assert_same_artifacts(killed, tmp_path / "reference")  # ledgers included: the same calls, tokens, cost
    for file in killed.rglob("*"):
        if file.is_file():
            assert SECRET.encode() not in file.read_bytes(), file
