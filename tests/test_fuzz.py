"""Fuzzing what a small model (or an LLM expert) can write: seeded mutations of real attempts,
feedbacks and trajectories of every task, read and judged the way the workflow does. Zero
exceptions; every case ends as a counted outcome (an edit, a drop with its reason, a malformed
generation, an unparsable feedback)."""

from __future__ import annotations

import copy
import random
from collections import Counter

import pytest

from tripost import io
from tripost.expert import ERROR, ScriptedExpert, expert_feedback, improve, locate_edit, plant_error
from tripost.formats import FEEDBACK, correct_feedback, is_done_feedback, last_top_step, names_an_error, parse_feedback
from tripost.inference import end_at_unactionable, reading_stops
from tripost.llm_expert import clean_attempt, is_legit_update, parse_table
from tripost.tasks.base import Record, Task
from tripost.trajectory import Trajectory, extend, render, to_turns, updated_head

CASES_PER_TASK = int(__import__("os").environ.get("FUZZ_CASES", 10_000))
MARKERS = (FEEDBACK, "Updated Answer:", "(Final response)", "Error segment:", "Error reason:", "Q:", "Options:")
GARBAGE = ("", " ", "\t", "\x00", "\u200b", "é", "∑∞", "🙂", "\ufffd", '"', '""', "(", ")", "((1))", "=", "-",
           "--5", "1e309", "nan", "999999999999999999999", "\\n", "(0)", "(1.1.1)", "(-1)", "(99)")


def seed_texts(task: Task, record: Record, rng: random.Random) -> list[str]:
    """What M and the expert write for ``record`` when all goes well, and with one error."""
    gold = task.solve(record)
    texts = [gold, f"{gold}\n{FEEDBACK} {correct_feedback(last_top_step(gold))}"]
    planted = plant_error(task, record, rng)
    if planted is not None:
        wrong, _ = planted
        feedback = ScriptedExpert(task).error_feedback(record, wrong)
        texts += [wrong, feedback, f"{wrong}\n{FEEDBACK} {feedback}\n{updated_head(task)}\n{gold}",
                  render(task, record, [wrong, gold], [feedback, correct_feedback(last_top_step(gold))]),
                  f"(1) Error segment: x\nError segment: \"{wrong.split(chr(10))[0]}\"\nError reason: {feedback}"]
    return texts


def mutate(text: str, rng: random.Random, donors: list[str]) -> str:
    """Up to four random edits of ``text`` (none in one case of eight): cuts, lost / repeated / swapped lines,
    changed numbers, garbage and unicode, very long lines, markers missing or repeated, lines of other records."""
    for _ in range(rng.choice((0, 1, 1, 1, 2, 2, 3, 4))):
        lines = text.split("\n")
        i = rng.randrange(len(lines))
        kind = rng.randrange(11)
        if kind == 0:
            text = text[: rng.randint(0, len(text))]
            continue
        if kind == 1 and len(lines) > 1:
            del lines[i]
        elif kind == 2:
            lines.insert(i, lines[i])
        elif kind == 3:
            j = rng.randrange(len(lines))
            lines[i], lines[j] = lines[j], lines[i]
        elif kind == 4:
            digits = [k for k, c in enumerate(lines[i]) if c.isdigit()]
            if digits:
                k = rng.choice(digits)
                lines[i] = lines[i][:k] + rng.choice(["0", "7", "-", "12345", "", "9" * 30]) + lines[i][k + 1:]
        elif kind == 5:
            k = rng.randint(0, len(lines[i]))
            lines[i] = lines[i][:k] + rng.choice(GARBAGE) + lines[i][k:]
        elif kind == 6:
            lines[i] = lines[i] + " " + rng.choice(lines[i].split() or ["x"]) * rng.randint(100, 3000)
        elif kind == 7:
            marker = rng.choice(MARKERS)
            lines[i] = lines[i].replace(marker, "") if marker in lines[i] else marker + " " + lines[i]
        elif kind == 8:
            lines.insert(i, rng.choice(MARKERS) + rng.choice(["", " ", " x", " " + lines[i]]))
        elif kind == 9:
            lines.insert(i, rng.choice(rng.choice(donors).split("\n")))
        else:
            lines[i] = "".join(rng.sample(lines[i], len(lines[i])))  # shuffled characters
        text = "\n".join(lines)
    return text


def read_generations(generations: list[str]) -> Trajectory:
    """M's trajectory from up to three generation calls, each asked for what comes next."""
    trajectory = Trajectory()
    for generated in generations:
        asked = "feedback" if trajectory.awaiting_feedback else "attempt"
        reading_stops(trajectory, generated, asked, "named_error")
        if not extend(trajectory, generated, asked) or trajectory.done:
            break
    return trajectory


def run_case(task: Task, expert: ScriptedExpert, record: Record, generations: list[str]) -> Counter:
    """One fuzz case through the reader, the parsers, the scripted verifier, the edit and the
    turns; returns what it came to."""
    seen: Counter = Counter()
    raw = generations[0]
    # the readers of a single text: answer, feedback, verifier, an LLM expert's outputs
    task.is_correct(task.parse_answer(raw), record)
    task.has_valid_content(record, raw)
    verdict = expert_feedback(task, expert, record, raw)
    seen["verifier:" + ("error" if verdict == ERROR else "correct" if parse_feedback(verdict) is None
                        else "feedback")] += 1
    seen["feedback:" + ("parsed" if parse_feedback(raw) is not None else "unparsable")] += 1
    names_an_error(raw, generations[-1])
    parse_table(raw, generations[-1])
    cleaned = clean_attempt(raw)
    if cleaned is not None:
        is_legit_update(generations[-1], cleaned, "1", "x")
    # a trajectory of M, read, edited, and cut into training turns
    trajectory = read_generations(generations)
    seen["malformed"] += trajectory.malformed > 0
    located = locate_edit(task, expert, record, copy.deepcopy(trajectory), max_words=400)
    edited = improve(task, expert, record, located, max_rounds=2)
    seen["outcome:" + edited["outcome"]] += 1
    if "attempts" in edited:
        improvements, last = to_turns(task, record, edited["attempts"], edited["feedbacks"])
        assert all(row["text"].startswith(task.prompt(record)) for row in improvements + [last])
    end_at_unactionable(trajectory)
    return seen


def fuzz(task: Task, records: list[Record], n: int, seed: int) -> Counter:
    rng = random.Random(seed)
    expert = ScriptedExpert(task)
    pool = {record["id"]: seed_texts(task, record, random.Random(record["id"])) for record in records}
    donors = [text for texts in pool.values() for text in texts]
    counts: Counter = Counter()
    failures = []
    for case in range(n):
        record = rng.choice(records)
        generations = [mutate(rng.choice(pool[record["id"]]), rng, donors) for _ in range(rng.randint(1, 3))]
        if rng.random() < 0.02:
            generations[0] = ""
        try:
            counts.update(run_case(task, expert, record, generations))
        except Exception as error:  # any exception at all: what the fuzzer is looking for
            failures.append((case, record["id"], generations, repr(error)))
        counts["cases"] += 1
    assert not failures, f"{len(failures)} of {n} cases raised; first: {failures[0]!r}"
    return counts


def test_every_tasks_readers_and_expert_survive_mutated_generations(task_splits):
    task, outputs = task_splits
    records = [r for split in ("train", "extra_train") for r in io.read_jsonl(outputs[split])]  # what the expert sees
    records = random.Random(0).sample(records, min(80, len(records)))
    counts = fuzz(task, records, CASES_PER_TASK, seed=sum(map(ord, task.name)))
    print(task.name, dict(sorted(counts.items())))
    outcomes = {key: value for key, value in counts.items() if key.startswith("outcome:")}
    assert counts["cases"] == CASES_PER_TASK
    assert sum(outcomes.values()) == CASES_PER_TASK  # every case ends as exactly one outcome
    # the mutations reach every branch worth reaching: edits made, drops, malformed reads
    assert outcomes.get("outcome:edited", 0) > 0 and counts["malformed"] > 0
    assert any(key.startswith("outcome:dropped:") for key in outcomes)
    assert counts["verifier:error"] > 0 and counts["verifier:feedback"] > 0


@pytest.mark.parametrize("attempt", [
    "(1) Let's calculate A is 21.",
    '(1) "ab"="" (0)',
    "(Final response) So the answer is",
    "(1)\n(Final response)",
])
def test_the_crashes_found_by_fuzzing_stay_fixed(task_splits, attempt):
    task, outputs = task_splits
    record = io.read_jsonl(outputs["train"])[0]
    verdict = ScriptedExpert(task).error_feedback(record, attempt)
    assert verdict == ERROR or parse_feedback(verdict) is not None or is_done_feedback(verdict)
