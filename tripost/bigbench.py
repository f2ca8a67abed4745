"""BIG-Bench task files: fetched once from the ``bigbench==1.0.0`` source distribution on PyPI.

Only the task JSON files are kept, in a cache outside ``results/``. Each task says which files it
reads (``Task.bigbench_files``) and makes their synthetic stand-ins (``Task.synthetic_source``).
"""

from __future__ import annotations

import json
import random
import tarfile
import tempfile
from collections.abc import Iterable
from pathlib import Path

from tripost.pypi import Distribution, fetch

SDIST = "bigbench-1.0.0.tar.gz"
SDIST_SHA256 = "1bb398a5512c6d798cdebe0dfa0ac03f67f6033fa6b39c6ef71df978c7cbc5c2"
DISTRIBUTION = Distribution("bigbench==1.0.0", SDIST, SDIST_SHA256, source=True)
MEMBER_PREFIX = "bigbench-1.0.0/bigbench/benchmark_tasks/"


def fetch_task_files(cache: Path, files: Iterable[str]) -> dict[str, Path]:
    """The task JSON files (paths inside ``bigbench/benchmark_tasks``) under ``cache``,
    downloading and extracting them if needed (a user without a network puts the source
    distribution at ``cache/SDIST``)."""
    cache.mkdir(parents=True, exist_ok=True)
    wanted = {rel: cache / rel for rel in files}
    if all(p.exists() for p in wanted.values()):
        return wanted
    with tempfile.TemporaryDirectory(dir=cache) as tmp:
        sdist = fetch(DISTRIBUTION, cache / SDIST, Path(tmp))
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
