"""BIG-Bench logical-deduction puzzles: reading the paragraph, and solving it.

A puzzle places N objects (3, 5 or 7) on one axis: books or birds from left to right, vehicles
from oldest to newest, fruits from most to least expensive, golfers from first to last. Every
statement is either an order (``before``: a comes nearer the axis' first end than b) or a fixed
place (``at``: a is at position p, 1 = the first end). Every BIG-Bench puzzle has exactly one
consistent ordering (the tests check all 1500).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

SIZE_WORDS = {3: "three", 5: "five", 7: "seven"}
NUMBER_WORDS = {word: n for n, word in SIZE_WORDS.items()}


@dataclass(frozen=True)
class Domain:
    """One of the five puzzle settings: the axis' two ends and the statement grammar."""

    plural: str  # "books", as the paragraph counts them
    ends: tuple[str, str]  # the axis from position 1 to position N
    people: bool  # golfers are named without "the"
    # (pattern, relation): relation "before" (group 1 nearer the first end than group 2),
    # "after", or an absolute place: ("first", k) = k-th from the first end, ("last", k).
    orders: tuple[tuple[str, str], ...]
    places: tuple[tuple[str, tuple[str, int]], ...]


def _places(first_words: dict[str, int], last_words: dict[str, int], template: str) -> tuple:
    table = [(template.format(word=w), ("first", k)) for w, k in first_words.items()]
    return tuple(table + [(template.format(word=w), ("last", k)) for w, k in last_words.items()])


_ORD_FIRST = {"second": 2, "third": 3, "fourth": 4}
DOMAINS = {
    "books": Domain(
        "books", ("left", "right"), False,
        ((r"The (.+) is to the left of the (.+)", "before"), (r"The (.+) is to the right of the (.+)", "after")),
        _places({"leftmost": 1, **{f"{w} from the left": k for w, k in _ORD_FIRST.items()}},
                {"rightmost": 1, **{f"{w} from the right": k for w, k in _ORD_FIRST.items()}},
                r"The (.+) is the {word}"),
    ),
    "fruits": Domain(
        "fruits", ("most expensive", "least expensive"), False,
        ((r"The (.+) are more expensive than the (.+)", "before"),
         (r"The (.+) are less expensive than the (.+)", "after")),
        _places({"most expensive": 1, **{f"{w}-most expensive": k for w, k in _ORD_FIRST.items()}},
                {"cheapest": 1, **{f"{w}-cheapest": k for w, k in _ORD_FIRST.items()}},
                r"The (.+) are the {word}"),
    ),
    "vehicles": Domain(
        "vehicles", ("oldest", "newest"), False,
        ((r"The (.+) is older than the (.+)", "before"), (r"The (.+) is newer than the (.+)", "after")),
        _places({"oldest": 1, **{f"{w}-oldest": k for w, k in _ORD_FIRST.items()}},
                {"newest": 1, **{f"{w}-newest": k for w, k in _ORD_FIRST.items()}},
                r"The (.+) is the {word}"),
    ),
    "golfers": Domain(
        "golfers", ("first", "last"), True,
        ((r"(.+) finished above (.+)", "before"), (r"(.+) finished below (.+)", "after")),
        _places({"first": 1, **dict(_ORD_FIRST)}, {"last": 1, "second-to-last": 2, "third-to-last": 3},
                r"(.+) finished {word}"),
    ),
}
DOMAINS["birds"] = replace(DOMAINS["books"], plural="birds")


@dataclass(frozen=True)
class Statement:
    """One sentence of the paragraph (or one option), read."""

    text: str  # the sentence without its final period
    kind: str  # "before" or "at"
    a: str
    b: str | None = None  # "before": a comes before b
    position: int | None = None  # "at": 1-based from the first end
    from_end: int = 0  # "at": 0 when counted from the first end, 1 from the last


@dataclass(frozen=True)
class Puzzle:
    domain: Domain
    intro: str  # "On a shelf, there are three books"
    listing: str  # "a black book, an orange book, and a blue book"
    objects: tuple[str, ...]  # names without articles, in the paragraph's order
    statements: tuple[Statement, ...]

    @property
    def n(self) -> int:
        return len(self.objects)


def _split_listing(listing: str) -> list[str]:
    items = re.split(r", and |, | and ", listing)
    return [re.sub(r"^(a|an) ", "", item.strip()) for item in items]


def read_statement(sentence: str, domain: Domain, objects: tuple[str, ...]) -> Statement:
    """One sentence (with or without its final period) as a Statement; ValueError if unknown."""
    text = sentence.strip().removesuffix(".")
    n = len(objects)
    for pattern, relation in domain.orders:
        match = re.fullmatch(pattern, text)
        if match and match.group(1) in objects and match.group(2) in objects:
            a, b = match.group(1), match.group(2)
            return Statement(text, "before", *((a, b) if relation == "before" else (b, a)))
    for pattern, (end, k) in domain.places:
        match = re.fullmatch(pattern, text)
        if match and match.group(1) in objects:
            position = k if end == "first" else n + 1 - k
            return Statement(text, "at", match.group(1), position=position, from_end=int(end == "last"))
    raise ValueError(f"cannot read the statement {sentence!r}")


def read_puzzle(paragraph: str) -> Puzzle:
    """The BIG-Bench ``input`` paragraph of a puzzle, read."""
    head, rest = paragraph.strip().split(": ", 1)
    listing, statements = rest.split(". ", 1)
    plural = head.split()[-1]
    if plural not in DOMAINS:
        raise ValueError(f"unknown puzzle setting {head!r}")
    domain = DOMAINS[plural]
    objects = tuple(_split_listing(listing))
    if len(objects) != NUMBER_WORDS.get(head.split()[-2], -1):
        raise ValueError(f"the paragraph lists {len(objects)} objects: {head!r}")
    sentences = [s for s in re.split(r"(?<=\.) ", statements.strip()) if s]
    return Puzzle(domain, head, listing, objects, tuple(read_statement(s, domain, objects) for s in sentences))


def holds(statement: Statement, order: list[str] | tuple[str, ...]) -> bool:
    """Whether ``statement`` holds for the complete ordering ``order``."""
    if statement.kind == "at":
        return order.index(statement.a) + 1 == statement.position
    return order.index(statement.a) < order.index(statement.b)


def solutions(puzzle: Puzzle, limit: int = 2) -> list[tuple[str, ...]]:
    """The orderings consistent with every statement (at most ``limit``), by backtracking over
    positions 1..N with the fixed places and the orders checked as soon as both ends are placed."""
    fixed = {s.position: s.a for s in puzzle.statements if s.kind == "at"}
    orders = [(s.a, s.b) for s in puzzle.statements if s.kind == "before"]
    found: list[tuple[str, ...]] = []

    def extend(prefix: list[str]) -> None:
        if len(found) >= limit:
            return
        if len(prefix) == puzzle.n:
            found.append(tuple(prefix))
            return
        position = len(prefix) + 1
        for name in puzzle.objects:
            if name in prefix or fixed.get(position, name) != name:
                continue
            if any(s.kind == "at" and s.a == name and s.position != position for s in puzzle.statements):
                continue
            # every object that must come before `name` is placed already
            if any(b == name and a not in prefix for a, b in orders):
                continue
            extend(prefix + [name])

    extend([])
    return found


def solve(puzzle: Puzzle) -> tuple[str, ...]:
    """The one consistent ordering; ValueError when there is none or more than one."""
    found = solutions(puzzle)
    if len(found) != 1:
        raise ValueError(f"the puzzle has {len(found)} consistent orderings (at least)")
    return found[0]


# ---- new puzzles of the same kind -------------------------------------------------------------
INTROS = {
    "books": "On a shelf, there are {n} books",
    "birds": "On a branch, there are {n} birds",
    "vehicles": "In an antique car show, there are {n} vehicles",
    "fruits": "A fruit stand sells {n} fruits",
    "golfers": "In a golf tournament, there were {n} golfers",
}
# BIG-Bench's own object vocabulary, ten per setting.
VOCABULARY = {
    "books": tuple(f"{c} book" for c in ("black", "blue", "brown", "gray", "green", "orange", "purple", "red",
                                         "white", "yellow")),
    "birds": ("blue jay", "cardinal", "crow", "falcon", "hawk", "hummingbird", "owl", "quail", "raven", "robin"),
    "vehicles": ("bus", "convertible", "hatchback", "limousine", "minivan", "motorcycle", "sedan", "station wagon",
                 "tractor", "truck"),
    "fruits": ("apples", "cantaloupes", "kiwis", "loquats", "mangoes", "oranges", "peaches", "pears", "plums",
               "watermelons"),
    "golfers": ("Ada", "Amy", "Ana", "Dan", "Eli", "Eve", "Joe", "Mel", "Mya", "Rob"),
}


def _sentence(pattern: str, *names: str) -> str:
    return pattern.replace("(.+)", "{}").format(*names) + "."


def valid_places(domain: Domain, n: int) -> list[tuple[str, int]]:
    """(pattern, position) of the fixed-place phrases BIG-Bench uses with n objects."""
    places = []
    for pattern, (end, k) in domain.places:
        if end == "first" and k <= (n + 1) // 2:
            places.append((pattern, k))
        elif end == "last" and k <= (n - 1) // 2:
            places.append((pattern, n + 1 - k))
    return places


def _listing(setting: str, names: list[str]) -> str:
    if setting in ("fruits", "golfers"):
        items = list(names)
    else:
        items = [("an " if name[0] in "aeiou" else "a ") + name for name in names]
    return ", ".join(items[:-1]) + ", and " + items[-1]


def _true_statement(rng, domain: Domain, order: list[str], places: list[tuple[str, int]]) -> str:
    if rng.random() < 0.35:
        name = rng.choice(order)
        fitting = [pattern for pattern, position in places if position == order.index(name) + 1]
        if fitting:
            return _sentence(rng.choice(fitting), name)
    a, b = sorted(rng.sample(order, 2), key=order.index)  # a comes before b
    pattern, relation = rng.choice(domain.orders)
    return _sentence(pattern, a, b) if relation == "before" else _sentence(pattern, b, a)


def generate_example(rng, n: int) -> dict:
    """A new puzzle in BIG-Bench's shape (``input``, ``target_scores``): n - 1 true statements
    drawn until exactly one ordering fits, and a fixed-place question over all objects."""
    setting = rng.choice(sorted(INTROS))
    domain = DOMAINS[setting]
    names = rng.sample(VOCABULARY[setting], n)
    order = rng.sample(names, n)
    places = valid_places(domain, n)
    head = f"{INTROS[setting].format(n=SIZE_WORDS[n])}: {_listing(setting, names)}."
    while True:
        statements = list(dict.fromkeys(_true_statement(rng, domain, order, places) for _ in range(n - 1)))
        paragraph = " ".join([head] + statements)
        if len(statements) == n - 1 and len(solutions(read_puzzle(paragraph))) == 1:
            break
    pattern, position = rng.choice(places)
    return {"input": paragraph,
            "target_scores": {_sentence(pattern, name): int(order[position - 1] == name) for name in names}}
