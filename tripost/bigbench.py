"""BIG-Bench task files: fetched once from the ``bigbench==1.0.0`` source distribution on PyPI.

Only the task JSON files are kept, in a cache outside ``results/``. Each task says which files it
reads (``Task.bigbench_files``) and makes their synthetic stand-ins (``Task.synthetic_source``).
"""

from __future__ import annotations

import hashlib
import json
import random
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Iterable
from pathlib import Path

SDIST = "bigbench-1.0.0.tar.gz"
SDIST_SHA256 = "1bb398a5512c6d798cdebe0dfa0ac03f67f6033fa6b39c6ef71df978c7cbc5c2"
MEMBER_PREFIX = "bigbench-1.0.0/bigbench/benchmark_tasks/"


class FetchError(RuntimeError):
    pass


def offline_help(cache: Path) -> str:
    return (
        f"On a machine with access to PyPI run\n"
        f"    pip download --no-deps --no-binary :all: bigbench==1.0.0 -d DIR\n"
        f"and copy DIR/{SDIST} (sha256 {SDIST_SHA256}) to {cache / SDIST}; "
        f"the workflow then extracts the task files from it without a network."
    )


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def download_sdist(directory: Path) -> Path:
    """``pip download`` the source distribution into ``directory``."""
    command = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:",
               "bigbench==1.0.0", "-d", str(directory)]
    result = subprocess.run(command, capture_output=True, text=True)
    path = directory / SDIST
    if result.returncode != 0 or not path.exists():
        raise FetchError(f"could not download bigbench==1.0.0 from PyPI:\n{result.stderr[-2000:]}")
    return path


def fetch_task_files(cache: Path, files: Iterable[str]) -> dict[str, Path]:
    """The task JSON files (paths inside ``bigbench/benchmark_tasks``) under ``cache``,
    downloading and extracting them if needed."""
    cache.mkdir(parents=True, exist_ok=True)
    wanted = {rel: cache / rel for rel in files}
    if all(p.exists() for p in wanted.values()):
        return wanted
    local = cache / SDIST
    with tempfile.TemporaryDirectory(dir=cache) as tmp:
        if local.exists():
            sdist = local
        else:
            try:
                sdist = download_sdist(Path(tmp))
            except FetchError as error:
                raise FetchError(f"{error}\n{offline_help(cache)}") from error
        if sha256(sdist) != SDIST_SHA256:
            raise FetchError(f"{sdist} does not have the expected sha256 {SDIST_SHA256}.\n{offline_help(cache)}")
        with tarfile.open(sdist) as archive:
            for rel in wanted:
                member = archive.getmember(MEMBER_PREFIX + rel)
                data = archive.extractfile(member).read()
                wanted[rel].parent.mkdir(parents=True, exist_ok=True)
                wanted[rel].write_bytes(data)
    return wanted


def seqio_split(n_examples: int) -> tuple[list[int], list[int]]:
    """(train, validation) indices of a task file as HF ``bigbench`` splits it (seqio's rule): a
    seed-42 shuffle, the last 20% (at least 16) validation."""
    order = list(range(n_examples))
    random.Random(42).shuffle(order)
    n_validation = max(int(0.2 * n_examples), 16)
    return order[: n_examples - n_validation], order[n_examples - n_validation:]


def load_examples(path: Path) -> list[dict]:
    return json.loads(Path(path).read_text())["examples"]
