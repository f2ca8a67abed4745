"""Fetching BIG-Bench task files: clear errors without a network or with a wrong archive."""

from __future__ import annotations

import io
import json
import tarfile

import pytest

from tripost import bigbench, pypi
from tripost.tasks import bigbench_files, get_task


def test_no_network_gives_a_clear_error(tmp_path, monkeypatch):
    # a package index nobody listens on: pip fails as on an offline machine
    monkeypatch.setenv("PIP_INDEX_URL", "http://127.0.0.1:9/simple")
    monkeypatch.setenv("PIP_RETRIES", "0")
    monkeypatch.setenv("PIP_TIMEOUT", "2")
    monkeypatch.setenv("PIP_FIND_LINKS", "")
    monkeypatch.setenv("PIP_CONFIG_FILE", "/dev/null")
    with pytest.raises(pypi.FetchError) as error:
        bigbench.fetch_task_files(tmp_path / "cache", bigbench_files())
    message = str(error.value)
    assert "pip download --no-deps --no-binary :all: bigbench==1.0.0" in message
    assert str(tmp_path / "cache" / bigbench.SDIST) in message and bigbench.SDIST_SHA256 in message


def test_wrong_archive_is_refused(tmp_path):
    cache = tmp_path / "cache"
    cache.mkdir()
    payload = json.dumps({"examples": []}).encode()
    with tarfile.open(cache / bigbench.SDIST, "w:gz") as archive:
        info = tarfile.TarInfo(bigbench.MEMBER_PREFIX + "word_sorting/task.json")
        info.size = len(payload)
        archive.addfile(info, io.BytesIO(payload))
    with pytest.raises(pypi.FetchError, match="sha256"):
        bigbench.fetch_task_files(cache, bigbench_files())
    assert not (cache / "word_sorting" / "task.json").exists()


def test_synthetic_task_has_the_bigbench_shape():
    task = get_task("word_sorting").synthetic_source("word_sorting/task.json", 50, seed=1)
    assert len(task["examples"]) == 50
    for example in task["examples"]:
        words = example["input"].split()
        assert example["target"] == " ".join(sorted(words)) and 2 <= len(words) <= 20
    assert task == get_task("word_sorting").synthetic_source("word_sorting/task.json", 50, seed=1)
