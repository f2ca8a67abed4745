"""GPU jobs side by side on one machine each get their own GPUs (lock files, held for the life of
the job's process); with no GPU or a scheduler's choice, nothing changes."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tripost import snake

from conftest import REPO

HOLD = """
import sys, time
from pathlib import Path
from tripost.snake import claim_gpus
print(claim_gpus(int(sys.argv[1]), 3, Path(sys.argv[2])), flush=True)
time.sleep(60)
"""


def test_jobs_side_by_side_get_different_gpus_and_a_finished_job_frees_its_own(tmp_path):
    other = subprocess.Popen([sys.executable, "-c", HOLD, "2", str(tmp_path)], stdout=subprocess.PIPE, text=True,
                             cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)})
    try:
        assert other.stdout.readline().strip() == "[0, 1]"  # another job's process holds GPUs 0 and 1
        assert snake.claim_gpus(1, 3, tmp_path) == [2]
        with pytest.raises(RuntimeError, match="needs 1 GPU.*resources: gpu="):
            snake.claim_gpus(1, 3, tmp_path)  # a job too many for the machine: said, not shared
    finally:
        other.kill()
        other.wait()
    assert snake.claim_gpus(2, 3, tmp_path) == [0, 1]  # its process ended: its GPUs are free again


def test_no_gpu_or_a_scheduler_choice_leaves_the_environment_alone(monkeypatch):
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    snake.place_on_gpus(1)  # this machine has no GPU
    assert "CUDA_VISIBLE_DEVICES" not in os.environ
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "3")
    snake.place_on_gpus(1)  # SLURM (or the user) chose
    assert os.environ["CUDA_VISIBLE_DEVICES"] == "3"
