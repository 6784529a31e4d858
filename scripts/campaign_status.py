"""What a queue has trained, what it is training and what is left, read from its sweep folders.

    make campaign-status                                      # the campaign's experiments, in this checkout
    .venv/bin/python scripts/campaign_status.py --root /work/queue ptb_data_scale_claim ptb_lr_tuning

For each experiment with a run list (``hydra.sweeper.runs``), in the list's order: how many runs finished
(completed or diverged), each run in flight (the batch its log last reports, the batch a relaunch resumes it at
from its checkpoint, and whether a lane holds it now) and each run still to train, named by its entry of the list
(as ``hydra.sweeper.runs=[...]`` takes it, to reorder a queue). What is left is counted in full-run equivalents: a
run on a share of the training text (``data.train_fraction``) costs that share, less the part its checkpoint
holds. It takes no lock and writes nothing, so it runs beside the lanes. An experiment in bf16
(``precision: bf16``) on a CPU without bf16 instructions is named and left out of the count, as ``make campaign``
leaves it out. Words with ``=`` are the queue's own overrides (``make campaign``'s ARGS): they name its runs'
directories too.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from adamomentum.process import bf16_refusal
from adamomentum.sweeps import Entry, Progress, Queue, progress_of, read_locks


def describe(entry: Entry, progress: Progress) -> str:
    """One line for a run not finished, named by its entry of the run list."""
    if progress.state == "to run":
        return f"  to run     {entry.line}"
    where = f"batch {progress.logged:,} of {progress.total:,} logged" if progress.total else "no batch logged"
    if progress.unreadable:
        resume = f"no checkpoint readable ({progress.unreadable}): a relaunch refuses it; move the folder aside"
    elif progress.resumes_at:
        resume = f"resumes at {progress.resumes_at:,}"
    else:
        resume = "no checkpoint: resumes at 0"
    lane = {True: "a lane holds it", False: "no lane holds it", None: "lanes unknown"}[progress.held]
    return f"  in flight  {entry.line}: {where}, {resume}, {lane}"


def report(queue: Queue, experiments: list[str], scale: str, overrides: str) -> list[str]:
    """The status of each experiment's runs, and the campaign's totals, as lines."""
    locks = read_locks()
    bf16_refused = bf16_refusal(torch.device("cpu"))
    lines = []
    counts = {"finished": 0, "in flight": 0, "to run": 0}
    held = 0
    left = 0.0
    for experiment in experiments:
        sweep = queue.sweep_dir(experiment, scale)
        entries = queue.entries(experiment, overrides)
        if queue.experiment(experiment).get("precision") == "bf16" and bf16_refused:
            lines.append(f"{experiment}: {len(entries)} runs in {sweep}, not on this CPU: {bf16_refused}")
            continue
        runs = [(entry, progress_of(sweep / entry.below, locks)) for entry in entries]
        finished = [p for _, p in runs if p.state == "finished"]
        diverged = sum(p.status == "diverged" for p in finished)
        lines.append(f"{experiment}: {len(finished)} of {len(runs)} finished ({diverged} of them diverged), in {sweep}")
        for entry, p in runs:
            counts[p.state] += 1
            held += bool(p.held)
            left += entry.fraction * p.left()
            if p.state != "finished":
                lines.append(describe(entry, p))
    lines.append(
        f"in all: {counts['finished']} finished, {counts['in flight']} in flight ({held} held by a lane now), "
        f"{counts['to run']} to run; {left:.2f} full-run equivalents left"
    )
    return lines


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "words",
        nargs="+",
        metavar="EXPERIMENT | KEY=VALUE",
        help="experiment configs (conf/experiment/<name>.yaml), in order, and the queue's own overrides (its ARGS), "
        "which name its runs' directories too",
    )
    parser.add_argument("--root", type=Path, default=Path("."), help="the queue's checkout (default: here)")
    parser.add_argument("--scale", default="full", help="the runs' study.scale (default: full)")
    args = parser.parse_args(argv)
    experiments = [word for word in args.words if "=" not in word]
    overrides = " ".join(word for word in args.words if "=" in word)
    if not experiments:
        parser.error("name at least one experiment (make campaign-status names the campaign's)")
    for line in report(Queue(args.root), experiments, args.scale, overrides):
        print(line)


if __name__ == "__main__":
    main()
