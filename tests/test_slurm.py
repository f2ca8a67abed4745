"""The workflow on a real SLURM cluster: a one-node cluster on loopback (tests/slurm_cluster.py)
runs the micro config's `core` target through `profiles/slurm` and
snakemake-executor-plugin-slurm; every job must be a SLURM job that accounting (sacct) knows.
The run covers the three tasks the shared micro run does not (tests/configs/micro.yaml), end to
end over one TriPosT iteration."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

import slurm_cluster
from conftest import quick_config, snakemake, write_config
from test_workflow import assert_iterations_train_on_what_they_collected

# The tasks besides the shared micro run's; logical deduction's micro model edits and trains on
# every machine kind seen so far (word sorting's learns to copy the words on some CPUs only).
TASKS = ("multistep_arithmetic", "word_sorting", "logical_deduction")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    lacking = slurm_cluster.missing()
    if lacking:
        pytest.skip(f"no SLURM cluster can be started here: {', '.join(lacking)} "
                    f"(apt-get install {' '.join(slurm_cluster.PACKAGES)}; as root)")
    started = slurm_cluster.Cluster(tmp_path_factory.mktemp("slurm")).start()
    yield started
    started.stop()


def sacct(cluster) -> list[dict[str, str]]:
    fields = ["JobID", "JobName", "Comment", "State", "Elapsed", "ExitCode"]
    out = subprocess.run(["sacct", "-X", "-n", "-P", "-a", f"--format={','.join(fields)}", "-S", "now-1day"],
                         capture_output=True, text=True, env=cluster.env, check=True).stdout
    return [dict(zip(fields, line.split("|"))) for line in out.splitlines() if line.strip()]


def submissions(log: str) -> tuple[dict[str, str], list[str], set[str]]:
    """From Snakemake's log: {job: SLURM id} of the jobs submitted alone, the SLURM ids of the
    group jobs, and the jobs that ran inside a group (its members, listed under "Group job")."""
    jobs = dict(re.findall(r"Job (\d+) has been submitted with SLURM jobid (\d+)", log))
    groups = re.findall(r"Job [0-9a-f-]{36} has been submitted with SLURM jobid (\d+)", log)
    # a group's members are listed indented under "Group job ..."; other threads' lines may come
    # in between, so a member is told by its indentation alone (a job of its own: 4 spaces)
    grouped = set(re.findall(r"^ {8}jobid: (\d+)$", log, re.M))
    return jobs, groups, grouped


@pytest.mark.slurm
def test_the_micro_config_runs_through_slurm(cluster, tmp_path):
    results = tmp_path / "results"
    config = quick_config() | {"results": str(results), "seeds": [0], "tasks": list(TASKS)}
    config["tripost"]["iterations"] = 1
    # nothing here asserts that word sorting's micro model learns: a quarter of its extra questions
    config["data"]["word_sorting"]["n_extra_train"] = 100
    configfile = write_config(tmp_path, "config.yaml", config)
    started = time.time()
    # the profile as a user runs it, but the first status check after 2 s, not 10: on this idle
    # one-node cluster every job waits for the check that finds it finished
    run = snakemake("core", "--profile", "profiles/slurm", "--slurm-init-seconds-before-status-checks", "2",
                    "--configfile", str(configfile), check=False, env=cluster.env)
    seconds = time.time() - started
    output = run.stdout + run.stderr
    assert run.returncode == 0, output[-6000:] + cluster.log_tail()
    # Snakemake's own log file: one stream, in order (the captured stdout and stderr are two)
    log = Path(re.findall(r"Complete log\(s\): (\S+)", output)[-1]).read_text()
    jobs, groups, grouped = submissions(log)
    finished = re.findall(r"Finished jobid: (\d+) \(Rule: (\w+)\)", log)
    # every job but the target rule (no code) ran in a SLURM job: its own, or its group's
    assert {job for job, rule in finished if rule != "core"} == set(jobs) | grouped, "a job ran outside SLURM"
    slurm_ids = list(jobs.values()) + groups
    accounted = {row["JobID"]: row for row in sacct(cluster)}
    assert all(accounted[i]["State"] == "COMPLETED" for i in slurm_ids), [accounted.get(i) for i in slurm_ids]
    names = {accounted[i]["Comment"].split("_wildcards_")[0] for i in slurm_ids}
    assert {"rule_baseline", "rule_rollouts", "rule_tripost_checkpoint", "rule_evaluate"} <= names
    assert len(groups) >= 2 * len(TASKS) and len(slurm_ids) < len(finished)  # data and edit groups
    for task in TASKS:
        for name in ("baseline", "tripost/iter1"):
            frame = pd.read_pickle(results / "eval" / task / "seed0" / f"{name}.pkl")
            assert len(frame) > 0 and frame["trajectory"].str.startswith("Q: ").all()
        assert_iterations_train_on_what_they_collected(results, task, 1, edits=task == "logical_deduction")
    assert "| TriPosT (t=1) |" in (results / "tables" / "core.md").read_text()
    # what was measured, kept beside the test's files (pytest keeps the last three runs' tmp_path)
    summary = f"SLURM run: {seconds:.0f} s, {len(slurm_ids)} SLURM jobs for {len(finished)} Snakemake jobs"
    rows = ["|".join(row.values()) for row in accounted.values()]
    (tmp_path / "sacct.txt").write_text(
        "\n".join([f"# {summary}", "|".join(accounted[slurm_ids[0]].keys())] + rows) + "\n")
    print(f"\n{summary}; sacct list in {tmp_path / 'sacct.txt'}", file=sys.__stdout__)
