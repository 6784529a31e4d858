"""The abstract's claim that AdaMomentum "requires minimal tuning effort" (issue 34, section 5), as results/README.md
fixed its measure before the runs: each of the campaign's five settings (``campaign.CAMPAIGN``) at multiples of
its Table 1 lr, one seed, on a share of the training text. Per setting, the spread of its final valid perplexity
over its lr values (largest over smallest; a run that diverged counts as infinite) and how many values land
within 5% of its best; reproduced when AdaMomentum's spread is the smallest of it and the three baselines' and its
count the largest (ties count for it; each AdaMomentum reading is judged against the baselines, never against the
other), over every factor of ``campaign.LR_FACTORS``.
"""

from __future__ import annotations

import math
from functools import partial

from matplotlib.figure import Figure

from adamomentum.measures import fmt
from adamomentum.report import blowup
from adamomentum.report.campaign import (
    BASELINES,
    CAMPAIGN,
    FRACTION,
    LR_FACTOR,
    LR_FACTORS,
    LR_TUNING_FRACTION,
    OURS,
    Entry,
    campaign_by,
    diverged,
    share,
)
from adamomentum.report.figures import Series, series_figure
from adamomentum.report.markdown import markdown_table
from adamomentum.report.measures import TaskDescription
from adamomentum.report.paper import AUTHORS, MINIMAL_TUNING, TABLE1_VALUES
from adamomentum.report.runs import Run
from adamomentum.report.settings import Setting
from adamomentum.report.statistics import final_value
from adamomentum.report.verdict import CLAIM_HEADERS, NOT_REPRODUCED, REPRODUCED, UNDECIDED

FIGURE = "lr_tuning"
# The seed every lr value is run with (lr x 1: that seed of the data-scale runs), and how close to a setting's
# best final valid perplexity a value counts as landing.
SEED = 0
WITHIN = 0.05
# The mark of a run that blew up by report.blowup's rule yet finished.
EARLY_MARK = "blew up early"
# Per share of the training text: the (lr factor, setting) of the grid's runs that carry EARLY_MARK.
Marked = dict[float, set[tuple[float, Entry]]]

# Per share of the training text: per lr factor, each setting's value (final valid perplexity; infinite where
# the run diverged).
Grid = dict[float, dict[Entry, float]]


def _seed_run(setting: Setting) -> Run | None:
    return next((r for r in setting.runs if r.summary.seed == SEED), None)


def _value(setting: Setting, task: TaskDescription) -> float | None:
    """The final valid perplexity of the setting's run of ``SEED``: infinite where it diverged, None where there
    is no such run or it has not finished."""
    run = _seed_run(setting)
    if run is None:
        return None
    return math.inf if diverged(run, task.selection.key) else final_value(run, task.selection.key)


def early_blowups(groups: list[Setting], grids_by_share: dict[float, Grid], task: TaskDescription) -> Marked:
    """Per share, the grid's runs that blew up early by ``report.blowup``'s rule and have a finite value: the
    measure counts them at that value, as it counts every run that did not diverge (one that diverged reads
    "diverged", unmarked)."""
    marked: Marked = {}
    for fraction, grid in grids_by_share.items():
        by_factor = campaign_by(groups, task, LR_FACTOR, {FRACTION: fraction})
        marked[fraction] = {
            (factor, entry)
            for factor, values in grid.items()
            for entry, value in values.items()
            if math.isfinite(value)
            and (run := _seed_run(by_factor[factor][entry])) is not None
            and blowup.blew_up(run, task)
        }
    return marked


def grids(groups: list[Setting], task: TaskDescription) -> dict[float, Grid]:
    """The grid of ``LR_FACTORS`` on ``LR_TUNING_FRACTION`` of the training text, where the campaign's settings
    have several of those factors there (by share, so that the tables say where it was measured)."""
    by_factor = campaign_by(groups, task, LR_FACTOR, {FRACTION: LR_TUNING_FRACTION})
    grid = {
        factor: values
        for factor, found in by_factor.items()
        if factor in LR_FACTORS and (values := {e: v for e, s in found.items() if (v := _value(s, task)) is not None})
    }
    return {LR_TUNING_FRACTION: grid} if len(grid) > 1 else {}


def spread_of(values: list[float]) -> float:
    """The largest value over the smallest: infinite where one diverged."""
    return math.inf if math.inf in values else max(values) / min(values)


def within_best(values: list[float]) -> int:
    """How many values land within ``WITHIN`` of the best."""
    best = min(values)
    return sum(v <= (1 + WITHIN) * best for v in values) if math.isfinite(best) else 0


def _values(grid: Grid, entry: Entry) -> list[float]:
    return [values[entry] for values in grid.values() if entry in values]


def tuning_word(grid: Grid, entry: Entry) -> tuple[str, str]:
    """An AdaMomentum setting's finding against the baselines, and its word; undecided while a run of
    ``LR_FACTORS`` is missing, whether or not another setting has one at that factor."""
    mine = _values(grid, entry)
    theirs = [v for b in BASELINES if (v := _values(grid, b))]
    missing = sum(len(LR_FACTORS) - len(_values(grid, e)) for e in (*BASELINES, entry))
    if not mine or not theirs:
        return "no runs", UNDECIDED
    spread, count = spread_of(mine), within_best(mine)
    smallest, largest = min(map(spread_of, theirs)), max(map(within_best, theirs))
    text = (
        f"spread {fmt(spread, 2)}, {count} of {len(mine)} within {100 * WITHIN:g}% of its best; the baselines' "
        f"smallest spread {fmt(smallest, 2)}, largest count {largest}"
    )
    if missing:
        return f"{text} ({missing} of {len(LR_FACTORS) * (len(BASELINES) + 1)} runs missing)", UNDECIDED
    return text, REPRODUCED if spread <= smallest and count >= largest else NOT_REPRODUCED


def _cell(grid: Grid, factor: float, entry: Entry, early: set[tuple[float, Entry]], task: TaskDescription) -> str:
    value = grid[factor].get(entry)
    if value is None:
        return "-"
    if value == math.inf:
        return "diverged"
    return task.selection.fmt(value) + (f" ({EARLY_MARK})" if (factor, entry) in early else "")


def grid_table(grid: Grid, early: set[tuple[float, Entry]], task: TaskDescription) -> str:
    """Per setting: its Table 1 lr, the final valid perplexity at each lr factor (marked where the run blew up
    early: ``early``, one share's of ``early_blowups``), its spread and its count."""
    rows = []
    for entry in CAMPAIGN:
        values = _values(grid, entry)
        if not values:
            continue
        cells = [_cell(grid, factor, entry, early, task) for factor in grid]
        rows.append(
            [
                entry.name,
                f"{TABLE1_VALUES[entry.optimizer]['optimizer.lr']:g}",
                *cells,
                fmt(spread_of(values), 2),
                f"{within_best(values)} of {len(values)}",
            ]
        )
    headers = [
        "setting",
        "Table 1 lr",
        *(f"lr x {factor:g}" for factor in grid),
        "spread (largest / smallest)",
        f"within {100 * WITHIN:g}% of its best",
    ]
    return markdown_table(headers, rows)


def note(grids_by_share: dict[float, Grid], task: TaskDescription) -> str:
    shares = " and ".join(share(f) for f in grids_by_share)
    return (
        f"What the claim is measured by, fixed before the runs: each of the settings "
        f"{', '.join(e.name for e in CAMPAIGN)} at its Table 1 lr times {', '.join(f'{k:g}' for k in LR_FACTORS)}, "
        f"seed {SEED}, on {shares}, in the paper's setting otherwise. Per setting: the spread of its final "
        f"{task.selection.label} over its lr values (the largest over the smallest; a run that diverged or ended "
        f"at an infinite perplexity counts as infinite) and how many of them land within {100 * WITHIN:g}% of its "
        "best. The claim is reproduced for an AdaMomentum setting when its spread is the smallest of it and the "
        "three baselines' and its count the largest (ties count for it; each AdaMomentum setting is judged against "
        "the baselines, never against the other), not reproduced otherwise, and undecided while one of those runs "
        "is missing; the primary reading (AdaMomentum as written) gives the verdict."
    )


def early_note(task: TaskDescription) -> str:
    """What the grid's mark means; shown under the grid where a cell carries it."""
    return (
        f"{EARLY_MARK[0].upper()}{EARLY_MARK[1:]}: the run's training loss over a log window rose above "
        f"{task.uniform_words}, within its first {blowup.EARLY_BATCHES:,} batches (the blow-up rule), and it went "
        "on to finish at the value shown. The measure counts it at that value: it counts as infinite only a run "
        "that diverged or ended at an infinite perplexity."
    )


def figure(grids_by_share: dict[float, Grid], early: Marked, task: TaskDescription) -> Figure:
    """Final valid perplexity against the lr factor, a line per setting (and share, where there are several),
    its label naming the factors where it diverged (no point) or blew up early (a point, as the grid counts it)."""
    several = len(grids_by_share) > 1
    series = []
    for fraction, grid in grids_by_share.items():
        for entry in CAMPAIGN:
            diverged_at = [f"x {k:g}" for k, v in grid.items() if v.get(entry) == math.inf]
            early_at = [f"x {k:g}" for k in grid if (k, entry) in early[fraction]]
            label = (
                entry.name
                + (f", on {share(fraction)}" if several else "")
                + (f" (diverged at lr {', '.join(diverged_at)})" if diverged_at else "")
                + (f" ({EARLY_MARK} at lr {', '.join(early_at)})" if early_at else "")
            )
            series.append(
                Series(
                    label,
                    entry.optimizer,
                    "--" if entry.reading is AUTHORS else "-",
                    {k: [v[entry]] for k, v in grid.items() if math.isfinite(v.get(entry, math.nan))},
                )
            )
    factors = sorted({factor for grid in grids_by_share.values() for factor in grid})
    title = (
        f"{task.title}: final {task.selection.label} against the lr, seed {SEED}, on "
        f"{' and '.join(share(f) for f in grids_by_share)}"
    )
    return series_figure(series, task.selection, {k: f"x {k:g}" for k in factors}, "Table 1's lr times", title)


def tuning_rows(grids_by_share: dict[float, Grid]) -> list[list[str]]:
    """The claim's row per share of the training text with several lr factors: the claim, the paper's words,
    the finding under each reading (as written, then G_0 = 0.1) and the verdict (the primary reading's word)."""
    rows = []
    for fraction, grid in grids_by_share.items():
        (written, word), (authors, authors_word) = (tuning_word(grid, entry) for entry in OURS)
        rows.append(
            [
                f"{MINIMAL_TUNING.text}, on {share(fraction)}",
                MINIMAL_TUNING.paper,
                f"{written}: {word}",
                f"{authors}: {authors_word}",
                f"**{word}**",
            ]
        )
    return rows


def lr_tuning_section(groups: list[Setting], task: TaskDescription) -> tuple[list[str], dict[str, partial[Figure]]]:
    """results.md's section on the claim and its figure, by file name; nothing where no share of the training
    text has several lr factors."""
    grids_by_share = grids(groups, task)
    if not grids_by_share:
        return [], {}
    rows = tuning_rows(grids_by_share)
    name = f"{FIGURE}_{task.name}.png"
    lines = [
        f"## The abstract's claim: minimal tuning effort ({task.title})",
        "",
        note(grids_by_share, task),
        "",
        markdown_table(CLAIM_HEADERS, rows),
        "",
    ]
    early = early_blowups(groups, grids_by_share, task)
    for fraction, grid in grids_by_share.items():
        lines += [f"### On {share(fraction)}, seed {SEED}", "", grid_table(grid, early[fraction], task), ""]
    if any(early.values()):
        lines += [early_note(task), ""]
    lines += [f"![Final {task.selection.label} against the lr]({name})", ""]
    return lines, {name: partial(figure, grids_by_share, early, task)}
