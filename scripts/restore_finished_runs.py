"""Put a results folder's committed runs back into the sweep folders of the queue that made them, so that a
relaunch on a new machine skips them instead of training them again.

    python scripts/restore_finished_runs.py results/ptb-verdict/runs --into /work/queue
    make campaign ...            # in /work/queue: "already finished" for every restored run

A queue (``make campaign``, ``make study``) skips a run whose directory under ``outputs/study/<experiment>-<scale>``
holds a finished ``summary.json``; those directories live outside git and are lost with the machine, while the
report keeps a copy of each run under ``results/<folder>/runs``. Each copy says its experiment in its
``summary.json`` (``experiment=...`` in its command) and keeps the path its sweep gave it, below
``<experiment>-<scale>/`` where that path was another run's already (``runs/ptb_bf16-full/sgd/seed=0``). This
script copies ``summary.json``, ``metrics.jsonl`` and ``train.log`` back there; the relaunch then checks each
restored config against the run it would train (``check_resumable``) and stops on a mismatch. A run directory
that holds a ``summary.json`` already is left alone; one that holds only a checkpoint is a run in flight, and is
left alone too (say ``--replace-unfinished`` to let the committed copy stand for it).
"""

from __future__ import annotations

import argparse
import re
import shutil
import sys
from pathlib import Path

from omegaconf import OmegaConf

from adamomentum.summary import METRICS, SUMMARY, RunSummary

FILES = (SUMMARY, METRICS, "train.log")


def experiment_of(summary: RunSummary) -> str | None:
    """The experiment config the run was trained under, from its command; None for a run of no experiment."""
    found = re.search(r"(?:^|\s)\+?experiment=(\S+)", summary.command or "")
    return found.group(1) if found else None


def sweep_dir(queue: Path, experiment: str, scale: str) -> Path:
    """``hydra.sweep.dir`` of ``queue``'s experiment config, at the run's ``study.scale``."""
    config_file = queue / "conf" / "experiment" / f"{experiment}.yaml"
    if not config_file.is_file():
        raise SystemExit(f"{config_file} is missing: --into must be the checkout whose queue trained the runs")
    config = OmegaConf.to_container(OmegaConf.load(config_file))  # unresolved: the scale is the run's
    try:
        template = config["hydra"]["sweep"]["dir"]  # type: ignore[index, call-overload]
    except (KeyError, TypeError):
        raise SystemExit(
            f"{config_file} sets no hydra.sweep.dir: its runs have no sweep folder to go back to"
        ) from None
    return queue / str(template).replace("${study.scale}", scale)


def restore(runs: Path, queue: Path, experiments: set[str] | None, replace_unfinished: bool) -> list[Path]:
    """Copy each finished run of ``runs`` (of ``experiments``, or of any) into its sweep folder under ``queue``;
    returns the run directories written."""
    written = []
    for summary_file in sorted(runs.rglob(SUMMARY)):
        source = summary_file.parent
        summary = RunSummary.read(source)
        experiment = experiment_of(summary)
        if experiment is None or not summary.finished or (experiments and experiment not in experiments):
            continue
        scale = str(summary.config.get("study", {}).get("scale", "full"))
        below = source.relative_to(runs)
        if below.parts[0] == f"{experiment}-{scale}":
            below = below.relative_to(below.parts[0])
        target = sweep_dir(queue, experiment, scale) / below
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
