"""Markdown tables: one row per run, statistics over seeds, AdaMomentum against each baseline, provenance.

Headline numbers are the final evaluation's and the one at the best validation score: an evaluation
is never chosen by its test score.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from adamomentum.measures import fmt
from adamomentum.report.markdown import markdown_table
from adamomentum.report.measures import TEST_ENTITY_F1, TEST_F1, TEST_PPL, Measure, TaskDescription
from adamomentum.report.paper import PAPER_DEFAULTS, PAPER_SCALE, optimizer_name
from adamomentum.report.runs import Run
from adamomentum.report.settings import SHARED_CONDITIONS, Setting, comparable_with_paper, flat_config
from adamomentum.report.statistics import (
    Paired,
    at_best_valid,
    final_value,
    finals,
    finite,
    paired,
    sign_test,
    spread,
    with_interval,
)


@dataclass(frozen=True)
class Column:
    header: str
    cell: Callable[[Run, Setting, TaskDescription], str]


def paper_number(run: Run, task: TaskDescription) -> float | None:
    """The paper's headline number for ``run``'s optimizer, where the run is comparable with the paper."""
    return task.paper.get(run.optimizer) if comparable_with_paper(run) else None


def gap(ours: float | None, paper: float | None) -> str:
    if ours is None or paper is None or not math.isfinite(ours):
        return "-"
    return f"{100 * (ours - paper) / paper:+.1f}%"


def _final(measure: Measure, header: str) -> Column:
    return Column(header, lambda run, _, task: measure.fmt(run.summary.final.get(measure.key)))


def _at_best_valid(measure: Measure, header: str) -> Column:
    return Column(header, lambda run, _, task: measure.fmt(at_best_valid(run, measure.key)))


def _best_valid(run: Run, _: Setting, task: TaskDescription) -> str:
    best = run.best_valid or {}
    value = task.selection.fmt(best.get(task.selection.key))
    return value if task.x_key not in best else f"{value} ({task.x_key} {best[task.x_key]})"


def _paper(run: Run, _: Setting, task: TaskDescription) -> str:
    number = paper_number(run, task)
    return "-" if number is None else task.paper_format.format(number)


def _final_vs_paper(run: Run, _: Setting, task: TaskDescription) -> str:
    if run.summary.status != "completed":
        return "-"
    return gap(run.summary.final.get(task.headline.key), paper_number(run, task))


def _stream(run: Run, _: Setting, task: TaskDescription) -> str:
    """Zaremba's test score: the test split as one stream (batch 1); other batch sizes are not his."""
    numbers = run.summary.task_numbers
    stream = numbers.get("test_ppl_stream") if numbers.get("test_ppl_stream_batch_size") == 1 else None
    return task.headline.fmt(stream)


LEADING = [
    Column("optimizer", lambda run, _, task: optimizer_name(run.optimizer)),
    Column("setting", lambda run, setting, task: setting.label),
    Column("seed", lambda run, _, task: str(run.summary.seed)),
    Column("status", lambda run, _, task: run.summary.status),
]
PAPER = [Column("paper", _paper)]
STEPS = Column("steps", lambda run, _, task: str(run.summary.final.get("step", "-")))

RUN_COLUMNS: dict[str, list[Column]] = {
    "ptb": [
        *LEADING,
        _final(TEST_PPL, "test ppl, final (batch 20)"),
        Column("test ppl, final (one stream)", _stream),
        Column("best valid ppl (at)", _best_valid),
        _at_best_valid(TEST_PPL, "test ppl at best valid"),
        *PAPER,
        Column("final vs paper", _final_vs_paper),
        STEPS,
    ],
    "ner": [
        *LEADING,
        _final(TEST_F1, "test token F1, final"),
        Column("best valid token F1 (at)", _best_valid),
        _at_best_valid(TEST_F1, "test token F1 at best valid"),
        _final(TEST_ENTITY_F1, "test entity F1, final"),
        _at_best_valid(TEST_ENTITY_F1, "test entity F1 at best valid"),
        *PAPER,
        STEPS,
    ],
}


def runs_table(groups: list[Setting], task: TaskDescription) -> str:
    """One row per run, by optimizer, setting and seed."""
    columns = RUN_COLUMNS[task.name]
    rows = [[c.cell(run, setting, task) for c in columns] for setting in groups for run in setting.runs]
    return markdown_table([c.header for c in columns], rows)


def _centre_name(measure: Measure) -> str:
    return "geometric mean" if measure.log_scale else "mean"


def _over_seeds(setting: Setting, measure: Measure, value: Callable[[Run, str], float | None]) -> str:
    """``measure`` over the setting's seeds, at the end or at the best validation score, with its interval."""
    return with_interval(measure, spread(finite(value(r, measure.key) for r in setting.runs), measure.log_scale))


def seed_table(groups: list[Setting], task: TaskDescription) -> str:
    """Per setting: how many runs completed, the final and the at-best-valid headline over seeds (geometric
    mean and 95% interval on log perplexity; mean for F1), min and max, the task's ``beside`` measures the
    same way (NER: entity F1), and the paper's number."""
    measure = task.headline
    centre = _centre_name(measure)
    beside = [
        (m, view, value)
        for m in task.beside
        for view, value in ((f"final {m.label}", final_value), (f"{m.label} at best valid", at_best_valid))
    ]
    headers = [
        "optimizer",
        "setting",
        "completed",
        "diverged or unfinished",
        f"final {measure.label}: {centre} [95% CI]",
        "min - max",
        f"{measure.label} at best valid: {centre} [95% CI]",
        *(f"{view}: {_centre_name(m)} [95% CI]" for m, view, _ in beside),
        "paper",
        "final vs paper",
    ]
    rows = []
    for setting in groups:
        final = spread(finals(setting.runs, measure.key), measure.log_scale)
        paper = task.paper.get(setting.optimizer) if all(comparable_with_paper(r) for r in setting.runs) else None
        rows.append(
            [
                optimizer_name(setting.optimizer),
                setting.label,
                str(final.n),
                str(len(setting.runs) - final.n),
                with_interval(measure, final),
                f"{measure.fmt(final.minimum)} - {measure.fmt(final.maximum)}" if final.n > 1 else "-",
                _over_seeds(setting, measure, at_best_valid),
                *(_over_seeds(setting, m, value) for m, _, value in beside),
                "-" if paper is None else task.paper_format.format(paper),
                gap(final.centre if final.n else None, paper),
            ]
        )
    return markdown_table(headers, rows)


def within_paper(groups: list[Setting], task: TaskDescription) -> list[str]:
    """Which settings come within 10% of the paper's number (by their final centre), in words."""
    within: list[str] = []
    outside: list[str] = []
    for setting in groups:
        paper = task.paper.get(setting.optimizer)
        values = finals(setting.runs, task.headline.key)
        if paper is None or not values or not all(comparable_with_paper(r) for r in setting.runs):
            continue
        centre = spread(values, task.headline.log_scale).centre
        (within if abs(centre - paper) <= 0.1 * paper else outside).append(setting.name)
    if not within and not outside:
        return []
    # A setting's name holds commas ("AdaGrad, G_0 = 0, constant lr"): semicolons part the names.
    return [
        f"- Within 10% of the paper's number: {'; '.join(within) or 'none of these settings'}.",
        f"- Further than 10% from it: {'; '.join(outside) or 'none of these settings'}.",
    ]


START = "optimizer.initial_accumulator_value"


# The baselines' lr schedule varies among their runs once a decayed adaptive run joins them (the campaign's
# same-schedule runs): a key only one side varies in does not tell a pair apart.
ONE_SIDED_KEYS = {"trainer.lr_decay"}
# What a run trained on, how much of it, at which multiple of Table 1's lr and in which precision: two runs
# that differ in one of these are never paired, even where a side has a single setting to offer.
CONDITION_KEYS = (*PAPER_SCALE, *SHARED_CONDITIONS)


def _value(setting: Setting, key: str) -> Any:
    """The setting's value of ``key``: its own where its optimizer's runs vary in it, else the one its runs that
    record the key share (runs made before the key existed have the paper's value, ``PAPER_DEFAULTS``)."""
    if key in setting.values:
        return setting.values[key]
    recorded = [config[key] for r in setting.runs if key in (config := flat_config(r))]
    return recorded[0] if recorded else PAPER_DEFAULTS.get(key)


def _agree(ours: Setting, theirs: Setting, ignoring: str | None = None) -> bool:
    """Whether two settings have the same values of the keys either varies in (but ``ignoring``). A key only one
    side varies in is held against the value the other side's runs share (AdaMomentum's float32 runs pair with
    AdaGrad's though only AdaMomentum has a bf16 run), except the schedule (``ONE_SIDED_KEYS``), which does not
    tell a pair apart, and an optimizer's hyperparameter, which means something else for another optimizer and
    does."""
    for key in (ours.values.keys() | theirs.values.keys()) - {ignoring}:
        if (key in ours.values) != (key in theirs.values):
            if key in ONE_SIDED_KEYS:
                continue
            if key.startswith("optimizer."):
                return False
        if _value(ours, key) != _value(theirs, key):
            return False
    return True


def _against_paper_start(ours: Setting, theirs: Setting) -> bool:
    """Whether ``theirs`` starts its accumulator where the paper's Eq. 1 does (G_0 = 0) and agrees with
    ``ours`` otherwise: the baseline that reproduces the paper's number, for an AdaMomentum at another start."""
    return not theirs.values.get(START) and _agree(ours, theirs, ignoring=START)


def _same_conditions(ours: Setting, theirs: Setting) -> bool:
    """Whether two settings trained under the same conditions (``CONDITION_KEYS``), whatever their optimizers'
    hyperparameters and schedules."""
    return all(_value(ours, key) == _value(theirs, key) for key in CONDITION_KEYS)


def comparison_pairs(groups: list[Setting], ours: str = "adamomentum") -> list[tuple[Setting, Setting]]:
    """AdaMomentum's settings against each baseline's: a setting against the baseline's with the same values
    (G_0 = 0.1 against G_0 = 0.1) and against the baseline at the paper's start (the one that reproduces the
    paper's numbers), or, where either side has only one setting, against every setting of the other side
    trained under the same conditions (Adam's full-data runs are no reference for a run on a share of the data)."""
    own = [s for s in groups if s.optimizer == ours]
    pairs = []
    for baseline in dict.fromkeys(s.optimizer for s in groups if s.optimizer != ours):
        theirs = [s for s in groups if s.optimizer == baseline]
        single = len(own) == 1 or len(theirs) == 1
        for a in own:
            pairs += [
                (a, b)
                for b in theirs
                if _agree(a, b) or _against_paper_start(a, b) or (single and _same_conditions(a, b))
            ]
    return pairs


def _outcome(result: Paired, ours: Setting, theirs: Setting) -> str:
    decided = result.decided
    if decided is None:
        return "not decided"
    return f"{(ours if decided == 'ours' else theirs).name} better"


def comparison_table(groups: list[Setting], task: TaskDescription) -> str:
    """AdaMomentum against each baseline, paired by seed: ratios of perplexity, differences of F1, with the
    95% interval, wins out of the paired seeds and the exact two-sided sign-test p-value."""
    measure = task.headline
    pairs = comparison_pairs(groups)
    if not pairs:
        return ""
    effect = "AdaMomentum / baseline, geometric mean" if measure.log_scale else "AdaMomentum - baseline, mean"
    views = [("final", final_value)]
    # Runs with a single evaluation have the same value at the end and at the best valid one.
    if any(len(r.metrics) > 1 for s in groups for r in s.runs):
        views.append(("at best valid", at_best_valid))
    rows = []
    for ours, theirs in pairs:
        for view, value in views:
            result = paired(
                ours.by_seed(value, measure.key),
                theirs.by_seed(value, measure.key),
                measure.log_scale,
                measure.lower_is_better,
            )
            if result.n < 2:
                continue
            digits = 3 if measure.log_scale else measure.digits
            interval = f"{fmt(result.centre, digits)}{result.interval_text(digits)}"
            rows.append(
                [
                    ours.name,
                    theirs.name,
                    f"{measure.label}, {view}",
                    str(result.n),
                    interval,
                    f"{result.wins} of {result.n}",
                    f"{result.p_value:.3g}",
                    _outcome(result, ours, theirs),
                ]
            )
    if not rows:
        return ""
    better = "below 1" if measure.log_scale else ("below 0" if measure.lower_is_better else "above 0")
    most = max(int(row[3]) for row in rows)
    note = (
        f"Paired by seed ({better}: AdaMomentum better); the interval is a 95% t-interval"
        f"{' on the log ratio' if measure.log_scale else ''}, the p-value the exact two-sided sign test of wins "
        f"against losses, which cannot go below {sign_test(most, 0):.3g} with {most} seeds."
    )
    headers = [
        "AdaMomentum",
        "against",
        "measure",
        "paired seeds",
        f"{effect} [95% CI]",
        "AdaMomentum better in",
        "sign test p",
        "at this n",
    ]
    return note + "\n\n" + markdown_table(headers, rows)


def _minutes(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds / 60:.1f} min"


def _resumes(run: Run) -> str:
    steps = run.resumed_at()
    if steps is None:
        return "no train.log"
    return " then ".join(f"{s:,}" for s in steps) or "-"


def provenance(groups: list[Setting]) -> str:
    """Per run of ``groups``: the command, the commits its processes loaded, the device, its wall time with the
    part spent evaluating, and the batches it resumed at (the numbers a results README quotes)."""
    rows = [
        [
            optimizer_name(run.optimizer),
            str(run.summary.seed),
            setting.label,
            f"`{run.summary.command}`",
            " then ".join(f"`{c or '-'}`" for c in run.commits),
            run.summary.device or "-",
            _minutes(run.summary.wall_time_s or 0),
            _minutes(run.summary.eval_time_s),
            _resumes(run),
        ]
        for setting in groups
        for run in setting.runs
    ]
    headers = [
        "optimizer",
        "seed",
        "setting",
        "command",
        "git commit",
        "device",
        "wall time",
        "of which evaluation",
        "resumed at batch",
    ]
    return markdown_table(headers, rows)
