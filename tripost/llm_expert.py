"""The expert as an LLM, the paper's path (method §1.4, §2.7, §4): rationales, feedback (FBK) and
improvements (IMP) from few-shot prompts to any OpenAI-compatible model.

The few-shot blocks are ours: built from the task's own training questions by its scripted
expert (a gold rationale; the same rationale with one number changed, the scripted verifier's
verdict on it in the "Earliest error step / Error segment / Error reason" table the original's
prompts use; the corrected rationale after the feedback). Prompts, the table's parsing, the
feedback it renders and the checks on an improvement follow the spec.
"""

from __future__ import annotations

import re

from tripost.expert import ERROR, error_line_index, lines_before, plant_error
from tripost.formats import FINAL_PREFIX, STEP_ID, UPDATED_HEAD, StepError, step_ids, tabular_error_feedback, with_info
from tripost.job_settings import LLMSettings
from tripost.llm import LLM, STOP
from tripost.tasks.base import Record, Task

FEEDBACK_CUE = "Earliest error step:"


# ---- few-shot examples --------------------------------------------------------------------------
def feedback_table(error: StepError) -> str:
    """The error as the few-shot examples' table (what the LLM is asked to write after the cue)."""
    reason = error.reason[0].upper() + error.reason[1:]
    return f' ({error.step})\nError segment: "{error.part}"\nError reason: {reason}.'


class FewShot:
    """The three few-shot blocks of one task, from ``k`` of its training questions."""

    def __init__(self, task: Task, records: list[Record], k: int):
        self.rationale, self.feedback, self.update = [], [], []
        for record in records:
            if len(self.feedback) == k:
                break
            planted = plant_error(task, record)
            if planted is None:
                continue
            wrong, error = planted
            gold = task.solve(record)
            self.rationale.append(f"{task.prompt(record)}\n{gold} {STOP}")
            self.feedback.append(f"{task.prompt(record)}\n{wrong}\n{FEEDBACK_CUE}{feedback_table(error)} {STOP}")
            update_head = with_info(UPDATED_HEAD, task.info)
            feedback = tabular_error_feedback(error, wrong)
            self.update.append(f"{task.prompt(record)}\n{wrong} {STOP}\nFeedback: {feedback}\n"
                               f"{update_head}\n{gold} {STOP}")
        if not self.feedback:
            raise ValueError(f"{task.name}: no training question gives a few-shot example")

    def block(self, kind: str) -> str:
        return "\n\n".join(getattr(self, kind)) + "\n\n"


# ---- the LLM's feedback table -------------------------------------------------------------------
def parse_table(completion: str, attempt: str) -> StepError | None:
    """The LLM's table as a ``StepError``; None when it does not follow the format (method §4)."""
    lines = [line for line in completion.strip().split("\n") if line.strip()]
    if len(lines) < 3:
        return None
    number = re.search(r"\((\d+)\)", lines[0])
    n_steps = len(step_ids(attempt.strip()))
    if number is not None and 1 <= int(number.group(1)) <= n_steps:
        step = number.group(1)
    elif "final response" in lines[0].lower():
        step = "Final response"
    else:
        return None
    if "Error segment:" not in lines[1] or "Error reason:" not in lines[2]:
        return None
    segment = lines[1].split("Error segment:", 1)[1].strip().strip('"')
    reason = lines[2].split("Error reason:", 1)[1].strip()
    if not segment or not reason:
        return None
    return StepError(step, None, segment, reason)


# ---- the improvement's checks ----------------------------------------------------------------------
def clean_attempt(text: str) -> str | None:
    """An LLM continuation cut to one attempt (method §4, IMP output handling); None when it holds
    a line that is neither a step nor the final response."""
    kept: list[str] = []
    for line in (raw.strip() for raw in text.strip().split("\n")):
        lowered = line.lower()
        next_block = any(mark in lowered for mark in ("q:", "options:", "updated answer:", "feedback:"))
        if next_block or re.match(r"\([A-Z]\)", line):
            break
        if not line or lowered.startswith("answer:"):
            continue
        match = STEP_ID.match(line)
        if match is None and not line.startswith(FINAL_PREFIX):
            return None
        if match and kept and (previous := STEP_ID.match(kept[-1])) and previous.group(1) == match.group(1):
            continue
        kept.append(line)
    return "\n".join(kept) if kept else None


def is_legit_update(previous: str, new: str, step: str, part: str) -> bool:
    """``is_parsable`` and ``made_progress`` of method §5.4.3 E.3."""
    lines = new.split("\n")
    if new == previous or not lines[-1].startswith(FINAL_PREFIX) or "the answer is" not in lines[-1].lower():
        return False
    cut = error_line_index(previous, step)
    old_lines = previous.split("\n")
    if lines[:cut] != old_lines[:cut] or len(lines) <= cut:
        return False
    return lines[cut] != old_lines[cut] and part not in lines[cut]


# ---- the expert ---------------------------------------------------------------------------------
class LLMExpert:
    """FBK and IMP as prompts to one OpenAI-compatible model."""

    def __init__(self, task: Task, llm: LLM, few_shot: FewShot, settings: LLMSettings):
        self.task, self.llm, self.few_shot, self.settings = task, llm, few_shot, settings

    def attempt(self, record: Record, temperature: float, sample: int = 0) -> str | None:
        """The LLM's few-shot answer to a question (method §2.7 "Attempt"), whatever it concludes."""
        prompt = self.few_shot.block("rationale") + self.task.prompt(record) + "\n"
        return clean_attempt(self.llm.complete(prompt, temperature, self.settings.rationale.max_tokens, sample))

    def demo_attempt(self, record: Record, sample: int, temperature: float) -> str | None:
        """An attempt for the "ft SI demo" baseline: the LLM's own, sampled (method §7.2)."""
        return self.attempt(record, temperature, sample)

    def rationale(self, record: Record, sample: int = 0) -> str | None:
        """A rationale for a training question, kept only when it reaches the labelled answer with
        valid content (method §1.3-1.4: the original kept Codex rationales that chose the gold option)."""
        text = self.attempt(record, self.settings.rationale.temperature, sample)
        if text is None or not self.task.is_correct(self.task.parse_answer(text), record):
            return None
        return text if self.task.has_valid_content(record, text) else None

    def feedback_prompt(self, record: Record, attempt: str) -> str:
        """FBK's prompt: the few-shot tables, then the question and the attempt up to the cue."""
        return f"{self.few_shot.block('feedback')}{self.task.prompt(record)}\n{attempt}\n{FEEDBACK_CUE}"

    def update_prompt(self, record: Record, attempt: str, feedback: str, step: str) -> str:
        """IMP's prompt: the few-shot updates, the attempt and its feedback, then the attempt's
        lines before the error step (the LLM continues from there)."""
        partial = "\n" + "".join(line + "\n" for line in lines_before(attempt, step))
        return (f"{self.few_shot.block('update')}{self.task.prompt(record)}\n{attempt} {STOP}\nFeedback: {feedback}\n"
                f"{with_info(UPDATED_HEAD, self.task.info)}{partial}")

    def error_feedback(self, record: Record, attempt: str) -> str:
        params = self.settings.feedback
        prompt = self.feedback_prompt(record, attempt)
        completion = self.llm.complete(prompt, params.temperature, params.max_tokens)
        error = parse_table(completion, attempt)
        return ERROR if error is None else tabular_error_feedback(error, attempt)

    def continuation(self, record: Record, attempt: str, feedback: str, step: str, part: str) -> str | None:
        """The improved attempt: M's lines before the error step, then the LLM's continuation."""
        prefix = lines_before(attempt, step)
        prompt = self.update_prompt(record, attempt, feedback, step)
        params = self.settings.improvement
        completion = self.llm.complete(prompt, params.temperature, params.max_tokens)
        text = clean_attempt("\n".join([*prefix, completion]))
        return text if text is not None and is_legit_update(attempt, text, step, part) else None

