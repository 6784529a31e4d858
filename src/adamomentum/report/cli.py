"""``python -m adamomentum.report --out DIR RUNS...``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from adamomentum.report import __doc__ as package_doc
from adamomentum.report.runs import find_runs
from adamomentum.report.write import write_report
from adamomentum.summary import SUMMARY


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m adamomentum.report",
        description=package_doc,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("runs", nargs="+", type=Path, help="run directories, or folders holding them")
    parser.add_argument("--out", type=Path, required=True, help="where results.md and the figures go")
    parser.add_argument("--task", choices=["ptb", "ner"], help="only runs of this task")
    parser.add_argument(
        "--finished",
        action="store_true",
        help="only runs that wrote their summary.json (completed or diverged): a folder to commit, "
        "which must rebuild from its copies, leaves runs still training out",
    )
    args = parser.parse_args(argv)
    runs = find_runs(args.runs)
    if args.finished:
        runs = [r for r in runs if (r.path / SUMMARY).exists()]
    report = write_report(runs, args.out, args.task)
    print(f"wrote {report}", file=sys.stderr)
