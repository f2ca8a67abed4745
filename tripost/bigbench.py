"""BIG-Bench task files: fetched once from the ``bigbench==1.0.0`` source distribution on PyPI.

Only the task JSON files are kept, in a cache outside ``results/``. ``synthetic_task`` writes a
small file of the same shape from pseudo-words, for the micro configuration and the tests.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

SDIST = "bigbench-1.0.0.tar.gz"
SDIST_SHA256 = "1bb398a5512c6d798cdebe0dfa0ac03f67f6033fa6b39c6ef71df978c7cbc5c2"
TASK_FILES = (
    "word_sorting/task.json",
    "date_understanding/task.json",
    "logical_deduction/three_objects/task.json",
    "logical_deduction/five_objects/task.json",
    "logical_deduction/seven_objects/task.json",
)
DATE_UNDERSTANDING_SIZE = 369  # questions in the real file
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


def fetch_task_files(cache: Path) -> dict[str, Path]:
    """The task JSON files under ``cache`` (downloading and extracting them if needed)."""
    cache.mkdir(parents=True, exist_ok=True)
    wanted = {rel: cache / rel for rel in TASK_FILES}
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
            for rel in TASK_FILES:
                member = archive.getmember(MEMBER_PREFIX + rel)
                data = archive.extractfile(member).read()
                wanted[rel].parent.mkdir(parents=True, exist_ok=True)
                wanted[rel].write_bytes(data)
    return wanted


def pseudo_word(rng: random.Random) -> str:
    consonants, vowels = "bcdfghjklmnprstvwz", "aeiou"
    return ("".join(rng.choice(consonants) + rng.choice(vowels) for _ in range(rng.randint(1, 4)))
            + rng.choice(["", "n", "r", "s"]))


def synthetic_word_sorting(n_examples: int, seed: int) -> dict:
    """A BIG-Bench-shaped ``word_sorting`` task of pseudo-words (2 to 20 per list)."""
    rng = random.Random(seed)
    examples = []
    for _ in range(n_examples):
        words = [pseudo_word(rng) for _ in range(rng.choice([2, 3, 4, 5, 6, 7, 2, 3, 4, 5, 9, 12, 17]))]
        examples.append({"input": " ".join(words), "target": " ".join(sorted(words))})
    return {"name": "word_sorting", "examples": examples}


def seqio_split(n_examples: int) -> tuple[list[int], list[int]]:
    """(train, validation) indices of a task file as HF ``bigbench`` splits it (seqio's rule): a
    seed-42 shuffle, the last 20% (at least 16) validation."""
    order = list(range(n_examples))
    random.Random(42).shuffle(order)
    n_validation = max(int(0.2 * n_examples), 16)
    return order[: n_examples - n_validation], order[n_examples - n_validation:]


def synthetic_logical_deduction(n_objects: int, n_examples: int, seed: int) -> dict:
    """A BIG-Bench-shaped ``logical_deduction`` file of new puzzles of our generator."""
    from tripost.tasks.logical_deduction_puzzle import generate_example

    rng = random.Random(seed * 10 + n_objects)
    return {"name": "logical_deduction", "examples": [generate_example(rng, n_objects) for _ in range(n_examples)]}


def synthetic_date_understanding(seed: int) -> dict:
    """A BIG-Bench-shaped ``date_understanding`` file of new questions of our generator, as many
    as the real one (the paper's split names questions by position), the right option first."""
    from tripost.tasks.date_understanding import generate_question

    rng = random.Random(seed)
    examples = []
    for _ in range(DATE_UNDERSTANDING_SIZE):
        question, answer, wrong = generate_question(rng, max_steps=3)
        examples.append({"input": question, "target_scores": {answer: 1, **{w: 0 for w in wrong}}})
    return {"name": "date_understanding", "examples": examples}


def synthetic_task(relative: str, n_examples: int, seed: int) -> dict:
    """The synthetic stand-in of one BIG-Bench task file (no download: micro runs and tests)."""
    if relative == "word_sorting/task.json":
        return synthetic_word_sorting(n_examples, seed)
    if relative == "date_understanding/task.json":
        return synthetic_date_understanding(seed)
    from tripost.tasks.logical_deduction_puzzle import NUMBER_WORDS

    match = re.fullmatch(r"logical_deduction/(three|five|seven)_objects/task\.json", relative)
    if match:
        return synthetic_logical_deduction(NUMBER_WORDS[match.group(1)], n_examples, seed)
    raise KeyError(f"no synthetic stand-in for {relative}")


def load_examples(path: Path) -> list[dict]:
    return json.loads(Path(path).read_text())["examples"]
