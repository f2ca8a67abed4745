"""The workflow on a real SLURM cluster: a one-node cluster on loopback (tests/slurm_cluster.py)
runs the micro config's `core` target through `profiles/slurm` and
snakemake-executor-plugin-slurm; every job must be a SLURM job that accounting (sacct) knows."""

from __future__ import annotations

import re
import subprocess
import sys
import time

import pytest

import slurm_cluster
from conftest import REPO


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


@pytest.mark.slurm
def test_the_micro_config_runs_through_slurm(cluster, tmp_path):
    results = tmp_path / "results"
    env = dict(cluster.env, PYTHONPATH=str(REPO))
    started = time.time()
    run = subprocess.run([sys.executable, "-m", "snakemake", "core", "--profile", "profiles/slurm",
                          "--configfile", "config/quick.yaml", "--config", f"results={results}", "seeds=[0]"],
                         cwd=REPO, capture_output=True, text=True, env=env)
    seconds = time.time() - started
    log = run.stdout + run.stderr
    assert run.returncode == 0, log[-6000:] + cluster.log_tail()
    submitted = dict(re.findall(r"Job (\d+) has been submitted with SLURM jobid (\d+)", log))
    finished = re.findall(r"Finished jobid: (\d+) \(Rule: (\w+)\)", log)
    local = {"core"}  # the target rule itself runs no code
    assert {job for job, rule in finished if rule not in local} <= set(submitted), "a job ran outside SLURM"
    accounted = {row["JobID"]: row for row in sacct(cluster)}
    for slurm_id in submitted.values():
        assert accounted[slurm_id]["State"] == "COMPLETED", accounted[slurm_id]
    rules = {row["Comment"].split("_wildcards_")[0].removeprefix("rule_") for row in accounted.values()
             if row["JobID"] in submitted.values()}
    assert {"baseline", "rollouts", "tripost_checkpoint", "evaluate"} <= rules  # the model jobs, one per job
    assert "edit" in rules and "data" in rules  # the small rules went as groups
    for task in ("multistep_arithmetic", "word_sorting", "date_understanding", "logical_deduction"):
        for name in ("baseline", "tripost/iter1", "tripost/iter2", "tripost/iter3"):
            assert (results / "eval" / task / "seed0" / f"{name}.pkl").exists()
    assert "| TriPosT (t=3) |" in (results / "tables" / "core.md").read_text()
    report = tmp_path / "sacct.txt"
    report.write_text("\n".join("|".join(row.values()) for row in accounted.values()))
    print(f"\nSLURM run: {seconds:.0f} s, {len(submitted)} SLURM jobs for {len(finished)} Snakemake jobs; "
          f"sacct list in {report}", file=sys.__stdout__)
