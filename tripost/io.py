"""Reading and writing the workflow's files (written atomically: a crash leaves no half file)."""

from __future__ import annotations

import contextlib
import glob
import json
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any


@contextlib.contextmanager
def atomic_output(path: Path | str) -> Iterator[Path]:
    """A fresh temporary path beside ``path`` to write a file or a folder to; it becomes ``path``
    (replacing what was there) only when the block ends without an error."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    for stale in path.parent.glob(f".{glob.escape(path.name)}.*"):  # left by a write that was killed
        shutil.rmtree(stale, ignore_errors=True)
    tmp = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}.")) / path.name
    try:
        yield tmp
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        os.replace(tmp, path)
    finally:
        shutil.rmtree(tmp.parent, ignore_errors=True)


def permissions_by_umask(folder: Path | str) -> None:
    """Give every file under ``folder`` the permissions the process's umask allows, as ``open``
    would: ``safetensors`` writes model weights through a temporary file of mode 0600, which the
    rest of a group sharing the results or the model cache could not read."""
    umask = os.umask(0)
    os.umask(umask)
    for file in Path(folder).rglob("*"):
        if file.is_file() and not file.is_symlink():
            file.chmod(0o666 & ~umask)


def _atomic_write(path: Path, write) -> None:
    with atomic_output(path) as tmp, open(tmp, "w") as out:
        write(out)


def write_text(path: Path | str, text: str) -> None:
    _atomic_write(Path(path), lambda out: out.write(text))


def write_jsonl(path: Path, rows: Iterable[dict[str, Any]]) -> None:
    _atomic_write(path, lambda out: [out.write(json.dumps(r, ensure_ascii=False) + "\n") for r in rows])


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """The rows of a JSON-lines file; a line that is not JSON (a file cut mid-line) is an error
    naming the file and the line."""
    rows = []
    with open(path) as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as error:
                raise ValueError(f"{path}, line {number}: not a JSON line ({error.msg}); "
                                 f"was the file cut short? Delete it and rerun the rule that makes it") from None
    return rows


def write_json(path: Path, data: Any) -> None:
    _atomic_write(path, lambda out: out.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n"))


def read_json(path: Path) -> Any:
    return json.loads(Path(path).read_text())


def by_id(rows: Iterable[dict[str, Any]], source: str) -> dict[str, dict[str, Any]]:
    """``rows`` keyed by their ``id``: the one way the workflow joins by id. A repeated id would
    silently pair a row with another's data, so it is an error naming ``source``."""
    keyed: dict[str, dict[str, Any]] = {}
    for row in rows:
        if row["id"] in keyed:
            raise ValueError(f"{source}: the id {row['id']!r} is repeated; a join by id needs unique ids")
        keyed[row["id"]] = row
    return keyed
