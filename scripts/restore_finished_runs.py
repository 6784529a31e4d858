"""Put a results folder's committed runs back into the sweep folders of a queue, so that a relaunch on a new
machine skips them instead of training them again.

    .venv/bin/python scripts/restore_finished_runs.py results/ptb-verdict/runs --into /work/queue
    make campaign ...            # in /work/queue: "already finished" for every restored run

A queue (``make campaign``, ``make study``) skips a run whose directory under its sweep folder
(``outputs/study/<experiment>-<scale>``) holds a finished ``summary.json``; those directories live outside git
and are lost with the machine, while the report keeps a copy of each run under ``results/<folder>/runs``, at
the path its sweep gave it (below the sweep folder's name where that path was another run's already:
``runs/ptb_bf16-full/sgd/seed=0``).

Each copy is matched to a job of the queue's own checkout (``--into``): the experiment named in its
``summary.json`` (``experiment=...`` in its command), then the entry of that experiment's run list with the same
optimizer, seed and overrides (with those of its command line), a key that moved since
(``task.train_fraction`` -> ``data.train_fraction``, ``config.MOVED_KEYS``) counting as its new name. It goes
to that job's directory, named as the queue's version names it. A run trained with ``hydra.sweep.dir=`` on its
command line goes back there, under its own path, and so does a run whose command gave it a run list
(``hydra.sweeper.runs=``) that the config's does not hold. ``summary.json``, ``metrics.jsonl`` and
``train.log`` are copied; the relaunch then checks each restored config against the run it would train
(``check_resumable``) and stops on a mismatch. A job directory that holds a ``summary.json`` already is left
alone, and so is one in flight (a checkpoint or a log, no summary), unless ``--replace-unfinished`` lets the
committed copy stand for it. Every run not restored is named, with the reason.
"""

from __future__ import annotations

import argparse
import re
import shutil
import sys
from pathlib import Path

from adamomentum.summary import METRICS, SUMMARY, RunSummary
from adamomentum.sweeps import RUN_LIST, Queue, job_of_path

FILES = (SUMMARY, METRICS, "train.log")
EXPERIMENT = re.compile(r"(?:^|\s)\+?experiment=(\S+)")


def target_of(
    run_dir: Path, runs: Path, summary: RunSummary, experiment: str | None, queue: Queue
) -> tuple[Path | None, str]:
    """Where the run of ``experiment`` (None: of none) goes back to in ``queue``, or None and why not."""
    command = summary.command or ""
    below = run_dir.relative_to(runs)
    explicit = re.search(r"(?:^|\s)hydra\.sweep\.dir=(\S+)", command)
    if explicit:
        return queue.root / explicit.group(1) / below, ""
    if experiment is None:
        return None, "its command names no experiment and no hydra.sweep.dir"
    scale = str(summary.config.get("study", {}).get("scale", "full"))
    if below.parts[0] == f"{experiment}-{scale}":
        below = below.relative_to(below.parts[0])
    dirs = queue.job_dirs(experiment, command)
    job = job_of_path(below)
    if job is not None and job in dirs:
        return queue.sweep_dir(experiment, scale) / dirs[job], ""
    if RUN_LIST.search(command):  # a list of its own: relaunched with that list, the run is named as it was
        return queue.sweep_dir(experiment, scale) / below, ""
    return None, f"no entry of conf/experiment/{experiment}.yaml's run list is this run"


def restore(runs: Path, into: Path, experiments: set[str], replace_unfinished: bool) -> list[Path]:
    """Copy each finished run of ``runs`` (of ``experiments``, or of any where empty) into its job's directory
    under the checkout ``into``; returns the directories written, and names every run left out."""
    queue = Queue(into)
    written = []
    for summary_file in sorted(runs.rglob(SUMMARY)):
        source = summary_file.parent
        summary = RunSummary.read(source)
        named = EXPERIMENT.search(summary.command or "")
        experiment = named.group(1) if named else None
        if experiments and experiment not in experiments:
            continue
        if not summary.finished:
            print(f"left out: {source} did not finish ({summary.status})")
            continue
        target, why = target_of(source, runs, summary, experiment, queue)
        if target is None:
            print(f"left out: {source}: {why}")
            continue
        if (target / SUMMARY).exists():
            continue
        # Files, not folders: a sweep's run directory can hold the directories of other runs (seed=3/G_0=0.1/).
        in_flight = target.is_dir() and any(f.is_file() and f.name != ".lock" for f in target.iterdir())
        if in_flight and not replace_unfinished:
            print(f"left alone: {target} holds a run in flight (--replace-unfinished lets the copy stand for it)")
            continue
        target.mkdir(parents=True, exist_ok=True)
        for name in FILES:
            if (source / name).exists():
                shutil.copy2(source / name, target / name)
        written.append(target)
    return written


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", type=Path, help="a results folder's runs/ (results/ptb-verdict/runs)")
    parser.add_argument("--into", type=Path, default=Path("."), help="the queue's checkout (default: here)")
    parser.add_argument("--experiment", action="append", help="only this experiment's runs (repeatable)")
    parser.add_argument("--replace-unfinished", action="store_true", help="a committed copy replaces a run in flight")
    args = parser.parse_args(argv)
    if not args.runs.is_dir():
        raise SystemExit(f"{args.runs} is not a folder: pass a results folder's runs/, e.g. results/ptb-verdict/runs")
    written = restore(args.runs, args.into, set(args.experiment or ()), args.replace_unfinished)
    for target in written:
        print(f"restored {target}")
    print(f"{len(written)} finished run(s) restored under {args.into}", file=sys.stderr)


if __name__ == "__main__":
    main()
