"""Statistics over seeds: a setting's spread, and two settings compared seed by seed.

Perplexity spans orders of magnitude (a blown-up run ends at thousands, a good one near 100), so
its means and intervals are taken on log perplexity and reported back on the perplexity scale:
the geometric mean, its interval, and paired comparisons as ratios. F1 is bounded and stays
linear: arithmetic means and paired differences. Every interval is a Student-t interval of the
mean; wins out of n come with the exact two-sided sign-test p-value, which needs no assumption
about the distribution (with n = 5 it cannot go below 0.0625).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import scipy.stats

from adamomentum.measures import fmt
from adamomentum.report.measures import Measure
from adamomentum.report.runs import Run


def mean_ci(values: Sequence[float], confidence: float = 0.95) -> tuple[int, float, float, float, float]:
    """n, mean, sample standard deviation and the Student-t confidence interval of the mean (NaN where
    undefined: every number for n = 0, the spread and interval for n = 1)."""
    n = len(values)
    if n == 0:
        return 0, math.nan, math.nan, math.nan, math.nan
    mean = statistics.fmean(values)
    if n == 1:
        return 1, mean, math.nan, math.nan, math.nan
    std = statistics.stdev(values)
    half = scipy.stats.t.ppf(0.5 + confidence / 2, n - 1) * std / math.sqrt(n)
    return n, mean, std, mean - half, mean + half


def _centre_and_interval(values: Sequence[float], log: bool, confidence: float) -> tuple[int, float, float, float]:
    """n, mean and interval, on log values mapped back when ``log`` (the geometric mean and its interval)."""
    if log:
        n, mean, _, low, high = mean_ci([math.log(v) for v in values], confidence)
        return n, math.exp(mean), math.exp(low), math.exp(high)
    n, mean, _, low, high = mean_ci(values, confidence)
    return n, mean, low, high


@dataclass(frozen=True)
class Spread:
    """One setting over its seeds."""

    n: int
    # The geometric mean on a log scale, the arithmetic mean otherwise.
    centre: float
    # The confidence interval of ``centre`` (NaN for n < 2).
    low: float
    high: float
    minimum: float
    maximum: float


def spread(values: Sequence[float], log: bool, confidence: float = 0.95) -> Spread:
    """n, centre with its t-interval (on log values when ``log``), minimum and maximum of ``values``.

    Values must be finite (and positive when ``log``): a diverged run has no final value and is
    counted apart by the caller.
    """
    bad = [v for v in values if not math.isfinite(v) or (log and v <= 0)]
    if bad:
        raise ValueError(f"spread needs finite{' positive' if log else ''} values; got {bad}")
    n, centre, low, high = _centre_and_interval(values, log, confidence)
    return Spread(n, centre, low, high, min(values, default=math.nan), max(values, default=math.nan))


def with_interval(measure: Measure, s: Spread) -> str:
    """ "centre [low, high]" in the measure's format; the centre alone where there is no interval (n < 2)."""
    if math.isnan(s.low):
        return measure.fmt(s.centre)
    return f"{measure.fmt(s.centre)} [{measure.fmt(s.low)}, {measure.fmt(s.high)}]"


def finite(values: Iterable[float | None]) -> list[float]:
    """The values that exist and are finite: what ``spread`` takes."""
    return [v for v in values if v is not None and math.isfinite(v)]


@dataclass(frozen=True)
class Paired:
    """Ours against theirs, seed by seed: ratios ours / theirs on a log scale, differences ours - theirs
    otherwise."""

    seeds: tuple[Hashable, ...]
    # The geometric mean of the ratios, or the mean of the differences, with its confidence interval.
    centre: float
    low: float
    high: float
    # Seeds where ours is better, worse, equal.
    wins: int
    losses: int
    ties: int
    # Exact two-sided sign test of wins against losses (ties dropped); 1.0 when there is nothing to test.
    p_value: float
    # The value of ``centre`` that means "no difference": 1 for a ratio, 0 for a difference.
    null: float
    lower_is_better: bool

    @property
    def n(self) -> int:
        return len(self.seeds)

    def interval_text(self, digits: int) -> str:
        """ " [low, high]" to ``digits``; "" where there is no interval (n < 2)."""
        return "" if math.isnan(self.low) else f" [{fmt(self.low, digits)}, {fmt(self.high, digits)}]"

    @property
    def decided(self) -> str | None:
        """ "ours" or "theirs" when the interval excludes ``null``, None when it includes it or n < 2."""
        if self.n < 2 or self.low <= self.null <= self.high:
            return None
        ours_lower = self.high < self.null
        return "ours" if ours_lower == self.lower_is_better else "theirs"


def sign_test(wins: int, losses: int) -> float:
    """The exact two-sided sign-test p-value of ``wins`` against ``losses`` (1.0 when both are 0)."""
    if wins + losses == 0:
        return 1.0
    return float(scipy.stats.binomtest(wins, wins + losses, 0.5).pvalue)


def paired(
    ours: Mapping[Hashable, float],
    theirs: Mapping[Hashable, float],
    log: bool,
    lower_is_better: bool,
    confidence: float = 0.95,
) -> Paired:
    """Ours against theirs over the seeds both have a finite value for (keys: seeds)."""
    seeds = tuple(
        sorted((s for s in set(ours) & set(theirs) if math.isfinite(ours[s]) and math.isfinite(theirs[s])), key=str)
    )
    if log:
        effects = [ours[s] / theirs[s] for s in seeds]
    else:
        effects = [ours[s] - theirs[s] for s in seeds]
    null = 1.0 if log else 0.0
    _, centre, low, high = _centre_and_interval(effects, log, confidence)
    wins = sum((e < null) == lower_is_better and e != null for e in effects)
    ties = sum(e == null for e in effects)
    losses = len(effects) - wins - ties
    return Paired(seeds, centre, low, high, wins, losses, ties, sign_test(wins, losses), null, lower_is_better)


def final_value(run: Run, key: str) -> float | None:
    """The final evaluation's ``key`` of a completed run; None for a diverged or unfinished one."""
    return run.summary.final.get(key) if run.summary.status == "completed" else None


def finals(runs: Iterable[Run], key: str) -> list[float]:
    """Each run's final ``key`` where it is finite: none for a run that diverged, ended at a value that is not
    finite, or is unfinished."""
    return finite(final_value(r, key) for r in runs)


def at_best_valid(run: Run, key: str) -> float | None:
    """``key`` at the evaluation of best validation score of a completed run (selected on valid, never
    on test, on the grid ``select_best_valid`` chose); None for a diverged or unfinished one."""
    return run.best_valid.get(key) if run.summary.status == "completed" and run.best_valid is not None else None


def common_steps(runs: Sequence[Run]) -> set[int]:
    """The evaluation steps every completed run of ``runs`` has: the grid on which their best validation
    scores are comparable (a run evaluated every 500 batches and one evaluated at epoch ends share only
    the epoch ends)."""
    grids = [{m["step"] for m in r.metrics} for r in runs if r.summary.status == "completed" and r.metrics]
    return set.intersection(*grids) if grids else set()


def last_step(run: Run) -> int:
    """How many batches a run trained: the step of its last evaluation."""
    return max((int(m["step"]) for m in run.metrics), default=0)


def select_best_valid(runs: Sequence[Run], selection: Measure) -> dict[int, set[int]]:
    """Set each completed run's ``best_valid`` to its evaluation of best ``selection`` score among the steps
    every completed run of its length has (the first such on a tie); returns those grids by length. Runs of
    one length are selected on one grid; a run on a share of the data, which trains fewer batches, never cuts
    the grid of the full runs down to its own. A run with no metrics.jsonl, or one that did not complete
    (shown, never compared), keeps the best its summary records."""
    completed = [r for r in runs if r.summary.status == "completed" and r.metrics]
    lengths = sorted({last_step(r) for r in completed})
    grids = {n: common_steps([r for r in completed if last_step(r) == n]) for n in lengths}
    for run in runs:
        steps = grids.get(last_step(run), set()) if run.summary.status == "completed" else set()
        run.best_valid = best_evaluation(run, steps, selection) or run.summary.best_valid
    return grids


def best_evaluation(run: Run, steps: set[int], selection: Measure) -> dict[str, Any] | None:
    """The run's evaluation of best ``selection`` score among ``steps`` (the first on a tie); None where it has
    none there."""
    candidates = [m for m in run.metrics if m["step"] in steps and selection.key in m]
    if not candidates:
        return None
    return selection.best(candidates)


def grid_words(runs: Sequence[Run], grids: dict[int, set[int]]) -> str:
    """Which evaluations the best validation score is selected among, in words."""
    completed = [r for r in runs if r.summary.status == "completed" and r.metrics]
    if not completed:
        return "the evaluations of no completed run (each run's own best is shown)"
    if all({m["step"] for m in r.metrics} == grids.get(last_step(r)) for r in completed):
        return "every evaluation of every run"
    if len(grids) == 1:
        [steps] = grids.values()
        return (
            f"the {len(steps)} evaluations every completed run has (some runs evaluated more often: their other "
            "evaluations are left out, so that every run is selected on the same grid)"
        )
    each = ", ".join(f"{len(steps)} for the runs of {n:,} batches" for n, steps in grids.items())
    return (
        f"the evaluations every completed run of the same length has ({each}; some runs evaluated more often: "
        "their other evaluations are left out, so that the runs of a length are selected on the same grid)"
    )
