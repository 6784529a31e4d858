"""Tables and figures from run directories: ``python -m adamomentum.report --out DIR RUNS...``.

Reads every ``summary.json`` (and the ``metrics.jsonl`` beside it) under the
given folders, writes ``results.md`` with the paper's numbers beside ours, the
paper's figure redrawn as PNG, and a copy of each run's summary and metrics
under ``runs/`` so that the report can be rebuilt from ``results/`` alone.

Modules, from the bottom up: ``paper`` (what the paper says: its setting, numbers, claims and
readings), ``markdown`` (how results.md writes numbers and tables), ``measures`` (each task's
metrics), ``runs`` (discovery), ``settings`` (which config values tell runs apart, and which runs
a reading of the paper takes), ``statistics`` (over seeds); then the siblings ``tables``,
``figures``, ``verdict`` and ``blowup``, which take the settings ``write`` groups once per task; ``campaign``
(issue 34's own measures: the same schedule, a question of the verdict table) with ``data_scale`` and
``lr_tuning`` (the abstract's claims, a section each); ``write`` (the results folder), ``headline`` (the
README's verdict) and ``cli``; beside them ``f1_by_epoch`` (NER runs' test token F1 after each epoch and their
logged training loss: results/ner-loss-scale/f1_by_epoch.md).
"""

from adamomentum.report.cli import main
from adamomentum.report.runs import Run, find_runs
from adamomentum.report.write import write_report

__all__ = ["Run", "find_runs", "main", "write_report"]
