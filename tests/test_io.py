"""Every artifact is written atomically: a job killed or failing mid-write leaves the old file (or
nothing), never half a file, and no temporary files behind."""

from __future__ import annotations

import re

import pytest

from tripost import io


def test_a_failed_write_keeps_what_was_there_and_leaves_no_temporary(tmp_path):
    path = tmp_path / "sub" / "table.csv"
    io.write_text(path, "old\n")
    with pytest.raises(RuntimeError):
        with io.atomic_output(path) as tmp:
            tmp.write_text("half")
            raise RuntimeError("killed")
    assert path.read_text() == "old\n"
    assert sorted(p.name for p in path.parent.iterdir()) == ["table.csv"]


def test_a_folder_appears_whole_and_replaces_the_old_one(tmp_path):
    out = tmp_path / "checkpoint"
    out.mkdir()
    (out / "stale.bin").write_text("x")
    with io.atomic_output(out) as tmp:
        tmp.mkdir()
        (tmp / "model.safetensors").write_text("weights")
        assert not (out / "model.safetensors").exists()  # not visible before the block ends
    assert sorted(p.name for p in out.iterdir()) == ["model.safetensors"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint"]


def test_jsonl_round_trip_names_the_rows(tmp_path):
    rows = [{"id": "a", "text": "é\n"}, {"id": "b", "text": ""}]
    io.write_jsonl(tmp_path / "x.jsonl", rows)
    assert io.read_jsonl(tmp_path / "x.jsonl") == rows


def test_a_file_cut_mid_line_is_an_error_naming_file_and_line(tmp_path):
    path = tmp_path / "rollouts.jsonl"
    io.write_jsonl(path, [{"id": str(i), "attempts": ["(1) x"]} for i in range(14)])
    text = path.read_text()
    path.write_text(text[: len(text) - 10])  # the 14th line loses its end
    with pytest.raises(ValueError, match=r"rollouts\.jsonl, line 14: not a JSON line"):
        io.read_jsonl(path)


def test_the_temporary_of_a_killed_write_is_cleared_by_the_next_one(tmp_path):
    stale = tmp_path / ".model.abc123"  # what a SIGKILL inside atomic_output leaves
    (stale / "model").mkdir(parents=True)
    (stale / "model" / "weights").write_text("half")
    with io.atomic_output(tmp_path / "model") as tmp:
        tmp.mkdir()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]


def test_rollouts_cut_at_a_line_boundary_or_from_another_window_are_refused(tmp_path):
    from tripost import stages
    from tripost.job_settings import CollectionSettings

    records = {f"q{i}": {"id": f"q{i}"} for i in range(12)}
    expected = stages.expected_trajectories(records, CollectionSettings(collect_window=6, passes=2, iteration=2))
    assert expected[:2] == [("q6", 0), ("q7", 0)] and len(expected) == 12  # the second window, twice
    rows = [{"id": key, "pass": index, "attempts": []} for key, index in expected]
    path = tmp_path / "rollouts.jsonl"
    io.write_jsonl(path, rows)
    assert stages.read_trajectories(path, expected) == rows
    for damaged, says in ((rows[:6], "6 trajectories where 12 were expected (6 missing"),
                          (rows + rows[:1], "1 repeated"),
                          ([dict(rows[0], id="q0")] + rows[1:], "1 not of this iteration's window")):
        io.write_jsonl(path, damaged)
        with pytest.raises(ValueError, match=r"rollouts\.jsonl: .*" + re.escape(says)):
            stages.read_trajectories(path, expected)
