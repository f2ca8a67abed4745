"""Reading and writing the workflow's files (written atomically: a crash leaves no half file)."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any, Iterable


def _atomic_write(path: Path, write) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(handle, "w") as out:
            write(out)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def write_jsonl(path: Path, rows: Iterable[dict[str, Any]]) -> None:
    _atomic_write(path, lambda out: [out.write(json.dumps(r, ensure_ascii=False) + "\n") for r in rows])


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    with open(path) as handle:
        return [json.loads(line) for line in handle if line.strip()]


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
