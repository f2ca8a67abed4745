"""Date understanding: the paper's questions, a scripted rationale of ours and its verifier.

The original used Codex rationales and an LLM verifier for this task (method §1.4, §4). Here the
expert is a script (beyond the paper), built on real date arithmetic: the context's steps to
today (``date_understanding_contexts``), then one step for the question, every date as MM/DD/YYYY::

    (1) Tomorrow is 11/12/2019, so today is 11/11/2019.
    (2) The date one year ago from today is 11/11/2018.
    (Final response) 11/11/2018 is option (B). So the answer is (B).

The final response names the date before the letter: a small model finds the letter of a date it
has just written in the options far more often than it picks the letter directly (docs/recipe.md).

The verifier compares each line with the solver's line of the same number; the first line that
differs is the error, with the date arithmetic that gives the right date as the reason.
"""

from __future__ import annotations

import random
import re
from datetime import date, datetime, timedelta
from typing import Any

from dateutil import parser as dateutil_parser
from dateutil.relativedelta import relativedelta

from tripost.formats import FINAL_PREFIX, StepError, read_flat_steps
from tripost.tasks.base import LETTERS, Record, Task, search_answer
from tripost.tasks.date_understanding_contexts import (
    FIELD,
    FIRST_DAY,
    FORMS,
    LAST_DAY,
    Step,
    any_day,
    generate_context,
    mdy,
    today_steps,
)
from tripost.tasks.date_understanding_data import paper_records

BIGBENCH_SIZE = 369  # questions in BIG-Bench's date understanding file

# The nine questions of BIG-Bench: the phrase after "What is the date", the change from today,
# and the words of the reason.
QUESTIONS: dict[str, tuple[timedelta | relativedelta, str]] = {
    "today": (timedelta(0), ""),
    "tomorrow": (timedelta(days=1), "the day after"),
    "yesterday": (timedelta(days=-1), "the day before"),
    "24 hours later": (timedelta(days=1), "24 hours after"),
    "one week from today": (timedelta(days=7), "one week after"),
    "one week ago from today": (timedelta(days=-7), "one week before"),
    "10 days ago": (timedelta(days=-10), "10 days before"),
    "a month ago": (relativedelta(months=-1), "one month before"),
    "one year ago from today": (relativedelta(years=-1), "one year before"),
}
QUESTION = re.compile(r"(?P<context>.+?) What is the date (?P<question>.+) in MM/DD/YYYY\?")
SEEN_STEPS = 2  # the paper's seen bucket "1-2": rationales of at most two numbered steps


def split_question(text: str) -> tuple[str, str]:
    """(context, question phrase) of a question text."""
    match = QUESTION.fullmatch(text)
    if match is None or match.group("question") not in QUESTIONS:
        raise ValueError(f"not a date-understanding question: {text!r}")
    return match.group("context"), match.group("question")


def gold_steps(question: str) -> list[Step]:
    """The numbered steps of the gold rationale: the context's, then the question's own."""
    context, phrase = split_question(question)
    steps = today_steps(context)
    if phrase == "today":
        return steps
    change, words = QUESTIONS[phrase]
    today = steps[-1].day
    answer = today + change
    return steps + [Step(f"The date {phrase} is {mdy(answer)}.", answer, f"{words} {mdy(today)} is {mdy(answer)}")]


def _phrases() -> tuple[str, ...]:
    """Fixed text of the contexts, questions and rationales: one token each for the scratch model."""
    fixed = ["What is the date ", " in MM/DD/YYYY?", "Options:", " So the answer is", ", so today is ",
             "Today is ", "The date "] + list(QUESTIONS)
    for form in FORMS:
        fixed += [piece for piece in FIELD.split(form.template)[::3] if len(piece.strip()) > 3]
    return tuple(dict.fromkeys(fixed))


class DateUnderstanding(Task):
    name = "date_understanding"
    seen_buckets = ("1-2",)
    unseen_buckets = ("3+",)
    phrases = _phrases()
    shortcut_checks_content = True
    bigbench_files = ("date_understanding/task.json",)

    # ---- data -------------------------------------------------------------------------------
    def make_splits(self, cfg: dict[str, Any], sources: dict[str, list[dict]]) -> dict[str, list[Record]]:
        """The paper's 191/20 training and 77 test questions (method §1.3). Training questions whose
        BIG-Bench label disagrees with the calendar are dropped (docs/deviations.md); the extra
        training questions are new ones of the seen bucket from our context generator."""
        examples = sources[self.bigbench_files[0]]
        records = paper_records(examples)
        train, val = ([r for r in records[s] if _label_agrees(r)] for s in ("train", "val"))
        return {"train": train, "val": val, "test": records["test"], "extra_train": _extra_questions(cfg, examples)}

    def synthetic_source(self, relative: str, n_examples: int, seed: int) -> dict:
        """New questions of our generator, as many as the real file holds (the paper's split
        names questions by position; ``n_examples`` is not used), the right option first."""
        if relative != self.bigbench_files[0]:
            return super().synthetic_source(relative, n_examples, seed)
        rng = random.Random(seed)
        examples = []
        for _ in range(BIGBENCH_SIZE):
            question, answer, wrong = generate_question(rng, max_steps=3)
            examples.append({"input": question, "target_scores": {answer: 1, **{w: 0 for w in wrong}}})
        return {"name": "date_understanding", "examples": examples}

    # ---- formats ----------------------------------------------------------------------------
    def question_block(self, record: Record) -> str:
        options = "\n".join(f"({LETTERS[i]}) {o}" for i, o in enumerate(record["meta"]["options"]))
        return f"Q: {record['question']}\nOptions:\n{options}"

    def solve(self, record: Record) -> str:
        return "\n".join(_gold_lines(record, gold_steps(record["question"])))

    def parse_answer(self, text: str) -> str | None:
        return search_answer(r"[Tt]he answer is \(([A-F])\)", text)

    def wrong_final_response(self, record: Record, rng: random.Random) -> str:
        options = record["meta"]["options"]
        index = rng.choice([i for i in range(len(options)) if LETTERS[i] != record["answer"]])
        return f"{FINAL_PREFIX} {options[index]} is option ({LETTERS[index]}). So the answer is ({LETTERS[index]})."

    def has_valid_content(self, record: Record, attempt: str) -> bool:
        """The step before the final response mentions the chosen option's date, in any format
        ``dateutil`` reads (method §1.3, §5.4.2: also the filter of an LLM's rationales)."""
        letter = self.parse_answer(attempt)
        lines = [line for line in attempt.strip().split("\n") if line.strip()]
        if letter is None or len(lines) < 2 or LETTERS.index(letter) >= len(record["meta"]["options"]):
            return False
        return mentions_date(lines[-2], record["meta"]["options"][LETTERS.index(letter)])

    def first_error(self, record: Record, attempt: str) -> StepError | None:
        return first_error(record, attempt)


def mentions_date(line: str, day: str) -> bool:
    """Whether ``line`` names the date ``day`` (MM/DD/YYYY): a phrase "is <Month> <day>, <year>"
    or any one word, as the original's filter reads them."""
    target = datetime.strptime(day, "%m/%d/%Y")
    unset = datetime(1, 1, 1)  # a word without a year or a month cannot match
    for text in re.findall(r"is (\w+\.? \d+\w*?, \d+)", line) + line.split():
        try:
            if dateutil_parser.parse(text.strip(".,;:()"), default=unset) == target:
                return True
        except (ValueError, OverflowError):
            continue
    return False


def _label_agrees(record: Record) -> bool:
    """Whether the calendar gives the labelled date (false for three BIG-Bench contexts)."""
    return mdy(gold_steps(record["question"])[-1].day) == record["meta"]["target"]


def _gold_lines(record: Record, steps: list[Step]) -> list[str]:
    """Numbered steps, then the final response naming the option of the computed date."""
    day = mdy(steps[-1].day)
    if day not in record["meta"]["options"]:
        raise ValueError(f"{record['id']}: the computed date {day} is not among the options")
    letter = LETTERS[record["meta"]["options"].index(day)]
    final = f"{FINAL_PREFIX} {day} is option ({letter}). So the answer is ({letter})."
    return [f"({i}) {s.text}" for i, s in enumerate(steps, start=1)] + [final]


# ---- generated questions -----------------------------------------------------------------------
def _distractors(rng: random.Random, answer: date, n: int) -> list[str]:
    """``n`` wrong dates of the kinds BIG-Bench uses: nearby days, other years, swapped fields."""
    candidates = [answer + timedelta(days=k) for k in (-30, -10, -7, -2, -1, 1, 2, 7, 10, 30)]
    candidates += [_with_year(answer, answer.year + k) for k in (-100, -1, 1, 100)]
    if answer.day <= 12:
        candidates.append(_with_year(date(answer.year, answer.day, answer.month), answer.year))
    candidates = [d for d in candidates if d is not None and FIRST_DAY.year <= d.year <= LAST_DAY.year]
    wrong = sorted({mdy(d) for d in candidates} - {mdy(answer)})
    rng.shuffle(wrong)
    return wrong[:n] + [mdy(any_day(rng)) for _ in range(n - len(wrong))]


def _with_year(day: date, year: int) -> date | None:
    try:
        return day.replace(year=year)
    except ValueError:
        return None


def generate_question(rng: random.Random, max_steps: int) -> tuple[str, str, list[str]]:
    """A new question whose rationale has at most ``max_steps`` numbered steps: (question text,
    right date, 4 or 5 wrong dates)."""
    while True:
        question = f"{generate_context(rng)} What is the date {rng.choice(list(QUESTIONS))} in MM/DD/YYYY?"
        try:
            steps = gold_steps(question)
        except (ValueError, OverflowError):  # a date outside the calendar
            continue
        if len(steps) <= max_steps:
            return question, mdy(steps[-1].day), _distractors(rng, steps[-1].day, rng.choice((4, 5)))


def _extra_questions(cfg: dict[str, Any], examples: list[dict]) -> list[Record]:
    """``n_extra_train`` new questions of the seen bucket (at most two steps), none a BIG-Bench one."""
    rng = random.Random(cfg["extra_seed"])
    taken = {e["input"].strip() for e in examples}
    extra: list[Record] = []
    while len(extra) < cfg["n_extra_train"]:
        question, answer, wrong = generate_question(rng, SEEN_STEPS)
        if question in taken:
            continue
        taken.add(question)
        options = [answer] + wrong
        rng.shuffle(options)
        extra.append({
            "id": f"du-x{cfg['extra_seed']}-{len(extra)}", "question": question,
            "answer": LETTERS[options.index(answer)], "bucket": "1-2", "seen": True,
            "meta": {"options": options, "target": answer},
        })
    return extra


# ---- the verifier ---------------------------------------------------------------------------
def _claim(body: str) -> str:
    """The part of a step that states its date: ``today is 11/12/2019`` of ``..., so today is 11/12/2019.``"""
    return body.rsplit(", so ", 1)[-1].removesuffix(".")


def _head(body: str) -> str:
    """A step without its last date."""
    return re.sub(r"\d{2}/\d{2}/\d{4}\.?$", "", body)


def first_error(record: Record, attempt: str) -> StepError | None:
    """The first line of ``attempt`` that differs from the solver's; None when all agree.

    Raises ``ValueError`` when the attempt cannot be read (a line without a step id, steps out of
    sequence, or no final response)."""
    steps = gold_steps(record["question"])
    gold = _gold_lines(record, steps)
    previous: str | None = None
    for index, (line, step, body) in enumerate(read_flat_steps(attempt)):
        if step == "Final response" and index < len(steps):
            return StepError(step, previous, body.removesuffix("."),
                             f"the date is not found yet: step ({index + 1}) should be \"{steps[index].text}\"")
        if step != "Final response" and index >= len(steps):
            return StepError(step, previous, body.removesuffix("."),
                             f"step ({len(steps)}) already gives the date: what follows is the final response")
        if line != gold[index]:
            if step == "Final response":
                day = mdy(steps[-1].day)
                letter = LETTERS[record["meta"]["options"].index(day)]
                return StepError(step, previous, body.removesuffix("."), f"{day} is option ({letter})")
            gold_body = steps[index].text
            if _head(body) == _head(gold_body):
                return StepError(step, previous, _claim(body), steps[index].reason)
            return StepError(step, previous, body.removesuffix("."), f'the step should be "{gold_body}"')
        previous = step
    return None
