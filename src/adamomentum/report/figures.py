"""Figures: the paper's Figure 1 and Figure 2 redrawn, and a headline metric against a swept value."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import matplotlib

from adamomentum.report.measures import HEADLINE
from adamomentum.report.runs import Run, optimizers_of, order_runs
from adamomentum.report.settings import comparable_with_paper, flat_config, ner_corpora, settings
from adamomentum.report.statistics import final_value, mean_ci

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

LINESTYLES = ["-", "--", ":", "-.", (0, (3, 1, 1, 1, 1, 1))]


def plot_against(
    runs: list[Run], task: str, x_of: Any, is_table1: Any, xlabel: str, path: Path, log_x: bool
) -> None:
    """Mean headline metric (error bars: standard deviation over seeds) against a swept value, per optimizer.

    Points at Table 1's own value of the swept quantity (``is_table1`` of the flat config) are ringed.
    """
    key, label, _ = HEADLINE[task]
    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    for optimizer in optimizers_of(runs):
        by_x: dict[float, list[float]] = {}
        table1: set[float] = set()
        for run in (r for r in runs if r.optimizer == optimizer):
            config, value = flat_config(run), final_value(run, key)
            x = x_of(config)
            if value is not None and math.isfinite(value):
                by_x.setdefault(x, []).append(value)
            if is_table1(config):
                table1.add(x)
        xs = sorted(by_x)
        if not xs:
            continue
        stats = [mean_ci(by_x[x]) for x in xs]
        line = ax.errorbar(xs, [st[1] for st in stats], yerr=[0 if math.isnan(st[2]) else st[2] for st in stats],
                           marker="o", capsize=3, label=optimizer)
        marked = [x for x in xs if x in table1]
        ax.scatter(marked, [stats[xs.index(x)][1] for x in marked], s=160, facecolors="none",
                   edgecolors=line[0].get_color())
    if log_x:
        ax.set_xscale("log")
    if task == "ptb":
        ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(label)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def curve_styles(runs: list[Run]) -> dict[int, dict[str, Any]]:
    """Per run: a colour per optimizer, a line style per setting of it, and a legend label naming both.

    The label names the setting only where an optimizer has more than one (the decayed and the
    constant lr of SGD, say), so that a figure of Table 1 alone keeps the plain optimizer names.
    """
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    optimizers = optimizers_of(runs)
    groups = settings(runs)
    styles = {}
    for (optimizer, setting), members in groups.items():
        own = sorted(s for o, s in groups if o == optimizer)
        for run in members:
            status = run.summary["status"]
            label = optimizer if len(own) == 1 else f"{optimizer}, {setting}"
            styles[id(run)] = {
                "color": colours[optimizers.index(optimizer) % len(colours)],
                "linestyle": LINESTYLES[own.index(setting) % len(LINESTYLES)],
                "label": label + ("" if status == "completed" else f": {status}"),
            }
    return styles


def plot_ptb(runs: list[Run], path: Path) -> None:
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.8), sharey=True, layout="constrained")
    styles = curve_styles(runs)
    for split, ax in zip(("valid", "test"), axes):
        for run in order_runs(runs):
            points = [(m["step"], m[f"{split}_ppl"]) for m in run.metrics if math.isfinite(m[f"{split}_ppl"])]
            if points:
                ax.plot(*zip(*points), **styles[id(run)], marker="o" if len(points) == 1 else None)
        ax.set_title(f"{split} perplexity")
        ax.set_xlabel("training batches")
        ax.set_yscale("log")
        ax.grid(True, which="both", alpha=0.3)
    axes[0].set_ylabel("perplexity")
    handles, labels = legend_entries(axes[1])
    fig.legend(handles, labels, loc="outside lower center", ncols=2 if len(labels) <= 8 else 3)
    fig.suptitle(figure_title(runs, "ptb"))
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_ner(runs: list[Run], path: Path) -> None:
    fig, ax = plt.subplots(figsize=(6.5, 4))
    styles = curve_styles(runs)
    for run in order_runs(runs):
        points = [(m["epoch"], m["test_token_f1"]) for m in run.metrics]
        if points:
            ax.plot(*zip(*points), marker=".", **styles[id(run)])
    ax.set_xlabel("epoch")
    ax.set_ylabel("test token F1")
    ax.grid(True, alpha=0.3)
    ax.legend(*legend_entries(ax))
    ax.set_title(figure_title(runs, "ner"), fontsize="medium")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def legend_entries(ax: plt.Axes) -> tuple[list[Any], list[str]]:
    """One legend entry per label: the seeds of a setting share their label and style."""
    first: dict[str, Any] = {}
    for handle, label in zip(*ax.get_legend_handles_labels()):
        first.setdefault(label, handle)
    return list(first.values()), list(first)


def figure_title(runs: list[Run], task: str) -> str:
    """The title names the corpus and says whether the curves redraw the paper's figure: a PNG is often
    seen without results.md."""
    if task == "ptb":
        what, figure = "Penn Treebank, 2x256 LSTM", "Figure 1"
    else:
        what, figure = f"Chinese NER on {', '.join(ner_corpora(runs))}, 2-layer BiLSTM", "Figure 2"
    if all(comparable_with_paper(r) for r in runs):
        return f"{what}\n({figure} of the paper, redrawn)"
    return f"{what}\n(not the paper's setting: not comparable with its {figure})"
