"""A checkpoint against its seed's ft-rationale baseline on the same test questions: the exact
McNemar test on the questions where exactly one of the two is right (pooled over seeds, each
seed paired with its own baseline)."""

from __future__ import annotations

from dataclasses import dataclass
from math import comb

import pandas as pd

ALPHA = 0.05


@dataclass(frozen=True)
class Paired:
    """Paired outcomes over (seed, question) pairs and the exact McNemar p-values."""

    pairs: int
    wins: int  # the checkpoint right, the baseline wrong
    losses: int  # the baseline right, the checkpoint wrong

    def _tail(self, at_least: int) -> float:
        n = self.wins + self.losses
        return sum(comb(n, k) for k in range(at_least, n + 1)) / 2**n if n else 1.0

    @property
    def p_worse(self) -> float:
        """One-sided p against a drop: P(at least ``losses`` losses) if neither is better."""
        return self._tail(self.losses)

    @property
    def p_better(self) -> float:
        """One-sided p for a gain: P(at least ``wins`` wins) if neither is better."""
        return self._tail(self.wins)

    @property
    def p_two_sided(self) -> float:
        return min(1.0, 2 * min(self.p_worse, self.p_better))

    @property
    def mark(self) -> str:
        """``▲`` significantly better, ``▼`` significantly worse (two-sided, 5%), else nothing."""
        if self.p_two_sided >= ALPHA:  # equal wins and losses give p = 1
            return ""
        return "▲" if self.wins > self.losses else "▼"

    def __add__(self, other: Paired) -> Paired:
        return Paired(self.pairs + other.pairs, self.wins + other.wins, self.losses + other.losses)


NONE = Paired(0, 0, 0)


def compare(checkpoint: pd.DataFrame, column: str, baseline: pd.DataFrame, baseline_column: str,
            split: str) -> Paired:
    """``checkpoint[column]`` against ``baseline[baseline_column]`` on the questions of ``split``
    (``seen``, ``unseen`` or ``total``), joined by question id. Both frames must hold the same
    questions, each once."""
    for name, frame in (("checkpoint", checkpoint), ("baseline", baseline)):
        if frame["id"].duplicated().any():
            raise ValueError(f"the {name}'s evaluation repeats a question id")
    if set(checkpoint["id"]) != set(baseline["id"]):
        raise ValueError("the checkpoint and its baseline were evaluated on different questions")
    ours = checkpoint[["id", "seen", column]].rename(columns={column: "ours"})
    theirs = baseline[["id", "seen", baseline_column]].rename(
        columns={"seen": "seen_baseline", baseline_column: "theirs"})
    joined = ours.merge(theirs, on="id", validate="one_to_one")
    if not (joined["seen"] == joined["seen_baseline"]).all():
        raise ValueError("a question is seen in one evaluation and unseen in the other")
    if split != "total":
        joined = joined[joined["seen"] == (split == "seen")]
    right, base_right = joined["ours"].astype(bool), joined["theirs"].astype(bool)
    return Paired(len(joined), int((right & ~base_right).sum()), int((~right & base_right).sum()))
