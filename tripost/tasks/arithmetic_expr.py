"""Multistep-arithmetic expressions: BIG-Bench's generator and the step-by-step evaluator.

An expression is a string such as ``((7 + 7 + 7) - (-8 - -5 + -9))``: innermost parenthesised
groups of single-digit operands joined by ``+ - *`` and nested binary levels above them.
"""

from __future__ import annotations

import itertools
import re
import warnings
from collections.abc import Callable, Iterator

import numpy as np

NUMBERS = [str(x) for x in range(-9, 10)]
OPERATIONS = ["+", "-", "*"]

# A group with no parentheses inside: "(-8 - -5 + -9)".
INNERMOST_GROUP = re.compile(r"\((-?\d+(?: [+\-*] -?\d+)+)\)")
# One binary operation on two numbers, in parentheses: "(14 + 7)".
BINARY = re.compile(r"\((-?\d+) ([+\-*]) (-?\d+)\)")


class LegacyChoice:
    """``np.random.RandomState(seed).choice(options)``, draw for draw, without numpy's per-call cost.

    ``RandomState.choice`` of a list draws ``randint(0, len(options))``: masked rejection on the
    Mersenne Twister's 32-bit outputs (an output ``& mask`` is kept when it indexes an option).
    This reads those outputs in blocks and applies the same rejection: the same choices in the
    same order, about 30 times faster (the splits draw millions). numpy keeps ``RandomState``'s
    stream frozen (NEP 19); a test checks the draws against it for many option counts and seeds.
    """

    BLOCK = 4096

    def __init__(self, seed: int):
        rng = np.random.RandomState(seed)
        blocks = iter(lambda: rng.randint(0, 2**32, size=self.BLOCK, dtype=np.uint32).tolist(), None)
        self._outputs = itertools.chain.from_iterable(blocks)  # endless: the generator's 32-bit outputs

    def chooser(self, options: list[str]) -> Callable[[], str]:
        """A function that draws one of ``options``, as ``choice(options)`` would, from this stream."""
        top, outputs = len(options) - 1, self._outputs
        if top == 0:
            return lambda: options[0]  # numpy draws nothing for a single option
        mask = (1 << top.bit_length()) - 1

        def choose() -> str:
            for output in outputs:
                if output & mask <= top:
                    return options[output & mask]
            raise AssertionError("unreachable: the outputs never end")

        return choose


def _content(length: int, number: Callable[[], str], operation: Callable[[], str]) -> str:
    parts = []
    for _ in range(length - 1):
        parts += (number(), operation())
    parts.append(number())
    return "(" + " ".join(parts) + ")"


def _nested(levels: list[int], length: int, number: Callable[[], str], operation: Callable[[], str]) -> str:
    if not levels:
        return _content(length, number, operation)
    text = "("
    for _ in range(levels[0] - 1):
        text += _nested(levels[1:], length, number, operation) + " " + operation() + " "
    return text + _nested(levels[1:], length, number, operation) + ")"


def bigbench_stream(
    seed: int, trials: int, depth_level_list: list[list[int]], lengths: list[int]
) -> Iterator[tuple[list[int], int, int, str]]:
    """BIG-Bench ``MultistepArithmeticTask`` question stream: (depth_levels, length, trial, expr).

    Same draws, in the same order, as ``evaluate_model`` with ``np.random.RandomState(seed)``.
    """
    rng = LegacyChoice(seed)
    number, operation = rng.chooser(NUMBERS), rng.chooser(OPERATIONS)
    for depth_levels, length in itertools.product(depth_level_list, lengths):
        for trial in range(trials):
            yield list(depth_levels), length, trial, _nested(list(depth_levels), length, number, operation)


def _binary_value(a: int, op: str, b: int) -> int:
    return a + b if op == "+" else a - b if op == "-" else a * b


def fully_parenthesise(group: str) -> str:
    """``(a + b * c - d)`` -> ``((a + (b * c)) - d)``: ``*`` first, then left to right."""
    tokens = group.strip("()").split(" ")
    operands, ops = tokens[0::2], tokens[1::2]
    # first fold runs of multiplications, then additions/subtractions left to right
    terms, term_ops = [operands[0]], []
    for op, operand in zip(ops, operands[1:]):
        if op == "*":
            terms[-1] = f"({terms[-1]} * {operand})"
        else:
            term_ops.append(op)
            terms.append(operand)
    text = terms[0]
    for op, term in zip(term_ops, terms[1:]):
        text = f"({text} {op} {term})"
    return text


def reduction_chain(expr: str) -> list[str]:
    """Evaluate a fully parenthesised expression one ``(a op b)`` at a time.

    In rounds, as the original solver does: every pair that is innermost at the start of a
    round is replaced by its value, left to right, one chain element each. Like the original,
    a replacement replaces every copy of the same pair, so a repeated pair leaves a repeated
    element (``... = X = X = ...``; 1 of the 960 published rationales has one).
    """
    chain = [expr]
    while not re.fullmatch(r"-?\d+", chain[-1]):
        matches = list(BINARY.finditer(chain[-1]))
        if not matches:
            raise ValueError(f"not a fully parenthesised expression: {chain[-1]!r}")
        for match in matches:
            value = _binary_value(int(match.group(1)), match.group(2), int(match.group(3)))
            chain.append(chain[-1].replace(match.group(0), str(value)))
    return chain


def evaluate(expr: str) -> int:
    """Value of an expression with ``*`` binding tighter than ``+ -`` (Python's own rules).

    Raises ``ValueError`` for anything but digits, spaces, parentheses and single ``+ - *``.
    """
    if not re.fullmatch(r"[\d\s()+\-*]+", expr) or "**" in expr or len(expr) > 2000:
        raise ValueError(f"not an arithmetic expression: {expr!r}")
    try:
        with warnings.catch_warnings():  # "5(3)" warns before it fails: the failure is what counts
            warnings.simplefilter("ignore", SyntaxWarning)
            return int(eval(expr, {"__builtins__": {}}))  # eval is safe: the expression was checked above
    except (SyntaxError, TypeError, ZeroDivisionError, RecursionError, MemoryError) as error:
        raise ValueError(f"not an arithmetic expression: {expr!r}") from error


def split_groups(expr: str) -> tuple[str, list[str]]:
    """Replace each innermost group, left to right, by A, B, C, ...: (skeleton, groups)."""
    groups: list[str] = []

    def letter(match: re.Match) -> str:
        groups.append(match.group(0))
        return chr(ord("A") + len(groups) - 1)

    skeleton = INNERMOST_GROUP.sub(letter, expr)
    return skeleton, groups
