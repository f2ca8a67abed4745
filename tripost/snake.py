"""The little glue between a Snakemake ``script:`` job and the stage functions."""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import fcntl
import os
import sys
import tempfile
import traceback
from pathlib import Path
from typing import IO

_HELD_GPU_LOCKS: list[IO] = []  # open for the life of the job's process

# glibc's mallopt parameters, and the largest mmap threshold it accepts on 64-bit machines
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3
MMAP_THRESHOLD_MAX = 32 * 2**20
TRIM_THRESHOLD = 2**30


def claim_gpus(count: int, total: int, lock_dir: Path) -> list[int]:
    """The first ``count`` of the machine's ``total`` GPUs that no other job holds, each held by
    an exclusive lock on ``lock_dir/tripost-gpu<i>.lock`` until this process ends. Snakemake runs
    as many GPU jobs side by side as the profile's ``gpu`` resource allows, but does not say
    which GPU a job gets: without this every job would use the first."""
    claimed = []
    for index in range(total):
        if len(claimed) == count:
            break
        handle = open(lock_dir / f"tripost-gpu{index}.lock", "w")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            continue
        _HELD_GPU_LOCKS.append(handle)
        claimed.append(index)
    if len(claimed) < count:
        raise RuntimeError(f"this job needs {count} GPU(s) but only {claimed or 'none'} of the machine's {total} "
                           "are free: set the profile's `resources: gpu=` to the number of GPUs")
    return claimed


def place_on_gpus(count: int) -> None:
    """Make this job's GPUs the only visible ones, unless the scheduler already chose
    (``CUDA_VISIBLE_DEVICES`` set, as SLURM does) or the machine has none."""
    if count <= 0 or "CUDA_VISIBLE_DEVICES" in os.environ:
        return
    import torch

    total = torch.cuda.device_count()  # counts without initialising CUDA
    if total:
        gpus = claim_gpus(count, total, Path(tempfile.gettempdir()))
        os.environ["CUDA_VISIBLE_DEVICES"] = ",".join(map(str, gpus))


def keep_freed_memory() -> bool:
    """Have glibc's malloc serve blocks of up to 32 MiB from its heap and keep up to 1 GiB of what
    is freed there, rather than map each large block afresh and hand it back when it is freed. A
    training step allocates and frees the same activations every step; by default glibc maps and
    unmaps many of them, and the kernel zero-fills every page of each new mapping: about a million
    page faults in a 30-s training, 3-4x as many as with this setting, which trains 1.03-1.05x as
    fast (benchmarks/allocator.py; decoding gains nothing). A job then holds the memory it freed
    until it exits. False where the C library has no ``mallopt`` (not glibc) or refuses a value."""
    try:
        mallopt = ctypes.CDLL(ctypes.util.find_library("c")).mallopt
    except (OSError, AttributeError, TypeError):
        return False
    mapped = mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_MAX)
    trimmed = mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD)
    return bool(mapped) and bool(trimmed)


@contextlib.contextmanager
def job(snakemake):
    """Send the job's output to its log file; give torch (imported later) the job's threads and
    its own GPUs, and the process an allocator that keeps the memory it frees."""
    log = Path(snakemake.log[0])
    log.parent.mkdir(parents=True, exist_ok=True)
    for variable in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[variable] = str(max(1, snakemake.threads))
    place_on_gpus(int(snakemake.resources.get("gpu", 0)))
    keep_freed_memory()
    with open(log, "w") as handle, contextlib.redirect_stdout(handle), contextlib.redirect_stderr(handle):
        try:
            yield
        except Exception:
            traceback.print_exc()
            raise
    sys.stdout.flush()
