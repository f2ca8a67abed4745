"""BIG-Bench task files: the bundled release files, checked, written to the cache; synthetic stand-ins."""

from __future__ import annotations

import gzip
import json

import pytest

from tripost import bigbench
from tripost.pypi import sha256
from tripost.tasks import bigbench_files, get_task


def test_every_file_a_task_reads_is_bundled_and_written_whole(tmp_path):
    files = bigbench_files()
    assert set(files) == set(bigbench.FILE_SHA256)
    written = bigbench.fetch_task_files(tmp_path / "cache", files)
    for relative, path in written.items():
        assert sha256(path) == bigbench.FILE_SHA256[relative]
        assert len(json.loads(path.read_text())["examples"]) > 100
    assert not [p for p in (tmp_path / "cache").rglob(".*")]  # no temporary left beside the files


def test_a_changed_bundle_is_refused_and_nothing_is_written(tmp_path, monkeypatch):
    bundle = tmp_path / "bundle" / "word_sorting"
    bundle.mkdir(parents=True)
    (bundle / "task.json.gz").write_bytes(gzip.compress(json.dumps({"examples": []}).encode()))
    monkeypatch.setattr(bigbench, "BUNDLED", tmp_path / "bundle")
    with pytest.raises(bigbench.BundleError, match="sha256"):
        bigbench.fetch_task_files(tmp_path / "cache", ["word_sorting/task.json"])
    assert not (tmp_path / "cache" / "word_sorting" / "task.json").exists()


def test_synthetic_task_has_the_bigbench_shape():
    task = get_task("word_sorting").synthetic_source("word_sorting/task.json", 50, seed=1)
    assert len(task["examples"]) == 50
    for example in task["examples"]:
        words = example["input"].split()
        assert example["target"] == " ".join(sorted(words)) and 2 <= len(words) <= 20
    assert task == get_task("word_sorting").synthetic_source("word_sorting/task.json", 50, seed=1)
