"""Test token F1 after each epoch, per NER setting, over seeds: Markdown tables from run directories.

    python scripts/ner_f1_by_epoch.py results/ner-loss-scale/runs --out results/ner-loss-scale/f1_by_epoch.md

A setting is (optimizer, lr, G_0 = ``initial_accumulator_value``, ``task.loss_reduction``). Each cell
is the mean over the setting's seeds, with the lowest and highest seed in brackets when there are
several. Beside it: the first epoch
at which every seed reached ``--learned`` test token F1 ("-" when some seed never did). A second
table gives the training loss (mean NLL per token over each logging window) as each run's
``train.log`` records it, where the run directories hold one.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
from collections import defaultdict
from pathlib import Path
from typing import Any

from adamomentum.summary import RunSummary

OPTIMIZER_ORDER = ("sgd", "momentum", "adagrad", "adamomentum")
# The trainer's logging line: "epoch 2 step 100/400: loss 0.5628, ..."
TRAIN_LOSS = re.compile(r"step (\d+)/\d+: loss ([0-9.]+)")
Setting = tuple[str, float, float, str]
Curves = dict[Setting, dict[int, list[float]]]


def setting_of(config: dict[str, Any]) -> Setting:
    optimizer = config["optimizer"]
    return (
        optimizer["name"],
        optimizer["lr"],
        optimizer.get("initial_accumulator_value") or 0.0,
        config["task"]["loss_reduction"],
    )


def read_runs(folders: list[Path]) -> tuple[Curves, Curves, list[int]]:
    """setting -> seed -> test token F1 after each epoch (epoch-end evaluations only), the same for
    the logged training loss, and the steps at which it was logged."""
    runs: Curves = defaultdict(dict)
    losses: Curves = defaultdict(dict)
    loss_steps: list[int] = []
    for folder in folders:
        for summary_path in sorted(folder.rglob("summary.json")):
            summary = RunSummary.read(summary_path.parent)
            if summary.task != "ner":
                continue
            rows = [
                json.loads(line) for line in (summary_path.parent / "metrics.jsonl").read_text().splitlines() if line
            ]
            by_epoch = {row["epoch"]: row["test_token_f1"] for row in rows}  # the last row of an epoch is its end
            setting = setting_of(summary.config)
            if summary.seed in runs[setting]:
                raise SystemExit(f"{summary_path}: a second run of {setting}, seed {summary.seed}")
            runs[setting][summary.seed] = [by_epoch[e] for e in sorted(by_epoch)]
            log = summary_path.parent / "train.log"
            if log.exists():
                logged = [(int(s), float(v)) for s, v in TRAIN_LOSS.findall(log.read_text(encoding="utf-8"))]
                losses[setting][summary.seed] = [v for _, v in logged]
                loss_steps = max(loss_steps, [s for s, _ in logged], key=len)
    return runs, losses, loss_steps


def order(setting: Setting) -> tuple[int, str, float, float, str]:
    name, lr, g0, reduction = setting
    rank = OPTIMIZER_ORDER.index(name) if name in OPTIMIZER_ORDER else len(OPTIMIZER_ORDER)
    return rank, reduction, lr, g0, name


def cells(curves: list[list[float]], points: int) -> list[str]:
    """Per point: the mean over the curves that reach it, with [min-max] when there are several."""
    out = []
    for i in range(points):
        values = [c[i] for c in curves if len(c) > i]
        if not values:
            out.append("")
        elif len(values) == 1:
            out.append(f"{values[0]:.3f}")
        else:
            out.append(f"{statistics.mean(values):.3f} [{min(values):.2f}-{max(values):.2f}]")
    return out


def table(runs: Curves, columns: list[str], last: str = "", last_cell: Any = None) -> list[str]:
    header = ["optimizer", "lr", "G_0", "loss reduction", "seeds", *columns] + ([last] if last else [])
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for setting in sorted(runs, key=order):
        name, lr, g0, reduction = setting
        curves = list(runs[setting].values())
        row = [
            name,
            f"{lr:g}",
            f"{g0:g}",
            reduction,
            ",".join(str(s) for s in sorted(runs[setting])),
            *cells(curves, len(columns)),
        ]
        if last:
            row.append(last_cell(curves))
        lines.append("| " + " | ".join(row) + " |")
    return lines


def report(runs: Curves, losses: Curves, loss_steps: list[int], learned: float) -> str:
    epochs = max(len(curve) for seeds in runs.values() for curve in seeds.values())

    def first_learned(curves: list[list[float]]) -> str:
        firsts = [next((e + 1 for e, f in enumerate(c) if f >= learned), None) for c in curves]
        return "-" if None in firsts else str(max(firsts))

    lines = ["## Test token F1 after each epoch", ""]
    lines += table(
        runs, [f"epoch {e}" for e in range(1, epochs + 1)], f"first epoch all seeds >= {learned}", first_learned
    )
    if losses:
        lines += ["", "## Training loss (mean NLL per token over the logging window ending at each step)", ""]
        lines += table(losses, [f"step {s}" for s in loss_steps])
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", nargs="+", type=Path, help="run directories or folders holding them")
    parser.add_argument("--out", type=Path, help="Markdown file (default: print)")
    parser.add_argument("--learned", type=float, default=0.5, help="test token F1 that counts as learned")
    args = parser.parse_args()
    runs, losses, loss_steps = read_runs(args.runs)
    if not runs:
        raise SystemExit(f"no NER summary.json under {', '.join(map(str, args.runs))}")
    text = report(runs, losses, loss_steps, args.learned)
    if args.out:
        args.out.write_text(text, encoding="utf-8")
    else:
        print(text, end="")


if __name__ == "__main__":
    main()
