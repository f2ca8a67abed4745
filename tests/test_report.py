"""The tables are built from the evaluation summaries and the iteration counts, never mixed up."""

from __future__ import annotations

from tripost import io
from tripost.report import long_table, main_table


def _summary(seen: float, unseen: float, total: float) -> dict:
    metrics = {"seen": seen, "unseen": unseen, "total": total}
    first = {key: value + 1 for key, value in metrics.items()}  # distinct, to catch a mix-up
    return metrics | {"first_attempt": first, "pct_changed": 1.0, "pct_fixed": 0.5, "pct_broken": 0.0,
                      "mean_rounds": 0.2}


def test_accuracy_columns_come_from_the_summaries_not_the_counts(tmp_path):
    folder = tmp_path / "eval" / "word_sorting" / "seed0"
    io.write_json(folder / "baseline.json", _summary(30.0, 2.0, 12.0))
    io.write_json(folder / "iter1.json", _summary(40.0, 4.0, 16.0))
    counts = tmp_path / "tripost" / "word_sorting" / "seed0" / "iter1" / "counts.json"
    io.write_json(counts, {"num_improvement": 15, "num_non_improvement": 10, "num_ground_truth": 10, "total": 35})

    frame = long_table([folder / "baseline.json", folder / "iter1.json"], [counts]).set_index("checkpoint")
    assert frame.loc["iter1", "total"] == 16.0 and frame.loc["iter1", "num_train_examples"] == 35
    assert frame.loc["iter1", "num_improvement"] == 15 and frame.loc["baseline", "total"] == 12.0
    table = main_table(frame.reset_index())
    assert table.loc["TriPosT (t=1)", "word_sorting total"] == "16.0"
    assert table.loc["ft rationale", "word_sorting seen"] == "31.0"  # attempt only, as the paper
    assert table.loc["ft rationale (SI inference)", "word_sorting seen"] == "30.0"
    assert list(table.index) == ["ft rationale", "ft rationale (SI inference)", "TriPosT (t=1)"]
