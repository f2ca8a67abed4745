"""The exact McNemar test of a checkpoint against its baseline, and its join by question id."""

from __future__ import annotations

import pandas as pd
import pytest

from tripost.paired import Paired, compare


def frame(correct: list[bool], seen: list[bool] | None = None, ids: list[str] | None = None) -> pd.DataFrame:
    n = len(correct)
    return pd.DataFrame({"id": ids or [f"q{i}" for i in range(n)], "seen": seen or [True] * n,
                         "correct": correct, "first_correct": correct})


def test_exact_mcnemar_values():
    assert Paired(20, 10, 0).p_two_sided == pytest.approx(2 / 1024)
    assert Paired(20, 10, 0).mark == "▲" and Paired(20, 0, 10).mark == "▼"
    assert Paired(20, 0, 10).p_worse == pytest.approx(1 / 1024)
    assert Paired(20, 5, 5).p_two_sided == 1.0 and Paired(20, 5, 5).mark == ""
    assert Paired(20, 4, 1).p_two_sided == pytest.approx(2 * 6 / 32)  # P(X >= 4 | n=5) = 6/32
    assert Paired(5, 0, 0).p_two_sided == 1.0 and Paired(5, 0, 0).p_worse == 1.0
    assert (Paired(3, 1, 0) + Paired(4, 2, 1)) == Paired(7, 3, 1)


def test_compare_joins_by_id_not_by_position():
    baseline = frame([True, False, False, True], seen=[True, True, False, False])
    # the same questions in another order: q1 right (a win), q3 wrong (a loss)
    checkpoint = frame([False, True, False, True], seen=[False, True, False, True], ids=["q3", "q0", "q2", "q1"])
    result = compare(checkpoint, "correct", baseline, "first_correct", "total")
    assert (result.pairs, result.wins, result.losses) == (4, 1, 1)
    seen = compare(checkpoint, "correct", baseline, "first_correct", "seen")
    assert (seen.pairs, seen.wins, seen.losses) == (2, 1, 0)
    unseen = compare(checkpoint, "correct", baseline, "first_correct", "unseen")
    assert (unseen.pairs, unseen.wins, unseen.losses) == (2, 0, 1)


def test_compare_refuses_repeated_ids_and_other_questions():
    baseline = frame([True, False])
    with pytest.raises(ValueError, match="repeats"):
        compare(frame([True, False], ids=["q0", "q0"]), "correct", baseline, "first_correct", "total")
    with pytest.raises(ValueError, match="different questions"):
        compare(frame([True, False], ids=["q0", "q9"]), "correct", baseline, "first_correct", "total")
