"""bf16 against float32 (issue 34, section 1), by the rule results/README.md fixed before the runs: a run with
``precision=bf16`` is equivalent to float32 when its final test perplexity and its test perplexity at the best
validation step each lie within the range of the float32 seeds 0-2 of its setting, widened by 1% at each end.
The best validation step is chosen among the evaluations the compared runs share (a run evaluated every 500
batches beside ones evaluated at epoch ends: the epoch ends), on valid, never on test. Published whatever it
shows: a run still training, or float32 seeds that have not all finished, leave a setting pending; float32 seeds
that diverged, or runs without the evaluations the rule reads, leave it without a reference.
"""

from __future__ import annotations

from dataclasses import dataclass

from adamomentum.report.campaign import TASK, diverged
from adamomentum.report.markdown import markdown_table
from adamomentum.report.measures import TaskDescription
from adamomentum.report.paper import AS_WRITTEN, AUTHORS
from adamomentum.report.runs import Run
from adamomentum.report.settings import Setting, reading_settings
from adamomentum.report.statistics import best_evaluation, common_steps, final_value

BF16 = {"precision": "bf16"}
# The float32 seeds each bf16 run is held against, and how far beyond their range (relative, at each end) it
# may land.
FLOAT32_SEEDS = (0, 1, 2)
WIDEN = 0.01

EQUIVALENT = "equivalent"
NOT_EQUIVALENT = "not equivalent"
PENDING = "pending"
NO_REFERENCE = "without a reference"


@dataclass(frozen=True)
class Measured:
    """One measure of a bf16 run against its float32 seeds: its value and the widened range of theirs."""

    bf16: float
    low: float
    high: float

    @property
    def within(self) -> bool:
        return self.low <= self.bf16 <= self.high


def headline_at_best_valid(run: Run, steps: set[int], task: TaskDescription) -> float | None:
    """The headline (test perplexity) at the run's best validation step among ``steps``; None where the run has
    no evaluation there, or that evaluation no headline."""
    best = best_evaluation(run, steps, task.selection)
    return None if best is None or task.headline.key not in best else float(best[task.headline.key])


def every_value(values: list[float | None]) -> list[float] | None:
    """``values``, or None where one is missing: the rule compares a run only with all its references."""
    known = [v for v in values if v is not None]
    return known if len(known) == len(values) else None


def measured(bf16: float, float32: list[float]) -> Measured:
    return Measured(bf16, (1 - WIDEN) * min(float32), (1 + WIDEN) * max(float32))


def compare_run(run: Run, float32: list[Run], task: TaskDescription) -> tuple[str, list[Measured]]:
    """The word for a bf16 run against its setting's float32 seeds (one run of each of ``FLOAT32_SEEDS``), and
    the final and best-valid measures where both sides have them."""
    key = task.headline.key
    if diverged(run, key):
        return NOT_EQUIVALENT, []
    seeds = {r.summary.seed: r for r in float32 if r.summary.seed in FLOAT32_SEEDS}
    if run.summary.status != "completed" or any(
        s not in seeds or seeds[s].summary.status not in ("completed", "diverged") for s in FLOAT32_SEEDS
    ):
        return PENDING, []
    references = [seeds[s] for s in FLOAT32_SEEDS]
    if any(diverged(r, key) for r in references):
        return NO_REFERENCE, []
    steps = common_steps([run, *references])
    finals = every_value([final_value(r, key) for r in (run, *references)])
    at_best = every_value([headline_at_best_valid(r, steps, task) for r in (run, *references)])
    if finals is None or at_best is None:
        return NO_REFERENCE, []
    values = [measured(finals[0], finals[1:]), measured(at_best[0], at_best[1:])]
    return (EQUIVALENT if all(m.within for m in values) else NOT_EQUIVALENT), values


def pairs(groups: list[Setting]) -> list[tuple[Setting, Setting]]:
    """Each bf16 setting of a reading with its float32 twin, once each (SGD and Momentum are the same setting
    under both readings)."""
    found: list[tuple[Setting, Setting]] = []
    for reading in (AS_WRITTEN, AUTHORS):
        twins = reading_settings(groups, reading)
        for optimizer, bf16 in reading_settings(groups, reading, BF16).items():
            if optimizer in twins and all(bf16 is not b for b, _ in found):
                found.append((bf16, twins[optimizer]))
    return found


def cells(value: Measured | None, task: TaskDescription) -> list[str]:
    """The bf16 run's value, and the widened range of its float32 seeds with whether it lies in it."""
    if value is None:
        return ["-", "-"]
    show = task.headline.fmt
    return [show(value.bf16), f"[{show(value.low)}, {show(value.high)}]: {'in' if value.within else 'out'}"]


def bf16_section(groups: list[Setting], task: TaskDescription) -> list[str]:
    """results.md's section on bf16 against float32 (the Penn Treebank's, where the campaign ran it); nothing
    without bf16 runs beside their float32 seeds."""
    found = pairs(groups) if task.name == TASK else []
    if not found:
        return []
    rows = []
    words = []
    for bf16, twin in found:
        for run in bf16.runs:
            word, values = compare_run(run, twin.runs, task)
            words.append(word)
            final, best = values if values else (None, None)
            rows.append([twin.name, str(run.summary.seed), *cells(final, task), *cells(best, task), f"**{word}**"])
    label = task.headline.label
    headers = [
        "setting",
        "bf16 seed",
        f"final {label}, bf16",
        f"float32 seeds {FLOAT32_SEEDS[0]}-{FLOAT32_SEEDS[-1]}, widened {100 * WIDEN:g}%",
        f"{label} at best valid, bf16",
        f"float32 seeds {FLOAT32_SEEDS[0]}-{FLOAT32_SEEDS[-1]}, widened {100 * WIDEN:g}%",
        "bf16 is",
    ]
    counts = [f"{words.count(EQUIVALENT)} of {len(words)} bf16 runs are equivalent to float32"]
    counts += [f"{words.count(w)} {w}" for w in (PENDING, NO_REFERENCE) if w in words]
    summary = ", ".join(counts) + "."
    return [
        f"## bf16 against float32 ({task.title})",
        "",
        "The rule, fixed before the runs (results/README.md, the campaign, section 1): a run with "
        f"`precision=bf16` is equivalent when its final {label} and its {label} at the best validation step "
        f"each lie within the range of its setting's float32 seeds {FLOAT32_SEEDS[0]}-{FLOAT32_SEEDS[-1]}, "
        f"widened by {100 * WIDEN:g}% at each end (low x {1 - WIDEN:g}, high x {1 + WIDEN:g}); the best "
        "validation step is chosen among the evaluations the bf16 run and those seeds share, on valid, never "
        f"on test. {summary}",
        "",
        markdown_table(headers, rows),
        "",
    ]
