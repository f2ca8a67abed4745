"""Shared test helpers. ``../shared/tripost-data`` (the original's published data) is optional:
tests that compare against it skip cleanly when it is absent."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "tripost-data"


def published(relative: str) -> list[dict]:
    path = SHARED / relative
    if not path.exists():
        pytest.skip(f"published TriPosT data not present ({path})")
    with open(path) as handle:
        return [json.loads(line) for line in handle if line.strip()]


MSA_SPLIT_CFG = dict(bigbench_seed=42, trials=300, train_trials=150, test_trials=30, n_val=50,
                     split_seed=0, extra_seed=1234, n_extra_train=200, test_per_bucket=None)
WS_SPLIT_CFG = dict(max_train_words=7, n_val=10, split_seed=0, extra_seed=1234, n_extra_train=50,
                    test_per_bucket=None)
