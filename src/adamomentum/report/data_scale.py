"""The abstract's claim that AdaMomentum is "robust against different scales of data" (issue 34, section 4), as
results/README.md fixed its measure before the runs: the campaign's five settings (``campaign.CAMPAIGN``) on
shares of the training text (all of it: the verdict's runs); at each share, each AdaMomentum setting's rank
among the five by final valid perplexity, and R, its final test perplexity over the best baseline's (the
baseline of lowest final valid perplexity at that share: chosen on valid, never on test), paired by seed.
Reproduced when R's interval lies below 1 at every share of ``campaign.FRACTIONS``, all of the text included;
not reproduced when it lies above 1 at some share, or an AdaMomentum seed diverged there; each word also rests on
a sign test per share, as the verdict's do.
"""

from __future__ import annotations

import math
from functools import partial

from matplotlib.figure import Figure

from adamomentum.report.campaign import (
    BASELINES,
    CAMPAIGN,
    FRACTION,
    FRACTIONS,
    OURS,
    Entry,
    campaign_by,
    diverged,
    share,
)
from adamomentum.report.figures import Series, series_figure
from adamomentum.report.markdown import markdown_table
from adamomentum.report.measures import TaskDescription
from adamomentum.report.paper import AUTHORS, ROBUST_TO_DATA_SCALE
from adamomentum.report.settings import Setting
from adamomentum.report.statistics import Paired, final_value, finals, sign_test, spread
from adamomentum.report.verdict import (
    CLAIM_HEADERS,
    NOT_REPRODUCED,
    REPRODUCED,
    UNDECIDED,
    Finding,
    SignCount,
    compare,
    ratio_text,
    status_counts,
)

FIGURE = "data_scale_claim"


def centre(setting: Setting, key: str) -> float | None:
    """The geometric mean of the setting's final ``key`` over its seeds; infinite where a seed diverged, None
    where none has finished."""
    if any(diverged(r, key) for r in setting.runs):
        return math.inf
    values = finals(setting.runs, key)
    return spread(values, log=True).centre if values else None


def best_baseline(found: dict[Entry, Setting], task: TaskDescription) -> Entry | None:
    """The baseline of lowest geometric-mean final valid perplexity (the first of Table 1's order on a tie),
    chosen on valid as every selection here is; None until each baseline has a finished run, since the best
    of those that have landed need not be the best."""
    valid = {e: c for e in BASELINES if e in found and (c := centre(found[e], task.selection.key)) is not None}
    return min(valid, key=lambda e: valid[e]) if len(valid) == len(BASELINES) else None


def ratio(ours: Setting, best: Setting, task: TaskDescription) -> tuple[Paired, int]:
    """R paired by seed, and the seeds of ``ours`` that diverged where ``best`` has a value (R infinite: each
    counts against AdaMomentum)."""
    theirs = best.by_seed(final_value, task.headline.key)
    diverged_seeds = sum(diverged(r, task.headline.key) and r.summary.seed in theirs for r in ours.runs)
    return compare(ours, best, task), diverged_seeds


def robust(by_share: dict[float, dict[Entry, Setting]], entry: Entry, task: TaskDescription) -> Finding:
    """The claim for one AdaMomentum setting over every share of ``FRACTIONS``: R's interval below 1 at each
    (all the text included) or above 1 at one, with a sign test of the seeds' R per share."""
    sides: list[str | None] = []
    signs: list[SignCount] = []
    seeds: list[int] = []
    waiting = []
    for fraction in FRACTIONS:
        found = by_share.get(fraction, {})
        best = best_baseline(found, task)
        if entry not in found or best is None:
            sides.append(None)
            waiting.append(fraction)
            continue
        result, diverged_seeds = ratio(found[entry], found[best], task)
        sides.append(
            "above" if diverged_seeds or result.decided == "theirs" else "below" if result.decided == "ours" else None
        )
        signs.append(SignCount(result.wins, result.losses + diverged_seeds))
        seeds.append(result.n + diverged_seeds)
    if not signs:
        return Finding("no runs", UNDECIDED, tests=0)
    below, above = sides.count("below"), sides.count("above")
    word = NOT_REPRODUCED if above else REPRODUCED if below == len(FRACTIONS) else UNDECIDED
    text = f"R's interval below 1 at {below} of {len(FRACTIONS)} shares, above 1 at {above}"
    if waiting:
        percents = [f"{100 * f:g}%" for f in waiting]
        listed = percents[0] if len(percents) == 1 else f"{', '.join(percents[:-1])} and {percents[-1]}"
        text += f" (runs missing on {listed} of the training text)"
    return Finding(text, word, signs, min(seeds), len(signs))


def share_table(found: dict[Entry, Setting], task: TaskDescription) -> str:
    """The five settings at one share: final valid perplexity and its rank, final test perplexity, and each
    AdaMomentum setting's R against the best baseline with its sign test."""
    valid = {e: c for e, s in found.items() if (c := centre(s, task.selection.key)) is not None}
    best = best_baseline(found, task)
    rows = []
    for entry in (e for e in CAMPAIGN if e in found):
        setting = found[entry]
        r_cells = ["best baseline" if entry == best else "-", "-"]
        if entry in OURS and best is not None:
            result, diverged_seeds = ratio(setting, found[best], task)
            r_cells = [
                ratio_text(result) + (f", {diverged_seeds} diverged" if diverged_seeds else ""),
                f"{sign_test(result.wins, result.losses + diverged_seeds):.3g}",
            ]
        rank = f"{1 + sum(v < valid[entry] for v in valid.values())} of {len(valid)}" if entry in valid else "-"
        rows.append(
            [
                entry.name,
                f"{len(setting.runs)}{status_counts(setting)}",
                task.selection.fmt(valid.get(entry)),
                rank,
                task.headline.fmt(centre(setting, task.headline.key)),
                *r_cells,
            ]
        )
    headers = [
        "setting",
        "seeds",
        f"final {task.selection.label} (geometric mean)",
        "rank by it",
        f"final {task.headline.label} (geometric mean)",
        f"R = final {task.headline.label} / the best baseline's, by seed [95% CI], seeds below 1",
        "sign test p",
    ]
    return markdown_table(headers, rows)


def note(task: TaskDescription) -> str:
    baselines = ", ".join(e.name for e in BASELINES)
    return (
        f"What the claim is measured by, fixed before the runs: at each share of the training text, the settings "
        f"{', '.join(e.name for e in CAMPAIGN)}, each in the paper's setting otherwise (on all the training text: "
        f"the verdict's runs). For each AdaMomentum setting: its rank among them by final {task.selection.label} "
        f"(the geometric mean over seeds; a seed that diverged or ended at an infinite perplexity counts as "
        f"infinite), and R, its final {task.headline.label} over the best baseline's (of {baselines}, the one of "
        f"lowest geometric-mean final {task.selection.label} at that share: chosen on valid, never on test), "
        "paired by seed, with the 95% t-interval of the mean log ratio and the exact two-sided sign test (a "
        "diverged AdaMomentum seed counts against it). The claim is reproduced when R's interval lies below 1 at "
        f"every share ({', '.join(f'{100 * f:g}%' for f in FRACTIONS)}); not reproduced when it lies above 1 at "
        "some share (or an AdaMomentum seed diverged there); undecided otherwise, and while a share lacks runs. "
        "Each word also rests on a sign test per share, as the verdict's words do, and the primary reading "
        "(AdaMomentum as written) gives the verdict."
    )


def figure(by_share: dict[float, dict[Entry, Setting]], task: TaskDescription) -> Figure:
    """Final test perplexity against the share of the training text, a line per setting in a min-max band."""
    series = [
        Series(
            entry.name,
            entry.optimizer,
            "--" if entry.reading is AUTHORS else "-",
            {f: finals(found[entry].runs, task.headline.key) for f, found in by_share.items() if entry in found},
        )
        for entry in CAMPAIGN
    ]
    ticks = {f: f"{100 * f:g}%" for f in by_share}
    title = (
        f"{task.title}: final {task.headline.label} against the share of the training text\n"
        "lines: geometric mean over seeds; bands: min to max"
    )
    return series_figure(series, task.headline, ticks, "share of the training text", title)


def claim_row(by_share: dict[float, dict[Entry, Setting]], task: TaskDescription) -> list[str]:
    """The claim, the paper's words, the finding under each reading (as written, then G_0 = 0.1) and the verdict
    (the primary reading's word)."""
    written, authors = (robust(by_share, entry, task) for entry in OURS)
    return [
        ROBUST_TO_DATA_SCALE.text,
        ROBUST_TO_DATA_SCALE.paper,
        written.cell(),
        authors.cell(),
        f"**{written.label}**",
    ]


def robust_row(groups: list[Setting], task: TaskDescription) -> list[str] | None:
    """The claim's row (``claim_row``); None where the runs are at fewer than two shares of the training text."""
    by_share = campaign_by(groups, task, FRACTION)
    return claim_row(by_share, task) if len(by_share) > 1 else None


def data_scale_section(groups: list[Setting], task: TaskDescription) -> tuple[list[str], dict[str, partial[Figure]]]:
    """results.md's section on the claim and its figure, by file name; nothing where the runs are at fewer than
    two shares of the training text."""
    by_share = campaign_by(groups, task, FRACTION)
    if len(by_share) < 2:
        return [], {}
    claim = markdown_table(CLAIM_HEADERS, [claim_row(by_share, task)])
    name = f"{FIGURE}_{task.name}.png"
    lines = [
        f"## The abstract's claim: robust against different scales of data ({task.title})",
        "",
        note(task),
        "",
        claim,
        "",
    ]
    for fraction, found in by_share.items():
        lines += [f"### On {share(fraction)}", "", share_table(found, task), ""]
    lines += [f"![Final {task.headline.label} against the share of the training text]({name})", ""]
    return lines, {name: partial(figure, by_share, task)}
