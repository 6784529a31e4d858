"""Blow-up, counted per run from its own records: does the training loss rise above a uniform guess early on?

A run *blows up* when the mean training loss per token of some log window (``trainer.log_interval`` batches, 100
by default, as ``train.log`` records it) within the first ``EARLY_BATCHES`` batches is above the loss of
a uniform guess over the task's output classes (ln |V|): it then predicts worse than knowing nothing.
"""

from __future__ import annotations

import math
import re

from adamomentum.report.markdown import markdown_table
from adamomentum.report.measures import TaskDescription
from adamomentum.report.paper import optimizer_name
from adamomentum.report.runs import Run
from adamomentum.report.settings import Setting
from adamomentum.summary import TRAIN_LOG

EARLY_BATCHES = 1000
# The trainer's window line: "epoch 1 step 100/30199: loss 15.2941, 3308 tokens/s, ..."
WINDOW_LINE = re.compile(r"step (\d+)/\d+: loss (\S+),")


def loss_windows(run: Run) -> dict[int, float] | None:
    """The mean training loss per token of each log window, by the step that ends it, from the run's
    train.log (a resumed run logs some windows twice, bit for bit alike: the first is kept); None where
    the run has no train.log."""
    path = run.path / TRAIN_LOG
    if not path.exists():
        return None
    windows: dict[int, float] = {}
    for match in WINDOW_LINE.finditer(path.read_text(encoding="utf-8", errors="replace")):
        windows.setdefault(int(match[1]), float(match[2]))
    return windows


def early_peak(run: Run) -> tuple[int, float] | None:
    """The window of highest training loss within the first ``EARLY_BATCHES`` batches: (its last batch, its
    loss); None where the run has no such record."""
    windows = loss_windows(run)
    early = [(step, loss) for step, loss in (windows or {}).items() if step <= EARLY_BATCHES]
    if not early:
        return None
    return max(early, key=lambda window: -math.inf if math.isnan(window[1]) else window[1])


def blew_up(run: Run, task: TaskDescription) -> bool | None:
    """Whether the run blew up (see the module's doc); None where its train.log is missing."""
    peak = early_peak(run)
    return None if peak is None else not peak[1] <= task.uniform_loss


def blowup_counts(setting: Setting, task: TaskDescription) -> tuple[int, int]:
    """Seeds that blew up, and seeds with a record to tell."""
    told = [b for r in setting.runs if (b := blew_up(r, task)) is not None]
    return sum(told), len(told)


def blowup_section(groups: list[Setting], task: TaskDescription) -> list[str]:
    """results.md's per-seed table of blow-ups, with each setting's count; nothing where no run has a
    train.log."""
    rows, counts = [], []
    for setting in groups:
        for run in setting.runs:
            peak = early_peak(run)
            if peak is not None:
                rows.append(
                    [
                        optimizer_name(setting.optimizer),
                        setting.label,
                        str(run.summary.seed),
                        f"{peak[1]:.2f} (batches {max(1, peak[0] - 99)}-{peak[0]})",
                        "yes" if blew_up(run, task) else "no",
                    ]
                )
        blown, told = blowup_counts(setting, task)
        if told:
            counts.append(f"{setting.name}: {blown} of {told} seeds")
    if not rows:
        return []
    return [
        f"## Blow-up in the first {EARLY_BATCHES:,} batches: {task.title}",
        f"A run blows up when the mean training loss per token of a log window (from its train.log) within its "
        f"first {EARLY_BATCHES:,} batches rises above {task.uniform_words}. Blew up: {'; '.join(counts)}.",
        "",
        markdown_table(["optimizer", "setting", "seed", "highest window loss (nats per token)", "blew up"], rows),
        "",
    ]
