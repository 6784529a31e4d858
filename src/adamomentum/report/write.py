"""A results folder: results.md, the figures, and a copy of each run's summary and metrics under runs/."""

from __future__ import annotations

import shutil
from pathlib import Path

from adamomentum.report.figures import plot_against, plot_ner, plot_ptb
from adamomentum.report.runs import Run
from adamomentum.report.settings import comparable_with_paper, flat_config, settings
from adamomentum.report.tables import ner_table, provenance, ptb_table, seed_statistics


def copy_runs(runs: list[Run], out: Path) -> None:
    for run in runs:
        relative = run.path.relative_to(run.root) if run.path != run.root else Path(run.path.name)
        dest = out / "runs" / relative
        if dest.resolve() == run.path.resolve():
            continue
        dest.mkdir(parents=True, exist_ok=True)
        for name in ("summary.json", "metrics.jsonl"):
            if (run.path / name).exists():
                shutil.copyfile(run.path / name, dest / name)


def write_report(runs: list[Run], out: Path, task: str | None = None) -> Path:
    if task is not None:
        runs = [r for r in runs if r.task == task]
    if not runs:
        raise SystemExit(f"error: no run directories with a summary.json{' for task ' + task if task else ''} found.")
    out.mkdir(parents=True, exist_ok=True)
    copy_runs(runs, out)
    sections = []
    if not all(comparable_with_paper(r) for r in runs):
        sections += ["Runs at `study.scale=small`, on a share of the training data, with a batch limit, or (NER) on "
                     "another corpus than OntoNotes are not comparable with the paper: its numbers are left out "
                     "beside them.", ""]
    ptb = [r for r in runs if r.task == "ptb"]
    ner = [r for r in runs if r.task == "ner"]
    if ptb:
        plot_ptb(ptb, out / "figure1_ptb.png")
        sections += ["## Penn Treebank (Table 1)", ptb_table(ptb), "", "![Figure 1](figure1_ptb.png)", ""]
    if ner:
        plot_ner(ner, out / "figure2_ner.png")
        sections += ["## Chinese NER (Figure 2)", ner_table(ner), "", "![Figure 2](figure2_ner.png)", ""]
    for name, task_runs in (("Penn Treebank", ptb), ("Chinese NER", ner)):
        if not any(len(members) > 1 for members in settings(task_runs).values()):
            continue
        task = task_runs[0].task
        sections += [f"## Over seeds: {name}", seed_statistics(task_runs, task), ""]
        configs = [flat_config(r) for r in task_runs]
        if len({c.get("study.lr_factor", 1.0) for c in configs}) > 1:
            plot_against(task_runs, task, lambda c: c["optimizer.lr"] * c.get("study.lr_factor", 1.0),
                         lambda c: c.get("study.lr_factor", 1.0) == 1.0, "learning rate (log)",
                         out / f"lr_sensitivity_{task}.png", log_x=True)
            sections += [f"![Learning-rate sensitivity](lr_sensitivity_{task}.png)", ""]
        if len({c.get("task.train_fraction", 1.0) for c in configs}) > 1:
            plot_against(task_runs, task, lambda c: c.get("task.train_fraction", 1.0),
                         lambda c: c.get("task.train_fraction", 1.0) == 1.0, "fraction of the training set",
                         out / f"data_scale_{task}.png", log_x=True)
            sections += [f"![Data scale](data_scale_{task}.png)", ""]
    sections += ["## Provenance", provenance(runs), ""]
    report = out / "results.md"
    report.write_text("\n".join(["# Results", "", *sections]), encoding="utf-8")
    return report
