"""GPU jobs side by side on one machine each get their own GPUs (lock files, held for the life of
the job's process); with no GPU or a scheduler's choice, nothing changes. A job's allocator keeps
the large blocks it frees."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from types import SimpleNamespace

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


MALLOC = """
import ctypes, ctypes.util, sys
from tripost.snake import keep_freed_memory
class MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks",
                                                       "fsmblks", "uordblks", "fordblks", "keepcost")]
libc = ctypes.CDLL(ctypes.util.find_library("c"))
libc.mallinfo2.restype, libc.malloc.restype, libc.free.argtypes = MallInfo2, ctypes.c_void_p, [ctypes.c_void_p]
libc.malloc.argtypes = [ctypes.c_size_t]
kept = keep_freed_memory() if sys.argv[1] == "keep" else None
before = libc.mallinfo2().hblks
block = libc.malloc(16 * 2**20)
mapped = libc.mallinfo2().hblks - before  # 1: the block got a mapping of its own
libc.free(block)
print(kept, mapped, libc.mallinfo2().arena)
"""


def malloc_16_mib_and_free(keep: bool) -> tuple[str, int, int]:
    """In a fresh process: what ``keep_freed_memory`` returned, whether a 16 MiB block got a
    mapping of its own, and the heap's size once it is freed."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_") and k != "GLIBC_TUNABLES"}
    done = subprocess.run([sys.executable, "-c", MALLOC, "keep" if keep else "default"], capture_output=True,
                          text=True, cwd=REPO, env={**env, "PYTHONPATH": str(REPO)}, check=True)
    kept, mapped, heap = done.stdout.split()
    return kept, int(mapped), int(heap)


def test_a_job_keeps_the_large_blocks_it_frees_in_its_heap():
    """By default glibc maps a fresh 16 MiB block of its own and unmaps it when it is freed; after
    ``keep_freed_memory`` the heap serves it and keeps it once freed."""
    libc, version = platform.libc_ver()
    if libc != "glibc" or tuple(map(int, version.split(".")[:2])) < (2, 33):
        pytest.skip("mallopt is glibc's (and mallinfo2, which the test reads, 2.33's)")
    _, mapped, heap = malloc_16_mib_and_free(keep=False)
    assert mapped == 1 and heap < 16 * 2**20
    kept, mapped, heap = malloc_16_mib_and_free(keep=True)
    assert kept == "True" and mapped == 0 and heap >= 16 * 2**20


def test_every_job_sets_the_allocator_before_its_work(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(snake, "keep_freed_memory", lambda: calls.append("kept") or True)
    for variable in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):  # job() sets them: restored after the test
        monkeypatch.setenv(variable, os.environ.get(variable, "1"))
    fake = SimpleNamespace(log=[str(tmp_path / "job.log")], threads=1, resources={"gpu": 0})
    with snake.job(fake):
        calls.append("work")
    assert calls == ["kept", "work"]
