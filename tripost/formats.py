"""The text formats shared by every task: prompts, feedback strings, trajectories (method §2)."""

from __future__ import annotations

import re
from dataclasses import dataclass

ANSWER_HEAD = "Answer: Let's think step by step."
UPDATED = "Updated Answer:"
UPDATED_HEAD = f"{UPDATED} Let's think step by step."
# The feedback head ends at the colon: an inference prompt ends there, and a tokenizer must read the
# prompt's last token as the training text's (a byte-level BPE puts the space with the next word).
FEEDBACK = "Feedback:"
FINAL_PREFIX = "(Final response)"
DONE_MARK = "final response is also correct"

STEP_ID = re.compile(r"^\((\d+(?:\.\d+)*)\)")

# The grammar's fixed phrases, each one token of the scratch tokenizer (longest first there).
GRAMMAR_PHRASES = (
    ANSWER_HEAD,
    UPDATED_HEAD,
    FEEDBACK,
    f"{FINAL_PREFIX} So the answer is",
    "The final response is also correct.",
    " are correct.",
    " is correct.",
    "In step (",
    ") the part \"",
    "\" is incorrect. This is because ",
    "Step (1) to step (",
    "Step (1) to (",
)


def with_info(head: str, info: str) -> str:
    """``Answer: Let's think step by step.`` followed by `` <info>`` when the task has one."""
    return f"{head} {info}" if info else head


def correct_feedback(last_step: str) -> str:
    """The one "all correct" feedback string (method §2.3, normalised as §9.18 recommends)."""
    return f"Step (1) to step ({last_step}) are correct. The final response is also correct."


def is_done_feedback(feedback: str) -> bool:
    return DONE_MARK in feedback.lower()


def step_ids(attempt: str) -> list[str]:
    """Ids of the numbered lines of an attempt, ``(Final response)`` excluded."""
    return [m.group(1) for line in attempt.split("\n") if (m := STEP_ID.match(line))]


def last_top_step(attempt: str) -> str:
    """The last numbered line's id (``4`` in ``(4) Hence...``); ``0`` if there is none."""
    ids = step_ids(attempt)
    return ids[-1] if ids else "0"


def read_flat_steps(attempt: str) -> list[tuple[str, str, str]]:
    """``(line, step id, body)`` of an attempt numbered ``(1)``, ``(2)``, ... and ending in the final
    response (step id ``Final response``), blank lines skipped.

    Raises ``ValueError`` for a line without a step id, steps out of sequence or no final response.
    """
    lines = [line for line in attempt.strip().split("\n") if line.strip()]
    if not lines or not lines[-1].startswith(FINAL_PREFIX):
        raise ValueError("the attempt has no final response")
    read = []
    for line in lines:
        if line.startswith(FINAL_PREFIX):
            read.append((line, "Final response", line[len(FINAL_PREFIX):].strip()))
            continue
        match = STEP_ID.match(line)
        if match is None:
            raise ValueError(f"a line without a step id: {line!r}")
        read.append((line, match.group(1), line[match.end():].strip()))
    ids = [step for _, step, _ in read]
    if ids[:-1] != [str(i) for i in range(1, len(ids))]:
        raise ValueError(f"steps out of sequence: {ids}")
    return read


@dataclass(frozen=True)
class StepError:
    """The first wrong step of an attempt as a verifier reports it."""

    step: str  # a step id such as "3" or "3.2", or "Final response"
    previous: str | None  # the id of the line before it, None for the first line
    part: str
    reason: str


def scripted_error_feedback(error: StepError) -> str:
    """The scripted verifiers' error feedback (method §2.3): note the spaces inside the quotes."""
    if error.previous is None:
        head = ""
    elif error.previous == "1":
        head = "Step (1) is correct. "
    else:
        head = f"Step (1) to ({error.previous}) are correct. "
    return f'{head}In step ({error.step}) the part " {error.part} " is incorrect. This is because {error.reason}.'


def tabular_error_feedback(error: StepError, attempt: str) -> str:
    """The error feedback rendered from an LLM's table (method §2.3, "LLM tabular"): no spaces
    inside the quotes, the steps before it named as correct."""
    if error.step == "Final response":
        previous = len(step_ids(attempt.strip()))
    else:
        previous = int(error.step.split(".")[0]) - 1
    if previous == 0:
        head = ""
    else:
        head = "Step (1) is correct. " if previous == 1 else f"Step (1) to step ({previous}) are correct. "
    reason = error.reason[0].lower() + error.reason[1:]
    reason = reason if reason.endswith(".") else reason + "."
    return f'{head}In step ({error.step}) the part "{error.part}" is incorrect. This is because {reason}'


FEEDBACK_PATTERN = re.compile(
    r'In step \((\d+(?:\.\d+)*|Final response)\) the part "(.*)" is incorrect\. This is because (.+)$'
)


@dataclass(frozen=True)
class ParsedFeedback:
    step: str
    part: str


def parse_feedback(feedback: str) -> ParsedFeedback | None:
    """Error step and part of an error feedback; None for "correct" or malformed feedback.

    Parsable means (method §2.3): one line, no ``ERROR``, ``is incorrect`` and ``because`` present,
    step and part found. A "correct" feedback is not parsable.
    """
    if "\n" in feedback or "ERROR" in feedback:
        return None
    match = FEEDBACK_PATTERN.search(feedback)
    if match is None:
        return None
    return ParsedFeedback(step=match.group(1), part=match.group(2).strip())


def names_an_error(attempt: str, feedback: str) -> bool:
    """Whether ``feedback`` points at a wrong step of ``attempt``: an error feedback that parses,
    whose step is one of the attempt's lines and whose quoted part is in that line's text (after
    its step id)."""
    parsed = parse_feedback(feedback)
    if parsed is None:
        return False
    for line in attempt.split("\n"):
        if parsed.step == "Final response" and line.startswith(FINAL_PREFIX):
            return parsed.part in line[len(FINAL_PREFIX):]
        step = STEP_ID.match(line)
        if step and step.group(1) == parsed.step:
            return parsed.part in line[step.end():]
    return False
