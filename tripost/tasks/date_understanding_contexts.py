"""Date-understanding contexts: reading them, deriving "today" step by step, and writing new ones.

BIG-Bench's ``date_understanding`` has 41 contexts ("Tomorrow is 11/12/2019.") times 9 questions
("What is the date one year ago from today in MM/DD/YYYY?"). Each context is one ``Form`` here: a
template whose ``{name:kind}`` fields are dates, years or numbers. The template is read with a
regular expression built from it and written back from sampled values, so the same form solves a
BIG-Bench question and generates new ones. ``derive`` turns the values into the steps that lead
to today's date, each with the reason an expert gives when a model gets that step wrong.
"""

from __future__ import annotations

import calendar
import random
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from dateutil.relativedelta import relativedelta

MONTHS = tuple(calendar.month_name)[1:]
WEEKDAYS = tuple(calendar.day_name)
ORDINAL_WORDS = ("first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth",
                 "tenth", "eleventh", "twelfth")


def mdy(day: date) -> str:
    """MM/DD/YYYY, the format of every date in our rationales and options."""
    return f"{day.month:02}/{day.day:02}/{day.year}"


def _suffix(n: int) -> str:
    return "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")


def _month_number(text: str) -> int:
    prefix = text.rstrip(".").lower()
    return next(i for i, name in enumerate(MONTHS, start=1) if name.lower().startswith(prefix))


def _read_named(text: str) -> date:
    """``April 30, 2021``, ``Jun 1, 2021``, ``Sept. 1st, 2021``."""
    month, day, year = re.fullmatch(r"([A-Za-z]+\.?) (\d+)(?:st|nd|rd|th)?, (\d{4})", text).groups()
    return date(int(year), _month_number(month), int(day))


def _read_slashed(text: str) -> date:
    month, day, year = map(int, text.split("/"))
    return date(year, month, day)


@dataclass(frozen=True)
class Kind:
    """A field type: how it looks in text, how to read it, how to write it."""

    pattern: str
    read: Callable[[str], Any]
    write: Callable[[Any], str]


KINDS = {
    "long": Kind(r"[A-Z][a-z]+ \d{1,2}, \d{4}", _read_named, lambda d: f"{MONTHS[d.month - 1]} {d.day}, {d.year}"),
    "abbr": Kind(r"[A-Z][a-z]{2} \d{1,2}, \d{4}", _read_named,
                 lambda d: f"{MONTHS[d.month - 1][:3]} {d.day}, {d.year}"),
    "nth": Kind(r"[A-Z][a-z]+\.? \d{1,2}(?:st|nd|rd|th), \d{4}", _read_named,
                lambda d: f"{MONTHS[d.month - 1][:4] + '.' if d.month == 9 else MONTHS[d.month - 1][:3]} "
                          f"{d.day}{_suffix(d.day)}, {d.year}"),
    "slash": Kind(r"\d{1,2}/\d{1,2}/\d{4}", _read_slashed, lambda d: f"{d.month}/{d.day}/{d.year}"),
    "slash0": Kind(r"\d{2}/\d{2}/\d{4}", _read_slashed, mdy),
    "uk": Kind(r"\d{2}/\d{2}/\d{4}", lambda t: _read_slashed(f"{t[3:5]}/{t[:2]}/{t[6:]}"),
               lambda d: f"{d.day:02}/{d.month:02}/{d.year}"),
    "month_day": Kind(r"\d{1,2}/\d{1,2}", lambda t: tuple(map(int, t.split("/"))), lambda md: f"{md[0]}/{md[1]}"),
    "mon_day": Kind(r"[A-Z][a-z]{2} \d{1,2}", lambda t: (_month_number(t[:3]), int(t[4:])),
                    lambda md: f"{MONTHS[md[0] - 1][:3]} {md[1]}"),
    "month": Kind(r"[A-Z][a-z]+", _month_number, lambda m: MONTHS[m - 1]),
    "mon": Kind(r"[A-Z][a-z]{2}", _month_number, lambda m: MONTHS[m - 1][:3]),
    "dow": Kind(r"[A-Z][a-z]{2}", lambda t: next(i for i, w in enumerate(WEEKDAYS) if w.startswith(t)),
                lambda w: WEEKDAYS[w][:3]),
    "weekday": Kind(r"[A-Z][a-z]+day", WEEKDAYS.index, lambda w: WEEKDAYS[w]),
    "ordinal": Kind(r"[a-z]+", ORDINAL_WORDS.index, lambda i: ORDINAL_WORDS[i]),  # 0 = first
    "nth_number": Kind(r"\d{1,2}(?:st|nd|rd|th)", lambda t: int(t[:-2]), lambda n: f"{n}{_suffix(n)}"),
    "year": Kind(r"\d{4}", int, str),
    "int": Kind(r"\d+", int, str),
    "name": Kind(r"Jane|John", str, str),
    "time": Kind(r"\d{1,2}:\d{2} [ap]m", str, str),
    "text": Kind(r"\d{2}/\d{2}/\d{4}", str, str),  # kept as written (an impossible date)
}
FIELD = re.compile(r"\{(\w+):(\w+)\}")


@dataclass(frozen=True)
class Step:
    """One numbered rationale line (without its id) and why its date is what it is."""

    text: str
    day: date
    reason: str


def step(premise: str, subject: str, day: date, reason: str) -> Step:
    return Step(f"{premise}, so {subject} is {mdy(day)}.", day, reason)


def stated(day: date) -> Step:
    """Today's date, given by the context itself."""
    return Step(f"Today is {mdy(day)}.", day, f"the question says that today is {mdy(day)}")


def shifted(premise: str, base: date, delta: timedelta | relativedelta, words: str, subject: str = "today") -> Step:
    """``premise, so <subject> is base + delta.`` with the reason ``<words> <base> is ...``."""
    day = base + delta
    return step(premise, subject, day, f"{words} {mdy(base)} is {mdy(day)}")


DAY = timedelta(days=1)


@dataclass(frozen=True)
class Form:
    """One context template: ``derive`` maps the read values to the steps ending in today."""

    template: str
    derive: Callable[[dict[str, Any]], list[Step]]
    sample: Callable[[random.Random], dict[str, Any]]

    @property
    def regex(self) -> re.Pattern:
        pieces, seen, at = [], set(), 0
        for match in FIELD.finditer(self.template):
            pieces.append(re.escape(self.template[at:match.start()]))
            name, kind = match.groups()
            pieces.append(f"(?P={name})" if name in seen else f"(?P<{name}>{KINDS[kind].pattern})")
            seen.add(name)
            at = match.end()
        pieces.append(re.escape(self.template[at:]))
        return re.compile("".join(pieces))

    def read(self, text: str) -> dict[str, Any] | None:
        match = self.regex.fullmatch(text)
        if match is None:
            return None
        kinds = dict(FIELD.findall(self.template))
        return {name: KINDS[kinds[name]].read(value) for name, value in match.groupdict().items()}

    def write(self, values: dict[str, Any]) -> str:
        return FIELD.sub(lambda m: KINDS[m.group(2)].write(values[m.group(1)]), self.template)


# ---- sampling helpers --------------------------------------------------------------------
FIRST_DAY, LAST_DAY = date(1850, 1, 1), date(2049, 12, 31)


def any_day(rng: random.Random) -> date:
    return FIRST_DAY + timedelta(days=rng.randrange((LAST_DAY - FIRST_DAY).days))


def any_year(rng: random.Random) -> int:
    return rng.randrange(FIRST_DAY.year, LAST_DAY.year)


def _days(name: str, low: int = 2, high: int = 30) -> Callable[[random.Random], dict[str, Any]]:
    return lambda rng: {"d": any_day(rng), name: rng.randint(low, high)}


def _one_day(rng: random.Random) -> dict[str, Any]:
    return {"d": any_day(rng)}


def _one_year(rng: random.Random) -> dict[str, Any]:
    return {"y": any_year(rng)}


def _month_end(day: date) -> date:
    return day.replace(day=calendar.monthrange(day.year, day.month)[1])


# ---- the derivations ------------------------------------------------------------------------
def _feb_birthday(v: dict[str, Any]) -> list[Step]:
    born = _month_end(date(v["y"], 2, 1))
    return [
        step(f"Jane was born on the last day of February {v['y']}", "her birthday", born,
             f"the last day of February {v['y']} is {mdy(born)}"),
        shifted(f"Today is her {v['n']}-year-old birthday", born, relativedelta(years=v["n"]), f"{v['n']} years after"),
    ]


def _sample_feb_birthday(rng: random.Random) -> dict[str, Any]:
    while True:  # someone born on February 29 has a birthday only in leap years
        year, n = any_year(rng), rng.randint(1, 90)
        if calendar.isleap(year) <= calendar.isleap(year + n):
            return {"y": year, "n": n}


def _job(v: dict[str, Any]) -> list[Step]:
    second = date(v["y"], *v["md"])
    first = second - DAY
    return [
        shifted(f"Her second day at work was {mdy(second)}", second, -DAY, "one day before", "her first day"),
        shifted(f"Today is her {v['n']}-year work anniversary", first, relativedelta(years=v["n"]),
                f"{v['n']} years after"),
    ]


def _sample_job(rng: random.Random) -> dict[str, Any]:
    start = any_day(rng) + DAY
    return {"y": start.year, "md": (start.month, start.day), "n": rng.randint(1, 40)}


def _bookstore(v: dict[str, Any]) -> list[Step]:
    first = date(v["y"], v["m"], v["day"])
    return [
        step(f"Her first visit was on the {v['day']}{_suffix(v['day'])} of {MONTHS[v['m'] - 1]} {v['y']}",
             "her first visit", first,
             f"the {v['day']}{_suffix(v['day'])} of {MONTHS[v['m'] - 1]} {v['y']} is {mdy(first)}"),
        shifted(f"Her {v['k']}{_suffix(v['k'])} visit is {v['k'] - 1} months after her first", first,
                relativedelta(months=v["k"] - 1), f"{v['k'] - 1} months after"),
    ]


def _sample_bookstore(rng: random.Random) -> dict[str, Any]:
    return {"day": rng.randint(1, 28), "m": rng.randint(1, 12), "y": any_year(rng), "k": rng.randint(2, 12)}


def _thought(v: dict[str, Any]) -> list[Step]:
    return [shifted(f"Today is {v['n']} day later than {mdy(v['w'])}", v["w"], timedelta(days=v["n"]),
                    f"{v['n']} day after")]


def _sample_thought(rng: random.Random) -> dict[str, Any]:
    wrong = any_day(rng)
    today = wrong + DAY
    return {"w": wrong, "md": (today.month, today.day), "n": 1}


def _two_people(v: dict[str, Any]) -> list[Step]:
    day = v["a"] if v["who"] == "Jane" else v["b"]
    return [step(f"{v['who']} is correct", "today", day, f"{v['who']} thinks today is {mdy(day)}")]


def _sample_two_people(rng: random.Random) -> dict[str, Any]:
    day = any_day(rng)
    return {"a": day, "b": day + timedelta(days=rng.choice((-2, -1, 1, 2))), "who": rng.choice(("Jane", "John"))}


def _palindrome(v: dict[str, Any]) -> list[Step]:
    digits = str(v["y"])[::-1]
    day = date(v["y"], int(digits[:2]), int(digits[2:]))
    return [step(f"The MMDD of the palindrome day is {digits}, the year {v['y']} backwards", "today", day,
                 f"{v['y']} backwards is {digits}, so the date is {mdy(day)}")]


def _sample_palindrome(rng: random.Random) -> dict[str, Any]:
    while True:
        year = any_year(rng)
        digits = str(year)[::-1]
        try:
            date(year, int(digits[:2]), int(digits[2:]))
            return {"y": year}
        except ValueError:
            continue


def _overflow(v: dict[str, Any]) -> list[Step]:
    return [shifted(f"Yesterday was {mdy(v['d'])}, the last day of {MONTHS[v['d'].month - 1]}", v["d"], DAY,
                    "the day after")]


def _sample_overflow(rng: random.Random) -> dict[str, Any]:
    day = _month_end(any_day(rng))
    return {"d": day, "bad": f"{day.month:02}/{day.day + 1}/{day.year}", "m": day.month, "n": day.day}


def _thanksgiving(v: dict[str, Any]) -> list[Step]:
    first = date(v["y"], 11, 1)
    day = first + timedelta(days=(3 - first.weekday()) % 7 + 21)
    return [step(f"Today is the fourth Thursday of November {v['y']}", "today", day,
                 f"November 1, {v['y']} is a {WEEKDAYS[first.weekday()]}, so the fourth Thursday is {mdy(day)}")]


def _first_weekday(v: dict[str, Any]) -> list[Step]:
    first = date(v["y"], 1, 1)
    day = first + timedelta(days=(v["w2"] - v["w"]) % 7)
    return [step(f"01/01/{v['y']} is a {WEEKDAYS[v['w']]} and today is the first {WEEKDAYS[v['w2']]}", "today", day,
                 f"the first {WEEKDAYS[v['w2']]} after a {WEEKDAYS[v['w']]} 01/01/{v['y']} is {mdy(day)}")]


def _sample_first_weekday(rng: random.Random) -> dict[str, Any]:
    year = any_year(rng)
    return {"y": year, "w": date(year, 1, 1).weekday(), "w2": rng.randrange(7)}


def _fixed_day(describe: Callable[[dict[str, Any]], str], make: Callable[[dict[str, Any]], date]
               ) -> Callable[[dict[str, Any]], list[Step]]:
    """A context naming a day of a year (``describe``: that day in words)."""
    def derive(v: dict[str, Any]) -> list[Step]:
        day, text = make(v), describe(v)
        return [step(f"Today is {text}", "today", day, f"{text} is {mdy(day)}")]
    return derive


def _from_tomorrow(v: dict[str, Any]) -> list[Step]:
    return [shifted(f"Tomorrow is {mdy(v['d'])}", v["d"], -DAY, "the day before")]


def _from_yesterday(v: dict[str, Any]) -> list[Step]:
    return [shifted(f"Yesterday was {mdy(v['d'])}", v["d"], DAY, "the day after")]


def _stated(v: dict[str, Any]) -> list[Step]:
    return [stated(v["d"])]


def _sample_weekday_tomorrow(rng: random.Random) -> dict[str, Any]:
    day = any_day(rng)
    return {"w": day.weekday(), "d": day}


FORMS: tuple[Form, ...] = (
    Form("Yesterday was {d:long}.", _from_yesterday, _one_day),
    Form("The deadline is {d:abbr}, which is {n:int} days away from now.",
         lambda v: [shifted(f"The deadline {mdy(v['d'])} is {v['n']} days away", v["d"], timedelta(days=-v["n"]),
                            f"{v['n']} days before")], _days("n")),
    Form("Tomorrow is {d:slash}.", _from_tomorrow, _one_day),
    Form("Today, {d:slash}, is a day that we will never forget.", _stated, _one_day),
    Form("Today is {d:abbr}.", _stated, _one_day),
    Form("It is {d:slash} today.", _stated, _one_day),
    Form("Jane was born on the last day of Feburary in {y:year}. Today is her {n:int}-year-old birthday.",
         _feb_birthday, _sample_feb_birthday),
    Form("Jane and John married on {d:abbr}. Today is their golden wedding anniversary.",
         lambda v: [shifted(f"The golden wedding anniversary is 50 years after {mdy(v['d'])}", v["d"],
                            relativedelta(years=50), "50 years after")], _one_day),
    Form("Jane got her job in {y:year}. Today is her {n:int}-year work anniversary. She still remember that on "
         "{md:mon_day}, her second day at work, she spilled coffee on her laptop.", _job, _sample_job),
    Form("Jane quited her job on {d:abbr}. {n:int} days have passed since then.",
         lambda v: [shifted(f"{v['n']} days have passed since {mdy(v['d'])}", v["d"], timedelta(days=v["n"]),
                            f"{v['n']} days after")], _days("n", 2, 400)),
    Form("{y:year} is coming in 36 hours.",
         lambda v: [step(f"01/01/{v['y']} starts 36 hours from now", "today", date(v["y"] - 1, 12, 30),
                         f"36 hours before the start of 01/01/{v['y']} is noon on 12/30/{v['y'] - 1}")], _one_year),
    Form("In the UK, people usually put the day before the month when formatting the date. Therefore, today is "
         "{d:uk} to them.", lambda v: [step(f"Today is {v['d'].day:02}/{v['d'].month:02}/{v['d'].year} in DD/MM/YYYY",
                                           "today", v["d"], f"the month comes first in MM/DD/YYYY: {mdy(v['d'])}")],
         _one_day),
    Form("Jane booked a flight for tomorrow, {d:abbr}.",
         _from_tomorrow, _one_day),
    Form("Jane visits the bookstore on the {day:nth_number} of each month starting from the {m:month} of {y:year}. "
         "It is her {k:nth_number} visit to the bookstore today.", _bookstore, _sample_bookstore),
    Form("Jane thought today is {w:slash}, but today is in fact {md:mon_day}, which is {n:int} day later.",
         _thought, _sample_thought),
    Form("Today is the first day of {y:year}.",
         _fixed_day(lambda v: f"the first day of {v['y']}", lambda v: date(v["y"], 1, 1)), _one_year),
    Form("Today is {d:abbr}. Jane's appointment will be {n:int} days later.", _stated, _days("n", 2, 9)),
    Form("Today is {md:month_day}, and it is Jane's second time in the year {y:year} to see a meteor shower.",
         _fixed_day(lambda v: f"{v['md'][0]}/{v['md'][1]} of {v['y']}", lambda v: date(v["y"], *v["md"])),
         lambda rng: (lambda d: {"md": (d.month, d.day), "y": d.year})(any_day(rng))),
    Form("Yesterday, {d:abbr}, Jane ate {a:int} pizzas and {b:int} wings.",
         _from_yesterday,
         lambda rng: {"d": any_day(rng), "a": rng.randint(2, 9), "b": rng.randint(2, 20)}),
    Form("Jane thinks today is {a:slash}, but John thinks today is {b:slash}. {who:name} is correct.",
         _two_people, _sample_two_people),
    Form("{d:long} is like yesterday to Jane, but that is actually ten years ago.",
         lambda v: [shifted(f"{mdy(v['d'])} was ten years ago", v["d"], relativedelta(years=10), "ten years after")],
         _one_day),
    Form("Today is Christmas Eve of {y:year}.",
         _fixed_day(lambda v: f"Christmas Eve of {v['y']}", lambda v: date(v["y"], 12, 24)), _one_year),
    Form("Today is the palindrome day of {y:year}, because the MMDDYYYY format of the date is the same backwards as "
         "forwards.", _palindrome, _sample_palindrome),
    Form("This is the last day of {y:year}.",
         _fixed_day(lambda v: f"the last day of {v['y']}", lambda v: date(v["y"], 12, 31)), _one_year),
    Form("The concert was scheduled to be on {d:slash0}, but was delayed by one day to today.",
         lambda v: [shifted(f"The concert moved from {mdy(v['d'])} by one day", v["d"], DAY, "the day after")],
         _one_day),
    Form("Jane scheduled 3 apointments with 5 poeple for tomorrow ({w:dow}, {d:slash}).",
         _from_tomorrow, _sample_weekday_tomorrow),
    Form("The current local time is {t:time} of {d:slash}.", _stated,
         lambda rng: {"d": any_day(rng), "t": f"{rng.randint(1, 12)}:{rng.randrange(60):02} {rng.choice('ap')}m"}),
    Form("Today is the {a:ordinal} day of the {b:ordinal} month of {y:year}.",
         _fixed_day(lambda v: f"the {ORDINAL_WORDS[v['a']]} day of the {ORDINAL_WORDS[v['b']]} month of {v['y']}",
                    lambda v: date(v["y"], v["b"] + 1, v["a"] + 1)),
         lambda rng: {"a": rng.randrange(12), "b": rng.randrange(12), "y": any_year(rng)}),
    Form("Today is {md:month_day}. Jane is watching NFL {y:year}.",
         _fixed_day(lambda v: f"{v['md'][0]}/{v['md'][1]} of {v['y']}", lambda v: date(v["y"], *v["md"])),
         lambda rng: {"md": (rng.choice((9, 10, 11, 12)), rng.randint(1, 28)), "y": any_year(rng)}),
    Form("Yesterday was {d:slash0}. Today could not be {bad:text} because {m:month} has only {n:int} days.",
         _overflow, _sample_overflow),
    Form("The day before yesterday was {d:slash}.",
         lambda v: [shifted(f"The day before yesterday was {mdy(v['d'])}", v["d"], 2 * DAY, "two days after")],
         _one_day),
    Form("In the US, Thanksgiving is on the fourth Thursday of November. Today is the US Thanksgiving of {y:year}.",
         _thanksgiving, _one_year),
    Form("Today's meeting is rescheduled to 11 am tomorrow, {d:slash}.",
         _from_tomorrow, _one_day),
    Form("Jane is celebrating the last day of {m:mon} {y:year}.",
         _fixed_day(lambda v: f"the last day of {MONTHS[v['m'] - 1]} {v['y']}",
                    lambda v: _month_end(date(v["y"], v["m"], 1))),
         lambda rng: {"m": rng.randint(1, 12), "y": any_year(rng)}),
    Form("It was {d:nth} a week ago.",
         lambda v: [shifted(f"A week ago was {mdy(v['d'])}", v["d"], 7 * DAY, "one week after")], _one_day),
    Form("Jane and John married on {d:abbr}. It is their {n:int}-year anniversary today.",
         lambda v: [shifted(f"Their {v['n']}-year anniversary is {v['n']} years after {mdy(v['d'])}", v["d"],
                            relativedelta(years=v["n"]), f"{v['n']} years after")], _days("n", 1, 60)),
    Form("On {d:nth} Jane bought {n:int} eggs. She ate one per day. Today she ran out of eggs.",
         lambda v: [shifted(f"{v['n']} eggs last {v['n']} days from {mdy(v['d'])}", v["d"], timedelta(days=v["n"]),
                            f"{v['n']} days after")], _days("n", 2, 60)),
    Form("Today is the last day of the {q:ordinal} quarter of {y:year}.",
         _fixed_day(lambda v: f"the last day of the {ORDINAL_WORDS[v['q']]} quarter of {v['y']}",
                    lambda v: _month_end(date(v["y"], 3 * v["q"] + 3, 1))),
         lambda rng: {"q": rng.randrange(4), "y": any_year(rng)}),
    Form("The first day of {y:year} is a {w:weekday}, and today is the first {w2:weekday} of {y:year}.",
         _first_weekday, _sample_first_weekday),
)


def read_context(text: str) -> tuple[Form, dict[str, Any]]:
    """The form of a context and its values; ``ValueError`` when no form reads it."""
    for form in FORMS:
        values = form.read(text)
        if values is not None:
            return form, values
    raise ValueError(f"no date-understanding form reads this context: {text!r}")


def today_steps(text: str) -> list[Step]:
    """The steps that take a context to today's date (the last step's ``day``)."""
    form, values = read_context(text)
    return form.derive(values)


def generate_context(rng: random.Random) -> str:
    """A new context of a random form, with random values (each form checks its own consistency)."""
    while True:
        form = rng.choice(FORMS)
        try:
            values = form.sample(rng)
            form.derive(values)
        except ValueError:  # e.g. a date out of range or February 29 of a common year
            continue
        return form.write(values)
