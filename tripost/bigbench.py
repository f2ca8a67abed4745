"""BIG-Bench task files: the task JSON files of the ``bigbench==1.0.0`` release, which ship gzipped
in ``tripost/data/bigbench`` (the package index no longer serves that release; they were taken from
its source distribution, sha256 1bb398a5…c5c2, Apache-2.0) and are written once, each checked by
its sha256, into a cache outside ``results/``. Each task says which files it reads
(``Task.bigbench_files``) and makes their synthetic stand-ins (``Task.synthetic_source``).
"""

from __future__ import annotations

import gzip
import hashlib
import json
import random
from collections.abc import Iterable
from pathlib import Path

from tripost.io import atomic_output

BUNDLED = Path(__file__).parent / "data" / "bigbench"
# sha256 of each task file as the release's source distribution holds it
FILE_SHA256 = {
    "date_understanding/task.json": "ff716f0e399109146db3a998281c39954907b78268a9b633a95582d63847822f",
    "logical_deduction/five_objects/task.json": "552dec4d5067bdbe033e78e80fdf1f5a8061d17b385379b8ec5104fa17d07918",
    "logical_deduction/seven_objects/task.json": "5e24146d600b1b2e2d8958e23851e7c958b1a7644a2540fa0de7fa3e51a68cf7",
    "logical_deduction/three_objects/task.json": "5e3f4a7569cb70bb1469374d3d34fb7883445a9d5743e1a81fd8dcdaf6fcb40f",
    "word_sorting/task.json": "8633aac2c5e59b0580f17a702d78c3a8294092144c7bb1380192dd5bb4255f29",
}


class BundleError(RuntimeError):
    pass


def bundled_file(relative: str) -> bytes:
    """A task file's bytes from the bundle, checked against its sha256."""
    if relative not in FILE_SHA256:
        raise BundleError(f"{relative} is not a bundled BIG-Bench file (bundled: {', '.join(FILE_SHA256)})")
    data = gzip.decompress((BUNDLED / f"{relative}.gz").read_bytes())
    if hashlib.sha256(data).hexdigest() != FILE_SHA256[relative]:
        raise BundleError(f"{BUNDLED / relative}.gz does not hold the released file (sha256 differs)")
    return data


def fetch_task_files(cache: Path, files: Iterable[str]) -> dict[str, Path]:
    """The task JSON files (paths inside ``bigbench/benchmark_tasks``) under ``cache``, written
    from the bundle where missing."""
    wanted = {rel: cache / rel for rel in files}
    for rel, path in wanted.items():
        if not path.exists():
            with atomic_output(path) as tmp:
                tmp.write_bytes(bundled_file(rel))
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
