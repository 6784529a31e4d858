"""Tables and figures from run directories: ``python -m adamomentum.report --out DIR RUNS...``.

Reads every ``summary.json`` (and the ``metrics.jsonl`` beside it) under the
given folders, writes ``results.md`` with the paper's numbers beside ours, the
paper's figure redrawn as PNG, and a copy of each run's summary and metrics
under ``runs/`` so that the report can be rebuilt from ``results/`` alone.

Modules, in the order the report uses them: ``runs`` (discovery), ``settings`` (which config
values tell runs apart), ``measures`` (each task's metrics and the paper's numbers),
``statistics`` (over seeds), ``tables``, ``figures``, ``write`` (the results folder) and ``cli``.
"""

from adamomentum.report.cli import main
from adamomentum.report.runs import Run, find_runs
from adamomentum.report.write import write_report

__all__ = ["Run", "find_runs", "main", "write_report"]
