"""What a queue has trained, what it is training and what is left, read from its sweep folders.

    make campaign-status                                      # the campaign's experiments, in this checkout
    .venv/bin/python scripts/campaign_status.py --root /work/queue ptb_data_scale_claim ptb_lr_tuning

For each experiment, in its run list's order: the runs that finished (completed or diverged), the runs in flight
(the batch their log last reports, the batch a relaunch resumes them at from their checkpoint, and whether a lane
holds them now) and the runs still to train. What is left is counted in full-run equivalents: a run on a share
of the training text (``data.train_fraction``) costs that share, less the part its checkpoint holds. It takes no
lock and writes nothing, so it runs beside the lanes. An experiment in bf16 (``precision: bf16``) on a CPU without
bf16 instructions is named and left out of the count, as ``make campaign`` leaves it out.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from adamomentum.process import bf16_refusal
from adamomentum.sweeps import Progress, Queue, progress_of, read_locks


def describe(entry: str, progress: Progress) -> str:
    """One line for a run not finished, named by its entry of the run list (as ``hydra.sweeper.runs=`` takes it)."""
    if progress.state == "to run":
        return f"  to run     {entry}"
    where = f"batch {progress.logged:,} of {progress.total:,} logged" if progress.total else "no batch logged"
    resume = f"resumes at {progress.resumes_at:,}" if progress.resumes_at else "no checkpoint: resumes at 0"
    lane = {True: "a lane holds it", False: "no lane holds it", None: "lanes unknown"}[progress.held]
    return f"  in flight  {entry}: {where}, {resume}, {lane}"


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
        runs = [
            (entry, job, progress_of(sweep / below, locks))
            for entry, job, below in queue.entries(experiment, overrides)
        ]
        finished = sum(p.state == "finished" for _, _, p in runs)
        lines.append(f"{experiment}: {finished} of {len(runs)} finished, in {sweep}")
        if queue.experiment(experiment).get("precision") == "bf16" and bf16_refused:
            lines.append(f"  not on this CPU, left out of the count: {bf16_refused}")
            continue
        for entry, job, p in runs:
            counts[p.state] += 1
            held += bool(p.held)
            left += job.fraction * p.left()
            if p.state != "finished":
                lines.append(describe(entry, p))
    lines.append(
        f"in all: {counts['finished']} finished, {counts['in flight']} in flight ({held} held by a lane now), "
        f"{counts['to run']} to run; {left:.2f} full-run equivalents left"
    )
    return lines


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("experiments", nargs="+", help="experiment configs (conf/experiment/<name>.yaml), in order")
    parser.add_argument("--root", type=Path, default=Path("."), help="the queue's checkout (default: here)")
    parser.add_argument("--scale", default="full", help="the runs' study.scale (default: full)")
    parser.add_argument(
        "--overrides", default="", help="the queue's own overrides that name its runs' directories (rarely needed)"
    )
    args = parser.parse_args(argv)
    for line in report(Queue(args.root), args.experiments, args.scale, args.overrides):
        print(line)


if __name__ == "__main__":
    main()
