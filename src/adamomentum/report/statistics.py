"""Statistics over seeds."""

from __future__ import annotations

import math
import statistics

import scipy.stats

from adamomentum.report.runs import Run


def mean_ci(values: list[float], confidence: float = 0.95) -> tuple[int, float, float, float, float]:
    """n, mean, sample standard deviation and the Student-t confidence interval of the mean."""
    n = len(values)
    if n == 0:
        return 0, math.nan, math.nan, math.nan, math.nan
    mean = statistics.fmean(values)
    if n == 1:
        return 1, mean, math.nan, math.nan, math.nan
    std = statistics.stdev(values)
    half = scipy.stats.t.ppf(0.5 + confidence / 2, n - 1) * std / math.sqrt(n)
    return n, mean, std, mean - half, mean + half


def final_value(run: Run, key: str) -> float | None:
    """The final evaluation's ``key`` of a completed run; None for a diverged or unfinished one."""
    return run.summary.get("final", {}).get(key) if run.summary["status"] == "completed" else None
