"""Figures: the paper's Figure 1 and Figure 2 redrawn over seeds, single-evaluation runs as points, and the
headline against a swept value.

Each function returns the matplotlib Figure, so that tests read what it shows (labels, legend, lines,
the paper's markers); ``save_figure`` writes and closes it. The seeds of a setting are one line (the
geometric mean for perplexity, the mean for F1, at the evaluations all its seeds have) inside a band
from their minimum to their maximum.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import matplotlib

from adamomentum.report.measures import Measure, TaskDescription
from adamomentum.report.paper import OPTIMIZER_ORDER, READINGS, optimizer_name
from adamomentum.report.runs import Run, optimizers_of
from adamomentum.report.settings import (
    Setting,
    comparable_with_paper,
    flat_config,
    ner_corpora,
    reading_settings,
    runs_of,
    settings,
)
from adamomentum.report.statistics import final_value, spread

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.axes import Axes  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.ticker import MaxNLocator, NullLocator  # noqa: E402

LINESTYLES = ["-", "--", ":", "-.", (0, (3, 1, 1, 1, 1, 1))]
PAPER_MARKER: dict[str, Any] = {"marker": "*", "s": 240, "edgecolors": "black", "linewidths": 0.8, "zorder": 6}
# A perplexity curve ending further than this factor from the best one (a blown-up run) would squeeze the
# others: the panel's range leaves it out and the strip below shows the full range.
OUTLIER_FACTOR = 2.0
# The optimizers of conf/optimizer beyond the paper's four: with those, each has its colour in every figure.
OTHER_OPTIMIZERS = ["adam", "rmsprop"]
# The panel's range covers the curves from this share of training on; the early descent is in the strip below.
RANGE_FROM = 0.2


@dataclass
class Curve:
    """A setting's seeds at the evaluations all of them have (finite values only)."""

    setting: Setting
    xs: list[float]
    centre: list[float]
    low: list[float]
    high: list[float]


def setting_curve(setting: Setting, measure: Measure, x_key: str) -> Curve | None:
    """``measure`` of a setting's seeds against ``x_key``; None where the seeds share no finite evaluation."""
    per_run = [
        {m[x_key]: m[measure.key] for m in run.metrics if math.isfinite(m.get(measure.key, math.nan))}
        for run in setting.runs
    ]
    xs = sorted(set.intersection(*(set(values) for values in per_run)))
    if not xs:
        return None
    spreads = [spread([values[x] for values in per_run], measure.log_scale) for x in xs]
    return Curve(setting, xs, [s.centre for s in spreads], [s.minimum for s in spreads], [s.maximum for s in spreads])


def legend_label(setting: Setting, optimizer_shown: bool = True) -> str:
    """``AdaMomentum, G_0 = 0.1 (3 seeds)``, with the runs that did not complete; ``G_0 = 0.1 (3 seeds)`` in a
    panel of the optimizer's own."""
    n = len(setting.runs)
    label = (setting.name if optimizer_shown else setting.label) + (f" ({n} seeds)" if n > 1 else "")
    statuses = [r.summary.status for r in setting.runs if r.summary.status != "completed"]
    if n == 1 and statuses:
        return f"{label}: {statuses[0]}"
    if statuses:
        counts = Counter(status.split(" ")[0] for status in statuses)
        return f"{label}: " + ", ".join(f"{count} {status}" for status, count in counts.items())
    return label


def optimizer_colour(optimizer: str, optimizers: list[str]) -> str:
    """The optimizer's colour, the same in every figure whichever optimizers it shows (SGD's in Figure 1 is
    SGD's in a folder of SGD and AdaMomentum): the paper's four, then ``OTHER_OPTIMIZERS``, then any other in
    the order of ``optimizers``."""
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    known = [*OPTIMIZER_ORDER, *OTHER_OPTIMIZERS]
    order = known + [o for o in optimizers if o not in known]
    return colours[order.index(optimizer) % len(colours)]


def styles(groups: list[Setting]) -> dict[int, dict[str, Any]]:
    """Per setting (by id): its optimizer's colour, a line style per setting of that optimizer, the legend
    label. Where all runs are of one optimizer, each setting gets its own colour instead."""
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    optimizers = optimizers_of(runs_of(groups))
    out = {}
    for setting in groups:
        own = [s for s in groups if s.optimizer == setting.optimizer]
        if len(optimizers) == 1:
            colour = colours[own.index(setting) % len(colours)]
        else:
            colour = optimizer_colour(setting.optimizer, optimizers)
        out[id(setting)] = {
            "color": colour,
            "linestyle": "-" if len(optimizers) == 1 else LINESTYLES[own.index(setting) % len(LINESTYLES)],
            "label": legend_label(setting),
        }
    return out


def paper_colours(groups: list[Setting], style: dict[int, dict[str, Any]]) -> dict[str, str]:
    """The colour of each optimizer's paper star: its settings' colour, or the legend's grey where each setting
    has a colour of its own (one optimizer, ``styles``): a coloured star would claim one of them."""
    shades: dict[str, set[str]] = {}
    for setting in groups:
        shades.setdefault(setting.optimizer, set()).add(style[id(setting)]["color"])
    return {o: shade.pop() if len(shade) == 1 else "lightgrey" for o, shade in shades.items()}


def figure_title(runs: list[Run], task: TaskDescription) -> str:
    """The title names the corpus and says whether the curves redraw the paper's figure: a PNG is often
    seen without results.md."""
    corpus = f" on {', '.join(ner_corpora(runs))}" if task.name == "ner" else ""
    what = f"{task.title}{corpus}, {task.model}"
    if all(comparable_with_paper(r) for r in runs):
        return f"{what}\n({task.figure} of the paper, redrawn)"
    return f"{what}\n(not the paper's setting: not comparable with its {task.figure})"


def _paper_handle(task: TaskDescription) -> Line2D:
    return Line2D(
        [],
        [],
        marker="*",
        markersize=14,
        color="lightgrey",
        markeredgecolor="black",
        linestyle="none",
        label=task.paper_label,
    )


def fitted_range(curves: list[Curve], measure: Measure, extra: list[float]) -> tuple[float, float] | None:
    """The y range where the curves settle (from ``RANGE_FROM`` of training on, blown-up curves left out), or
    None where that range would clip nothing."""
    finals = [c.centre[-1] for c in curves]
    best = (min if measure.lower_is_better else max)(finals)
    kept = [
        c
        for c in curves
        if not measure.log_scale or max(c.centre[-1], best) / min(c.centre[-1], best) <= OUTLIER_FACTOR
    ]
    start = RANGE_FROM * max(c.xs[-1] for c in kept)
    inside = [v for c in kept for x, lo, hi in zip(c.xs, c.low, c.high) if x >= start for v in (lo, hi)] + extra
    low, high = min(inside), max(inside)
    pad = 0.06 * (high - low) or 0.05 * abs(high) or 1.0
    low, high = low - pad, high + pad
    everything = [v for c in curves for v in (*c.low, *c.high)] + extra
    return None if low <= min(everything) and max(everything) <= high else (low, high)


def _draw_curves(ax: Axes, curves: list[Curve], style: dict[int, dict[str, Any]], bands: bool) -> None:
    for c in curves:
        st = style[id(c.setting)]
        ax.plot(
            c.xs,
            c.centre,
            color=st["color"],
            linestyle=st["linestyle"],
            label=st["label"],
            marker="o" if len(c.xs) == 1 else None,
        )
        if bands and len(c.setting.runs) > 1 and len(c.xs) > 1:
            ax.fill_between(c.xs, c.low, c.high, color=st["color"], alpha=0.18, linewidth=0)
    # Epochs and batches are counted: no tick at epoch 1.5 when a run has two evaluations. The steps and
    # tick count are matplotlib's default locator's, so batch axes keep their round ticks (5,000, not 4,000).
    ax.xaxis.set_major_locator(MaxNLocator(nbins="auto", steps=[1, 2, 2.5, 5, 10], integer=True))


def curves_figure(runs: list[Run], task: TaskDescription) -> Figure:
    """``grouped_curves_figure`` of ``runs``, grouped into their settings here."""
    return grouped_curves_figure(settings(runs), task)


def grouped_curves_figure(groups: list[Setting], task: TaskDescription) -> Figure:
    """The task's figure of the runs of ``groups`` (their settings): one panel per curve measure, each
    setting's seeds as a line with a min-max band, the paper's numbers marked where the runs are its setting.
    A panel's y range is fitted to where the curves settle; where that clips the early descent or a blown-up
    curve, a strip below shows the full range. Runs with a single evaluation each are drawn as points instead
    (``finals_figure``)."""
    runs = runs_of(groups)
    if all(len(r.metrics) <= 1 for r in runs):
        return finals_figure(groups, task)
    per_optimizer = Counter(s.optimizer for s in groups)
    if len(per_optimizer) > 1 and max(per_optimizer.values()) > len(LINESTYLES):
        return optimizer_panels_figure(groups, task)
    style = styles(groups)
    colour = paper_colours(groups, style)
    comparable = all(comparable_with_paper(r) for r in runs)
    panels = []
    for measure in task.curves:
        curves = [c for s in groups if (c := setting_curve(s, measure, task.x_key)) is not None]
        paper: dict[str, tuple[float, float]] = {}
        if comparable and measure == task.headline and curves:
            x_end = max(c.xs[-1] for c in curves)
            marked = [o for o in dict.fromkeys(c.setting.optimizer for c in curves) if o in task.paper]
            # Side by side just after the curves' end, so that close numbers (106, 108) stay apart.
            paper = {o: (x_end * (1.015 + 0.02 * k), task.paper[o]) for k, o in enumerate(marked)}
        limits = fitted_range(curves, measure, [y for _, y in paper.values()]) if curves else None
        panels.append((measure, curves, paper, limits))
    clipped = any(limits for *_, limits in panels)
    width = 5.6 * len(panels) + 0.6
    fig, axes = plt.subplots(
        2 if clipped else 1,
        len(panels),
        figsize=(width, 7.4 if clipped else 5.4),
        squeeze=False,
        layout="constrained",
        sharex="col",
        height_ratios=[3, 1.2] if clipped else None,
    )
    for column, (measure, curves, paper, limits) in enumerate(panels):
        ax = axes[0][column]
        _draw_curves(ax, curves, style, bands=True)
        for optimizer, (x, y) in paper.items():
            ax.scatter([x], [y], color=colour[optimizer], **PAPER_MARKER)
        ax.set_title(f"{measure.label}: where the curves settle (full range below)" if limits else measure.label)
        ax.set_ylabel(measure.label)
        ax.grid(True, alpha=0.3)
        if limits:
            ax.set_ylim(*limits)
            overview = axes[1][column]
            _draw_curves(overview, curves, style, bands=False)
            overview.axhspan(*limits, color="grey", alpha=0.15, linewidth=0)
            if measure.log_scale:
                overview.set_yscale("log")
            overview.set_ylabel(f"full range{' (log)' if measure.log_scale else ''}", fontsize="small")
            # Where the curves end up is the top for perplexity's descent, the bottom for F1's rise: write beside it.
            overview.text(
                0.99,
                0.93 if measure.lower_is_better else 0.07,
                "grey: the range above",
                transform=overview.transAxes,
                ha="right",
                va="top" if measure.lower_is_better else "bottom",
                fontsize="x-small",
            )
            overview.grid(True, which="major", alpha=0.3)
        elif clipped:
            axes[1][column].set_axis_off()
        axes[-1][column].set_xlabel(task.x_label)
        if clipped and not limits:
            ax.set_xlabel(task.x_label)
    handles, labels = axes[0][0].get_legend_handles_labels()
    if comparable and any(paper for _, _, paper, _ in panels):
        handles, labels = [*handles, _paper_handle(task)], [*labels, task.paper_label]
    ncols = _fit_legend(fig, labels, 2 if len(labels) <= 8 else 3)
    points_only = all(len(c.xs) == 1 for _, curves, _, _ in panels for c in curves)
    note = _seeds_note(groups, task.headline.log_scale, points_only)
    fig.legend(
        handles,
        labels,
        loc="outside lower center",
        ncols=ncols,
        title=note or None,
        fontsize="small",
        title_fontsize="small",
    )
    fig.suptitle(figure_title(runs, task))
    return fig


def _seeds_note(drawn: list[Setting], log_scale: bool, points_only: bool = False) -> str:
    """What a figure's lines and bands are (its points, where every curve is one evaluation: no line, no band),
    where some drawn setting has several seeds; "" where none has."""
    if not any(len(s.runs) > 1 for s in drawn):
        return ""
    centre = "geometric mean" if log_scale else "mean"
    return f"points: {centre} over seeds" if points_only else f"lines: {centre} over seeds; bands: min to max"


def optimizer_panels_figure(groups: list[Setting], task: TaskDescription) -> Figure:
    """The curves of ``grouped_curves_figure`` with a panel per optimizer and measure, for folders with more
    settings per optimizer than there are line styles (the small-corpus studies): in one panel a colour per
    setting, and the panels of a measure share their y range so that optimizers compare across them."""
    runs = runs_of(groups)
    optimizers = list(dict.fromkeys(s.optimizer for s in groups))
    comparable = all(comparable_with_paper(r) for r in runs)
    several_measures = len(task.curves) > 1
    cells = [(measure, optimizer) for measure in task.curves for optimizer in optimizers]
    ncols = 2
    nrows = math.ceil(len(cells) / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(6.4 * ncols, 5.2 * nrows), squeeze=False, layout="constrained")
    first_of: dict[str, Axes] = {}
    for ax, (measure, optimizer) in zip(axes.flat, cells):
        own = [s for s in groups if s.optimizer == optimizer]
        # One optimizer's runs: styles gives each setting its own colour; the panel's title names the optimizer.
        style = styles(own)
        for setting in own:
            style[id(setting)]["label"] = legend_label(setting, optimizer_shown=False)
        curves = [c for s in own if (c := setting_curve(s, measure, task.x_key)) is not None]
        _draw_curves(ax, curves, style, bands=True)
        if measure.key in first_of:
            ax.sharey(first_of[measure.key])
        first_of.setdefault(measure.key, ax)
        if measure.log_scale:
            ax.set_yscale("log")
        if comparable and measure == task.headline and optimizer in task.paper and curves:
            x_end = max(c.xs[-1] for c in curves)
            ax.scatter([x_end * 1.015], [task.paper[optimizer]], color="lightgrey", **PAPER_MARKER)
        ax.set_title(optimizer_name(optimizer) + (f": {measure.label}" if several_measures else ""))
        ax.set_ylabel(measure.label)
        ax.set_xlabel(task.x_label)
        ax.grid(True, alpha=0.3)
        handles, labels = ax.get_legend_handles_labels()
        if comparable and measure == task.headline and optimizer in task.paper:
            handles, labels = [*handles, _paper_handle(task)], [*labels, task.paper_label]
        ax.legend(handles, labels, loc="upper center", bbox_to_anchor=(0.5, -0.14), ncols=1, fontsize="small")
    for ax in axes.flat[len(cells) :]:
        ax.set_axis_off()
    note = _seeds_note(groups, task.headline.log_scale)
    fig.suptitle(figure_title(runs, task) + (f"\n{note}" if note else ""))
    return fig


def _fit_legend(fig: Figure, labels: list[str], ncols: int) -> int:
    """Columns for a figure legend of ``labels``: at most ``ncols`` and at least two (one for a short list);
    the figure widens to hold them, and grows taller by the rows beyond four, so that no entry is cut."""
    column_inches = 0.065 * max(map(len, labels), default=0) + 0.8  # "small" text, plus the line sample
    width, height = fig.get_size_inches()
    ncols = max(min(ncols, len(labels), 2), min(ncols, int(width // column_inches)))
    rows = math.ceil(len(labels) / ncols)
    fig.set_size_inches(max(width, ncols * column_inches), height + 0.2 * max(0, rows - 4))
    return ncols


def finals_figure(groups: list[Setting], task: TaskDescription) -> Figure:
    """The runs of ``groups`` with one evaluation each (the small studies): each seed's final value a point,
    each setting's centre a bar across its points and its min-max a vertical line."""
    measure = task.headline
    runs = runs_of(groups)
    style = styles(groups)
    comparable = all(comparable_with_paper(r) for r in runs)
    fig, ax = plt.subplots(figsize=(max(6.5, 0.5 * len(groups) + 3.5), 5.4), layout="constrained")
    for i, setting in enumerate(groups):
        colour = style[id(setting)]["color"]
        values = [v for r in setting.runs if math.isfinite(v := r.summary.final.get(measure.key, math.nan))]
        offsets = [0.0] if len(values) == 1 else [0.3 * (k / (len(values) - 1) - 0.5) for k in range(len(values))]
        ax.scatter([i + o for o in offsets], values, color=colour, s=16, alpha=0.85, zorder=3)
        if len(values) > 1:
            s = spread(values, measure.log_scale)
            ax.vlines(i, s.minimum, s.maximum, color=colour, linewidth=1.2)
            ax.hlines(s.centre, i - 0.3, i + 0.3, color=colour, linewidth=2.5)
        if comparable and setting.optimizer in task.paper:
            ax.scatter([i], [task.paper[setting.optimizer]], color=colour, **PAPER_MARKER)
    names = [s.name for s in groups]
    long_names = len(groups) > 4 or max(len(n) for n in names) > 14
    ax.set_xticks(range(len(groups)), names, rotation=40 if long_names else 0, ha="right" if long_names else "center")
    ax.set_xlim(-0.6, len(groups) - 0.4)
    if measure.log_scale:
        ax.set_yscale("log")
    ax.set_ylabel(f"final {measure.label}")
    ax.grid(True, axis="y", which="both", alpha=0.3)
    centre = "geometric mean" if measure.log_scale else "mean"
    handles = [
        Line2D([], [], marker="o", color="grey", linestyle="none", markersize=5, label="one seed"),
        Line2D([], [], color="grey", linewidth=2.5, label=f"{centre} over seeds"),
        Line2D([], [], color="grey", linewidth=1.2, label="min to max"),
    ]
    if comparable and any(s.optimizer in task.paper for s in groups):
        handles.append(_paper_handle(task))
    ax.legend(handles=handles, fontsize="small")
    ax.set_title(f"one evaluation per run: final {measure.label} of each seed", fontsize="medium")
    fig.suptitle(figure_title(runs, task))
    return fig


def sweep_figure(
    runs: list[Run],
    task: TaskDescription,
    x_of: Callable[[dict[str, Any]], float],
    is_table1: Callable[[dict[str, Any]], bool],
    xlabel: str,
    what: str,
) -> Figure:
    """The final headline against a swept value (x of the flat config), per optimizer: the geometric mean
    (mean for F1) over seeds with bars from min to max; Table 1's own value of the swept quantity ringed."""
    measure = task.headline
    fig, ax = plt.subplots(figsize=(7, 5), layout="constrained")
    seeds = set()
    optimizers = optimizers_of(runs)
    for optimizer in optimizers:
        by_x: dict[float, list[float]] = {}
        table1: set[float] = set()
        for run in (r for r in runs if r.optimizer == optimizer):
            config, value = flat_config(run), final_value(run, measure.key)
            if value is not None and math.isfinite(value):
                by_x.setdefault(x_of(config), []).append(value)
                seeds.add(run.summary.seed)
            if is_table1(config):
                table1.add(x_of(config))
        xs = sorted(by_x)
        if not xs:
            continue
        stats = [spread(by_x[x], measure.log_scale) for x in xs]
        colour = optimizer_colour(optimizer, optimizers)
        ax.errorbar(
            xs,
            [s.centre for s in stats],
            color=colour,
            marker="o",
            capsize=3,
            label=optimizer_name(optimizer),
            yerr=[[s.centre - s.minimum for s in stats], [s.maximum - s.centre for s in stats]],
        )
        marked = [x for x in xs if x in table1]
        ax.scatter(marked, [stats[xs.index(x)].centre for x in marked], s=170, facecolors="none", edgecolors=colour)
    ax.set_xscale("log")
    if measure.log_scale:
        ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(f"final {measure.label}")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize="small")
    setting = "" if all(comparable_with_paper(r) for r in runs) else " (not the paper's setting)"
    centre = "geometric mean" if measure.log_scale else "mean"
    ax.set_title(
        f"{what}, {task.title}{setting}\npoints: {centre} over {len(seeds)} seeds; bars: min to max; "
        "rings: Table 1's value",
        fontsize="medium",
    )
    return fig


@dataclass
class Series:
    """One setting's final values at each x, over its seeds (finite ones only)."""

    label: str
    optimizer: str
    linestyle: str
    values: dict[float, list[float]]


def series_figure(series: list[Series], measure: Measure, ticks: dict[float, str], xlabel: str, title: str) -> Figure:
    """Each series' ``measure`` against x: a line through its centre over seeds (the geometric mean on a log scale)
    in a band from min to max where an x has several seeds, in its optimizer's colour; log x ticked at ``ticks``,
    and log y for a log-scale measure. A series without runs at a tick has a gap there: a line drawn across it
    would show a value nothing measured."""
    fig, ax = plt.subplots(figsize=(10, 5.4), layout="constrained")
    optimizers = list(dict.fromkeys(s.optimizer for s in series))
    xs = sorted({*ticks, *(x for s in series for x, values in s.values.items() if values)})
    for s in series:
        spreads = {x: spread(values, measure.log_scale) for x, values in s.values.items() if values}
        if not spreads:
            continue
        # NaN where a tick has no runs: matplotlib breaks the line and the band there.
        at = [spreads.get(x) for x in xs]
        colour = optimizer_colour(s.optimizer, optimizers)
        centres = [p.centre if p else math.nan for p in at]
        ax.plot(xs, centres, color=colour, linestyle=s.linestyle, marker="o", label=s.label)
        if any(p.n > 1 for p in spreads.values()):
            lows = [p.minimum if p else math.nan for p in at]
            highs = [p.maximum if p else math.nan for p in at]
            ax.fill_between(xs, lows, highs, color=colour, alpha=0.18, linewidth=0)
    ax.set_xscale("log")
    ax.set_xticks(list(ticks), list(ticks.values()))
    ax.xaxis.set_minor_locator(NullLocator())
    if measure.log_scale:
        ax.set_yscale("log")
    ax.set_xlabel(f"{xlabel} (log scale)")
    ax.set_ylabel(f"final {measure.label}{' (log scale)' if measure.log_scale else ''}")
    ax.grid(True, which="both", alpha=0.3)
    # Beside the axes: inside, a long label covers a setting's outlier, wherever "best" puts it.
    ax.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1), borderaxespad=0)
    ax.set_title(title, fontsize="medium")
    return fig


def save_figure(fig: Figure, path: Path) -> None:
    fig.savefig(path, dpi=120)
    plt.close(fig)


def readings_figure(runs: list[Run], task: TaskDescription) -> Figure:
    """``grouped_readings_figure`` of ``runs``, grouped into their settings here."""
    return grouped_readings_figure(settings(runs), task)


def grouped_readings_figure(groups: list[Setting], task: TaskDescription) -> Figure:
    """The headline curves of ``groups`` under each reading of the paper's setting (the verdict's: as written,
    and with the authors' accumulator start), side by side on one y range fitted to where the curves settle; a
    curve that ends above it is named with its final value, and the paper's numbers are marked at the right."""
    runs = runs_of(groups)
    style = styles(groups)
    measure = task.headline
    panels = []
    for reading in READINGS:
        found = reading_settings(groups, reading)
        curves = [c for o in OPTIMIZER_ORDER if o in found and (c := setting_curve(found[o], measure, task.x_key))]
        panels.append((reading.title, curves))
    every = [c for _, curves in panels for c in curves]
    x_end = max(c.xs[-1] for c in every)
    marked = [o for o in OPTIMIZER_ORDER if o in task.paper]
    paper = {o: (x_end * (1.015 + 0.02 * k), task.paper[o]) for k, o in enumerate(marked)}
    limits = fitted_range(every, measure, [y for _, y in paper.values()])
    fig, axes = plt.subplots(
        1, len(panels), figsize=(6.2 * len(panels), 6.6), sharey=True, squeeze=False, layout="constrained"
    )
    colour = paper_colours(groups, style)
    for ax, (title, curves) in zip(axes[0], panels):
        _draw_curves(ax, curves, style, bands=True)
        for optimizer, (x, y) in paper.items():
            if optimizer in colour:
                ax.scatter([x], [y], color=colour[optimizer], **PAPER_MARKER)
        if limits:
            ax.set_ylim(*limits)
            above = [c for c in curves if c.centre[-1] > limits[1]]
            for k, c in enumerate(above):
                ax.annotate(
                    f"{style[id(c.setting)]['label']}: above this range, ends at {measure.fmt(c.centre[-1])}",
                    xy=(0.98, 0.97 - 0.06 * k),
                    xycoords="axes fraction",
                    ha="right",
                    va="top",
                    fontsize="small",
                    color=style[id(c.setting)]["color"],
                )
        ax.set_title(title)
        ax.set_xlabel(task.x_label)
        ax.grid(True, alpha=0.3)
        handles, labels = ax.get_legend_handles_labels()
        ax.legend(
            [*handles, _paper_handle(task)],
            [*labels, task.paper_label],
            loc="upper center",
            bbox_to_anchor=(0.5, -0.12),
            ncols=1,
            fontsize="small",
        )
    axes[0][0].set_ylabel(measure.label)
    seeds = _seeds_note([c.setting for c in every], measure.log_scale)
    note = f"{seeds}; " if seeds else ""
    fig.suptitle(
        f"{figure_title(runs, task)}\n{note}y range: where the curves settle, from a fifth of training on",
        fontsize="medium",
    )
    return fig
