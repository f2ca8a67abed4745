"""The suite fails on a skip that is not on the allow-list (tests/conftest.py), so CI cannot pass
with its strongest tests skipped."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from conftest import ALLOWED_SKIP_REASONS, ALLOWED_SKIPS, unallowed_skips


def test_an_allowed_prefix_covers_its_parameters_and_nothing_else():
    skipped = [("tests/test_a.py::test_gpu[bf16]", "no GPU"), ("tests/test_a.py::test_gpu_other", "x"),
               ("tests/test_b.py::test_slurm", "no slurmctld")]
    assert unallowed_skips(skipped, {"tests/test_a.py::test_gpu[": "GPU only"}) == skipped[1:]
    assert unallowed_skips(skipped, {}) == skipped
    assert unallowed_skips(skipped, {}, {"no slurm": "x"}) == skipped[:2]  # a reason's start, not its middle
    assert unallowed_skips(skipped, {}, {"no ": "x"}) == [skipped[1]]


def test_every_allowed_skip_says_why():
    assert all(reason.strip() for reason in [*ALLOWED_SKIPS.values(), *ALLOWED_SKIP_REASONS.values()])


def _run(folder: Path, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider", str(folder)],
                          capture_output=True, text=True, cwd=folder, env={**os.environ, **env})


def test_a_skip_fails_the_session_unless_allowed(tmp_path):
    shutil.copy(Path(__file__).with_name("conftest.py"), tmp_path / "conftest.py")
    (tmp_path / "test_x.py").write_text(
        "import pytest\n\ndef test_runs():\n    pass\n\ndef test_lacks_a_tool():\n    pytest.skip('no tool')\n")
    strict = _run(tmp_path, TRIPOST_ALLOW_SKIPS="0")
    assert strict.returncode == 1, strict.stdout
    assert "test_x.py::test_lacks_a_tool: Skipped: no tool" in strict.stdout
    assert _run(tmp_path, TRIPOST_ALLOW_SKIPS="1").returncode == 0
    (tmp_path / "test_x.py").write_text("def test_runs():\n    pass\n")
    assert _run(tmp_path, TRIPOST_ALLOW_SKIPS="0").returncode == 0
