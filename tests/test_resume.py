"""Killed and resumed, end to end: SIGKILL of the whole Snakemake process group in the middle of a
training job and a rollout job; the same command again (after `snakemake --unlock` where Snakemake
asks for it, as the README says) finishes, and every artifact is byte-identical to the shared
micro run's, which ran uninterrupted. (An LLM feedback job killed mid-way: tests/test_llm_expert.py.)"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from conftest import REPO, lost_its_lock_folder, micro_config, snakemake, write_config

# Run-specific files: logs, wall times, the record of the config (it names the results folder),
# the tables (the shared micro run's pool both seeds).
RUN_SPECIFIC = ("logs/", "benchmarks/", "config.yaml", "tables/")


def resume_config(tmp_path: Path, name: str, **changes) -> Path:
    """The shared micro run's config, its first seed's core target over one TriPosT iteration:
    every job it plans is one of the shared run's, with the same settings."""
    config = micro_config() | {"seeds": [0], "core_seeds": 1, **changes}
    config["tripost"]["iterations"] = 1
    return write_config(tmp_path, f"{name}.yaml", config)


def _arguments(configfile: Path, *extra: str) -> list[str]:
    return ["core", "--cores", "2", "--configfile", str(configfile), *extra]


def run_to_end(configfile: Path) -> list[str]:
    """The command until it succeeds, doing what Snakemake asks in between; returns those steps."""
    steps = []
    for _ in range(3):
        result = snakemake(*_arguments(configfile), check=False)
        output = result.stdout + result.stderr
        if result.returncode == 0:
            return steps
        if "--unlock" in output:
            snakemake(*_arguments(configfile, "--unlock"))
            steps.append("unlock")
        elif "--rerun-incomplete" in output:
            snakemake(*_arguments(configfile, "--rerun-incomplete"))
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
        snakemake(*_arguments(configfile, "--unlock"))
    output = configfile.with_suffix(".out")
    deadline = time.time() + timeout
    for _ in range(3):
        with output.open("w") as sink:
            process = subprocess.Popen([sys.executable, "-m", "snakemake", *_arguments(configfile)], cwd=REPO,
                                       stdout=sink, stderr=subprocess.STDOUT, start_new_session=True,
                                       env=dict(os.environ, PYTHONPATH=str(REPO)))
        try:
            while time.time() < deadline and process.poll() is None:
                if started.exists() and not finished.exists() and ready():
                    os.killpg(process.pid, signal.SIGKILL)
                    process.wait()
                    assert not finished.exists(), f"{finished} was finished before the kill"
                    return
                time.sleep(0.05)
        finally:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        if not lost_its_lock_folder(output.read_text()):
            break  # (a run that lost its lock folder to another worker's run did nothing: start it again)
    raise AssertionError(f"the job of {started} was never seen running: {output.read_text()[-3000:]}")


def artifacts(results: Path) -> dict[str, bytes]:
    files = {p.relative_to(results).as_posix(): p for p in sorted(results.rglob("*")) if p.is_file()}
    return {name: path.read_bytes() for name, path in files.items()
            if not any(name == skip or (skip.endswith("/") and name.startswith(skip)) for skip in RUN_SPECIFIC)}


def assert_same_artifacts(resumed: Path, reference: Path) -> None:
    """Every artifact of the resumed run is the reference run's, byte for byte (the reference may
    have more: a larger target)."""
    got, want = artifacts(resumed), artifacts(reference)
    assert got and not set(got) - set(want), sorted(set(got) - set(want))[:10]
    differ = [name for name in got if got[name] != want[name]]
    assert not differ, f"{len(differ)} artifacts differ from the uninterrupted run's: {differ[:10]}"


def test_killed_mid_training_and_mid_rollouts_the_run_resumes_to_the_same_artifacts(micro_run, tmp_path):
    task = "date_understanding"
    killed = tmp_path / "killed"
    configfile = resume_config(tmp_path, "killed", results=str(killed))
    kill_during(configfile, killed / f"logs/baseline/{task}_seed0.log", killed / f"models/{task}/seed0/baseline")
    kill_during(configfile, killed / f"logs/rollouts/{task}_seed0_tripost_iter1.log",
                killed / f"tripost/{task}/seed0/tripost/iter1/rollouts.jsonl")
    steps = run_to_end(configfile)
    assert "unlock" in steps or not steps  # Snakemake may ask for --unlock after a SIGKILL
    assert (killed / f"eval/{task}/seed0/tripost/iter1.pkl").exists()
    assert_same_artifacts(killed, micro_run)
    # no temporary of an interrupted write is left (Snakemake marks folder outputs with its own)
    assert not [p for p in killed.rglob(".*") if p.name != ".snakemake_timestamp"]
