"""What a run measures: the metrics.jsonl keys of its evaluations and how to read each (which way is better,
on which scale its statistics are taken, how many decimals it is written with). The tasks name the measure
that selects an evaluation (validation, never test) and the report reads the same objects."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

Evaluation = TypeVar("Evaluation", bound=Mapping[str, Any])


def fmt(value: float | None, digits: int = 1) -> str:
    """A number for a table: ``-`` for none or NaN, ``inf`` for an infinite one (a diverged run), three
    significant digits for one too large (a million and up) or too small for ``digits`` decimals."""
    if value is None or value != value:
        return "-"
    if value in (float("inf"), float("-inf")):
        return "inf"
    if value != 0 and not 10**-digits <= abs(value) < 1e6:
        return f"{value:.3g}"
    return f"{value:.{digits}f}"


@dataclass(frozen=True)
class Measure:
    """A metrics.jsonl key and how to read it."""

    key: str
    label: str
    lower_is_better: bool
    # Perplexity spans orders of magnitude: statistics on its logarithm. F1 stays linear.
    log_scale: bool
    digits: int

    def fmt(self, value: float | None) -> str:
        return fmt(value, self.digits)

    def best(self, evaluations: Iterable[Evaluation]) -> Evaluation:
        """The evaluation of best value of this measure (the first on a tie); ValueError where there is none."""
        pick = min if self.lower_is_better else max
        return pick(evaluations, key=lambda e: e[self.key])


PERPLEXITY_DIGITS = 1
VALID_PPL = Measure("valid_ppl", "valid perplexity", True, True, PERPLEXITY_DIGITS)
TEST_PPL = Measure("test_ppl", "test perplexity", True, True, PERPLEXITY_DIGITS)
VALID_F1 = Measure("valid_token_f1", "valid token F1", False, False, 4)
TEST_F1 = Measure("test_token_f1", "test token F1", False, False, 4)
TEST_ENTITY_F1 = Measure("test_entity_f1", "test entity F1", False, False, 4)
