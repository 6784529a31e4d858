"""How results.md writes what it shows: a number in a table cell, and a table."""

from __future__ import annotations

from collections.abc import Sequence


def fmt(value: float | None, digits: int = 1) -> str:
    """A number for a table: ``-`` for none or NaN, ``inf`` for a blown-up value, three significant digits for
    one too large (a million and up) or too small for ``digits`` decimals."""
    if value is None or value != value:
        return "-"
    if value in (float("inf"), float("-inf")):
        return "inf"
    if value != 0 and not 10**-digits <= abs(value) < 1e6:
        return f"{value:.3g}"
    return f"{value:.{digits}f}"


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    return "\n".join([*lines, *("| " + " | ".join(row) + " |" for row in rows)])
