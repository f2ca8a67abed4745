"""The scripted word-sorting verifier: the first wrong line of an attempt (method §3.2).

Lines are checked in reading order, the final response last. Each kind of line has its checks,
in the order of the spec; the first failing check names the step, the wrong part and a reason.
"""

from __future__ import annotations

import re

from tripost.formats import STEP_ID, StepError

PAIR = re.compile(r'"([^"]*)"="([^"]*)" \((-?\d+)\)')
GROUP = re.compile(r'^\((-?\d+)\) (?:"([^"]*)"|\[(.*)\])$')
SUBPART = re.compile(r"Now sort this subpart \[(.*)\] by looking(?: again)? at their (\w+) letters: (.*)\.$")
ORDINALS = (
    "first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth", "tenth",
    "eleventh", "twelfth", "thirteenth", "fourteenth", "fifteenth", "sixteenth", "seventeenth",
    "eighteenth", "nineteenth", "twentieth",
)


class _Wrong(Exception):
    def __init__(self, part: str, reason: str):
        self.part, self.reason = part, reason


def _quoted_words(text: str) -> list[str]:
    return re.findall(r'"([^"]*)"', text)


def _parent(step: str) -> str:
    return step.rsplit(".", 1)[0] if "." in step else ""


def _in_subtree(step: str, root: str) -> bool:
    return root == "" or step == root or step.startswith(root + ".")


class _State:
    """What the lines read so far established."""

    def __init__(self, words: list[str]):
        self.words = words
        self.lines: list[tuple[str, str]] = []  # (step id, body) of the lines read
        self.numbers: dict[str, tuple[str, dict[str, int]]] = {}  # step -> (kind, word -> number)
        self.examined: list[tuple[set[str], int]] = []  # (words, letter index) in reading order
        self.orders: dict[str, list[list[str]]] = {}  # "We now have" step -> groups in order


def _check_letters(state: _State, body: str, expected: list[str], position: int) -> dict[str, int]:
    pairs = PAIR.findall(body)
    seen: list[str] = []
    for word, _, _ in pairs:
        if word not in state.words:
            raise _Wrong(f'"{word}"', f'"{word}" is not in the list of words provided by the question statement: '
                                      f'{" ".join(state.words)}')
        if word in seen:
            raise _Wrong(f'"{word}"', f'the word "{word}" inside is duplicated')
        seen.append(word)
    for word in expected:
        if word not in seen:
            raise _Wrong(body, f'the word "{word}" is missing')
    for word, char, number in pairs:
        segment = f'"{word}"="{char}" ({number})'
        true_char = word[position] if position < len(word) else ""
        if not true_char:
            raise _Wrong(segment, f'"{word}" has no {ORDINALS[position]} letter')
        if char != true_char:
            raise _Wrong(segment, f'the {ORDINALS[position]} letter of "{word}" should be "{true_char}"')
        if int(number) != ord(char) - 96:
            raise _Wrong(segment, f'the alphabetical order for the character "{char}" should be {ord(char) - 96}')
    return {word: int(number) for word, _, number in pairs}


def _first_letter(state: _State, step: str, body: str) -> None:
    if "first letter" not in body:
        raise _Wrong(body, "the first step should look at the first letter of every word")
    numbers = _check_letters(state, body, state.words, 0)
    state.numbers[step] = ("letters", numbers)
    state.examined.append((set(state.words), 0))


def _subpart(state: _State, step: str, body: str) -> None:
    match = SUBPART.search(body)
    subpart_text, ordinal, listing = match.groups()
    subpart = _quoted_words(subpart_text)
    siblings = [s for s, b in state.lines if _parent(s) == _parent(step) and b.startswith("We now have")]
    container = next((b for s, b in reversed(state.lines) if s == siblings[-1]), "") if siblings else ""
    if not siblings or subpart_text.replace(" ", "") not in container.replace(" ", ""):
        where = siblings[-1] if siblings else _parent(step) or "1"
        raise _Wrong(f"[{subpart_text}]", f"this subpart is not amongst the unknown subparts in step ({where})")
    position = ORDINALS.index(ordinal) if ordinal in ORDINALS else -1
    supersets = [p for words, p in state.examined if set(subpart) <= words]
    expected = (supersets[-1] + 1) if supersets else 1
    if position > expected:
        raise _Wrong(f"their {ordinal} letters",
                     f"the {ORDINALS[expected]} letter of [{subpart_text}] has not been sorted yet")
    if position < expected:
        raise _Wrong(f"their {ordinal} letters", f"the {ordinal} letter of [{subpart_text}] has already been sorted")
    listed = [w for w, _, _ in PAIR.findall(listing)]
    if sorted(listed) != sorted(subpart):
        raise _Wrong(listing, f"the words here should be exactly those of the subpart [{subpart_text}]")
    numbers = _check_letters(state, listing, subpart, position)
    state.numbers[step] = ("letters", numbers)
    state.examined.append((set(subpart), position))


def _now_have(state: _State, step: str, body: str) -> None:
    listing = body[len("We now have:"):].strip().rstrip(".")
    previous_step = state.lines[-1][0] if state.lines else None
    kind, numbers = state.numbers.get(previous_step, ("", {}))
    if kind != "letters":
        raise _Wrong(listing, "it does not follow from a step that reads letters")
    if "<" not in listing and "?" not in listing:
        raise _Wrong(listing, "it should order the words with < or group them with ?")
    groups: list[tuple[int, list[str]]] = []
    for item in listing.split(" < "):
        match = GROUP.match(item.strip())
        if match is None:
            raise _Wrong(item.strip(), "it is not a numbered word or group of words")
        words = [match.group(2)] if match.group(2) is not None else _quoted_words(match.group(3))
        if match.group(3) is not None and len(words) == 1:
            raise _Wrong(item.strip(), "a single word should not be put in brackets")
        groups.append((int(match.group(1)), words))
    listed = [w for _, ws in groups for w in ws]
    for word in listed:
        if word not in numbers:
            raise _Wrong(listing, f'"{word}" is not in the list of words provided by the question statement: '
                                  f'{" ".join(state.words)}')
        if listed.count(word) > 1:
            raise _Wrong(listing, f'the word "{word}" inside is duplicated')
    expected = sorted(set(numbers.values()))
    for (a, _), (b, _) in zip(groups, groups[1:]):
        if a >= b:
            raise _Wrong(listing, f"words are not sorted in ascending order. Using results from step "
                                  f"({previous_step}), those words with ({a}) should come after words with ({b})")
    for number in expected:
        should = [w for w, n in numbers.items() if n == number]
        have = next((ws for n, ws in groups if n == number), [])
        if sorted(should) != sorted(have):
            raise _Wrong(listing,
                         f"according to step ({previous_step}), words with ({number}) should be: {' '.join(should)}")
    state.orders[step] = [ws for _, ws in groups]


def _hence(state: _State, step: str, body: str) -> list[str]:
    listing = body[len("Hence, we have"):].strip().rstrip(".")
    if "?" in listing:
        raise _Wrong(listing, 'this subpart has not yet been sorted completely (contains "?"), '
                              'so it should not be a conclusion step')
    if ">" in listing:
        raise _Wrong(listing, "words should be ordered with < only")
    order = _quoted_words(listing)
    for word in order:
        if word not in state.words:
            raise _Wrong(listing, f'"{word}" is not in the list of words provided by the question statement: '
                                  f'{" ".join(state.words)}')
    rank = {w: i for i, w in enumerate(order)}
    for origin, groups in state.orders.items():
        if not _in_subtree(origin, _parent(step)):
            continue
        for before, after in zip(groups, groups[1:]):
            for w in before:
                for nw in after:
                    if w in rank and nw in rank and rank[w] > rank[nw]:
                        constraint = " < ".join(f'"{x}"' for x in before + after)
                        raise _Wrong(listing, f'the order of "{w}" and "{nw}" is inconsistent with the result in step '
                                              f'({origin}) that: {constraint}')
    return order


def first_error(words: list[str], attempt: str) -> StepError | None:
    """The first wrong line of a word-sorting attempt; ``ValueError`` if it cannot be read."""
    lines = [line for line in attempt.strip().split("\n") if line.strip()]
    if not lines or "Final response" not in lines[-1]:
        raise ValueError("the attempt has no (Final response) line")
    state = _State(words)
    previous: str | None = None
    last_order: list[str] | None = None
    for line in lines[:-1]:
        match = STEP_ID.match(line)
        if match is None or not re.match(r"^\((.+)\) \w.+", line):
            raise ValueError(f"not a numbered step: {line!r}")
        step, body = match.group(1), line[match.end():].strip()
        if not body.endswith("."):
            raise ValueError(f"a step does not end with a period: {line!r}")
        try:
            if step == "1":
                _first_letter(state, step, body)
            elif SUBPART.search(body):
                _subpart(state, step, body)
            elif body.startswith("We now have"):
                _now_have(state, step, body)
                last_order = [w for ws in state.orders[step] for w in ws]
            elif body.startswith("Hence, we have"):
                last_order = _hence(state, step, body)
            else:
                raise ValueError(f"unknown kind of step: {line!r}")
        except _Wrong as wrong:
            return StepError(step, previous, wrong.part, wrong.reason)
        state.lines.append((step, body))
        previous = step
    final = re.search(r"So the answer is:(.*)\.$", lines[-1])
    if final is None:
        raise ValueError(f"no answer in the final line: {lines[-1]!r}")
    answer = final.group(1).split()
    if last_order is None or sorted(last_order) != sorted(words):
        return StepError("Final response", previous, "",
                         f"you have not yet sorted all the words in the question statement in step ({previous})")
    if answer != last_order:
        return StepError(
            "Final response", previous, final.group(1).strip(),
            f"in step ({previous}) it is established that: {' < '.join(last_order)}",
        )
    return None
