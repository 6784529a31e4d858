"""A results folder: results.md, the figures, and a copy of each run's summary and metrics under runs/, from
which the folder rebuilds itself (``python -m adamomentum.report --out DIR DIR``)."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from matplotlib.figure import Figure

from adamomentum.report.bf16 import bf16_section
from adamomentum.report.blowup import blowup_section
from adamomentum.report.campaign import FRACTION, LR_FACTOR, same_schedule
from adamomentum.report.data_scale import FIGURE as DATA_SCALE_FIGURE
from adamomentum.report.data_scale import data_scale_section
from adamomentum.report.figures import grouped_curves_figure, grouped_readings_figure, save_figure, sweep_figure
from adamomentum.report.lr_tuning import FIGURE as LR_TUNING_FIGURE
from adamomentum.report.lr_tuning import lr_tuning_section
from adamomentum.report.measures import TASKS, TaskDescription
from adamomentum.report.runs import Run
from adamomentum.report.settings import (
    ENVIRONMENT_KEYS,
    Setting,
    comparable_with_paper,
    flat_config,
    in_paper_setting,
    runs_of,
    settings,
)
from adamomentum.report.statistics import grid_words, select_best_valid
from adamomentum.report.tables import comparison_table, provenance, runs_table, seed_table, within_paper
from adamomentum.report.verdict import verdict_section
from adamomentum.summary import METRICS, SUMMARY, TRAIN_LOG, RunSummary

NOT_COMPARABLE = (
    "Runs at `study.scale=small`, on a share of the training data, with a batch limit, or (NER) on another corpus "
    "than OntoNotes are not comparable with the paper: its numbers are left out beside them."
)
# Swept quantities that get a figure of the headline against them: the config key whose values vary,
# the x value of a flat config, the axis label, the figure's title and file stem.
SWEEPS: list[tuple[str, Callable[[dict[str, Any]], float], str, str, str]] = [
    (
        "study.lr_factor",
        lambda c: c["optimizer.lr"] * c.get("study.lr_factor", 1.0),
        "learning rate (log scale)",
        "Learning-rate sensitivity",
        "lr_sensitivity",
    ),
    (
        "data.train_fraction",
        lambda c: c.get("data.train_fraction", 1.0),
        "fraction of the training set (log scale)",
        "Data scale",
        "data_scale",
    ),
]
SWEEP_DEFAULTS = {"study.lr_factor": 1.0, "data.train_fraction": 1.0}


FIGURE_LEAVES_OUT = (
    "{figure} draws the settings at the paper's scale, at Table 1's lr and in float32; the others are in the "
    "tables, and the campaign's (on a share of the training text, at other lrs, in bf16) in their own sections "
    "below."
)


def figure_settings(groups: list[Setting]) -> list[Setting]:
    """The settings a task's figures draw: those in the paper's setting (``in_paper_setting``) where a folder has
    some, so that the campaign's runs on a share of the text, at other lrs or in bf16 (each with a section of
    its own) do not bury the paper's curves; all of them in a folder of studies away from the paper. Grouped
    anew, so that a legend names only what varies among the runs drawn ("SGD", not "SGD, lr x 1, 100% of the
    training set") and a title calls them the paper's figure where they all are in its setting."""
    return settings(runs_of([s for s in groups if all(in_paper_setting(r) for r in s.runs)] or groups))


def _at_default(key: str, config: dict[str, Any]) -> bool:
    """Whether a run's flat config has ``key`` at its default: the runs a sweep figure draws as the reference."""
    return bool(config.get(key, SWEEP_DEFAULTS[key]) == SWEEP_DEFAULTS[key])


# The sections of the campaign of issue 34 on the abstract's claims, each with its figure: the swept key that
# replaces a generic sweep figure where a section is shown.
CAMPAIGN_SECTIONS = [(FRACTION, data_scale_section), (LR_FACTOR, lr_tuning_section)]


def copy_destination(run: Run, out: Path) -> Path:
    """Where ``run``'s copy goes: its path below the folder it was found in, less the ``runs/`` of a results
    folder it was found in (rebuilding results/X from results/X must not nest runs/runs/). A run passed on
    its own keeps its path below the Hydra sweep it belongs to (the folder holding multirun.yaml), so that
    it sits where the sweep's other runs would: ``adamomentum/seed=0/<overrides>``."""
    if run.path == run.root:
        sweep = next((p for p in run.path.parents if (p / "multirun.yaml").exists()), None)
        return out / "runs" / (run.path.relative_to(sweep) if sweep else Path(run.path.name))
    parts = run.path.relative_to(run.root).parts
    kept = [
        part
        for i, part in enumerate(parts)
        if not (part == "runs" and (run.root.joinpath(*parts[:i]) / "results.md").exists())
    ]
    return out / "runs" / Path(*kept)


def same_run(a: Run, b: Run) -> bool:
    """Whether two run directories hold one run (a copy and its source): the same task, optimizer, seed and
    config, bar where and how it ran (``ENVIRONMENT_KEYS``)."""

    def identity(run: Run) -> tuple[Any, ...]:
        config = {k: v for k, v in flat_config(run).items() if k not in ENVIRONMENT_KEYS}
        return run.task, run.optimizer, run.summary.seed, sorted(config.items(), key=str)

    return identity(a) == identity(b)


def _occupant(path: Path, runs: dict[Path, Run]) -> Run | None:
    """The run a copy's destination already holds: one of the runs given, or a copy on disk."""
    if path in runs:
        return runs[path]
    if (path / SUMMARY).exists():
        return Run(path, RunSummary.read(path), [], path)
    return None


def destinations(runs: list[Run], out: Path) -> dict[int, Path]:
    """Where each run's copy goes, by ``id``: ``copy_destination``, or, where that already holds another run,
    the same path below the name of the folder the run was found in. A sweep names its runs by their own
    overrides only, so the bf16 sweep's ``sgd/seed=0`` would land on the verdict's float32 ``sgd/seed=0``;
    it goes to ``ptb_bf16-full/sgd/seed=0`` instead, and there again whenever it is added anew."""
    given = {r.path.resolve(): r for r in runs}
    found: dict[int, Path] = {}
    for run in runs:
        dest = copy_destination(run, out)
        occupant = _occupant(dest.resolve(), given)
        if occupant is not None and occupant is not run and not same_run(occupant, run):
            dest = out / "runs" / run.root.name / dest.relative_to(out / "runs")
            occupant = _occupant(dest.resolve(), given)
            if occupant is not None and occupant is not run and not same_run(occupant, run):
                raise SystemExit(
                    f"error: {run.path} and the run copied to {dest} are different runs with the same path; "
                    "pass the run's sweep from a folder of another name."
                )
        found[id(run)] = dest.resolve()
    return found


def without_stale_copies(runs: list[Run], out: Path) -> list[Run]:
    """``runs`` less the copies in ``out`` that another run given updates: a folder rebuilt from itself and a
    queue's outputs (``--out results/x results/x outputs/...``) holds each run once, its copy refreshed."""
    found = destinations(runs, out)
    fresh = {found[id(r)] for r in runs if found[id(r)] != r.path.resolve()}
    return [r for r in runs if r.path.resolve() not in fresh]


def copy_runs(runs: list[Run], out: Path) -> None:
    found = destinations(runs, out)
    for run in runs:
        dest = found[id(run)]
        if dest == run.path.resolve():
            continue
        dest.mkdir(parents=True, exist_ok=True)
        for name in (SUMMARY, METRICS, TRAIN_LOG):
            if (run.path / name).exists():
                shutil.copyfile(run.path / name, dest / name)


def over_seeds(groups: list[Setting], task: TaskDescription, figures: dict[str, Callable[[], Figure]]) -> list[str]:
    """A task's statistics over seeds, AdaMomentum against each baseline, and the verdict (with this repository's
    question of the same schedule, where its runs are there) with its figure and the blow-ups."""
    lines = [f"## Over seeds: {task.title}", seed_table(groups, task), ""]
    for part in (comparison_table(groups, task), "\n".join(within_paper(groups, task))):
        lines += [part, ""] if part else []
    question = same_schedule(groups, task)
    verdict = verdict_section(groups, task, [question] if question else [])
    if verdict:
        name = f"verdict_{task.name}.png"
        lines += [*verdict, f"![{task.figure} under both readings]({name})", "", *blowup_section(groups, task)]
        figures[name] = partial(grouped_readings_figure, figure_settings(groups), task)
    return lines


def sweeps(
    runs: list[Run], task: TaskDescription, figures: dict[str, Callable[[], Figure]], shown: set[str]
) -> list[str]:
    """The figure of the headline against each swept key whose values vary, except the keys in ``shown``: those
    whose campaign section (with its own figure) is shown."""
    lines = []
    configs = [flat_config(r) for r in runs]
    for key, x_of, xlabel, what, stem in SWEEPS:
        if key not in shown and len({c.get(key, SWEEP_DEFAULTS[key]) for c in configs}) > 1:
            name = f"{stem}_{task.name}.png"
            figures[name] = partial(
                sweep_figure,
                runs,
                task,
                x_of,
                partial(_at_default, key),
                xlabel,
                what,
            )
            lines += [f"![{what}]({name})", ""]
    return lines


def plan(runs: list[Run]) -> tuple[list[str], dict[str, Callable[[], Figure]]]:
    """The lines of results.md and, by file name, the figures it shows."""
    lines = ["# Results", ""]
    figures: dict[str, Callable[[], Figure]] = {}
    if not all(comparable_with_paper(r) for r in runs):
        lines += [NOT_COMPARABLE, ""]
    by_task = {name: [r for r in runs if r.task == name] for name in TASKS}
    # Each task's runs grouped into settings once: every table, figure and verdict below takes these groups.
    groups_by_task = {name: settings(task_runs) for name, task_runs in by_task.items()}
    for task in TASKS.values():
        if by_task[task.name]:
            steps = select_best_valid(by_task[task.name], task.selection)
            lines += [
                f"## {task.heading}",
                f"Best validation: selected on {task.selection.label} among "
                f"{grid_words(by_task[task.name], steps)}; test is never used to select.",
                "",
                runs_table(groups_by_task[task.name], task),
                "",
            ]
            paper = figure_settings(groups_by_task[task.name])
            if len(paper) < len(groups_by_task[task.name]):
                lines += [FIGURE_LEAVES_OUT.format(figure=task.figure), ""]
            lines += [f"![{task.figure}]({task.figure_file})", ""]
            figures[task.figure_file] = partial(grouped_curves_figure, paper, task)
    for task in TASKS.values():
        groups = groups_by_task[task.name]
        campaign = {key: section(groups, task) for key, section in CAMPAIGN_SECTIONS}
        if any(len(s.runs) > 1 for s in groups):
            lines += over_seeds(groups, task, figures)
            lines += sweeps(by_task[task.name], task, figures, {key for key, (shown, _) in campaign.items() if shown})
        for shown, drawn in campaign.values():
            lines += shown
            figures.update(drawn)
        lines += bf16_section(groups, task)
    # One table of every run, both tasks grouped together: its labels say what varies across all of them.
    lines += ["## Provenance", provenance(settings(runs)), ""]
    return lines, figures


def report_figure_names() -> set[str]:
    """Every figure file a report can write; another PNG in its folder (a script's) is not the report's."""
    stems = [*(s[-1] for s in SWEEPS), DATA_SCALE_FIGURE, LR_TUNING_FIGURE]
    return {
        name
        for task in TASKS.values()
        for name in (task.figure_file, f"verdict_{task.name}.png", *(f"{s}_{task.name}.png" for s in stems))
    }


def report_markdown(runs: list[Run]) -> str:
    """results.md for ``runs``, without drawing the figures."""
    return "\n".join(plan(runs)[0])


def write_report(runs: list[Run], out: Path, task: str | None = None) -> Path:
    """Write results.md, the figures and the copies of ``runs`` (of ``task`` only, if given) into ``out``."""
    if task is not None:
        runs = [r for r in runs if r.task == task]
    if not runs:
        raise SystemExit(f"error: no run directories with a summary.json{' for task ' + task if task else ''} found.")
    out.mkdir(parents=True, exist_ok=True)
    runs = without_stale_copies(runs, out)
    copy_runs(runs, out)
    lines, figures = plan(runs)
    for name, draw in figures.items():
        save_figure(draw(), out / name)
    # A figure an earlier build drew and this one does not (a verdict the runs no longer support) would
    # outlive the results.md that showed it.
    for name in report_figure_names() - set(figures):
        (out / name).unlink(missing_ok=True)
    report = out / "results.md"
    report.write_text("\n".join(lines), encoding="utf-8")
    return report
