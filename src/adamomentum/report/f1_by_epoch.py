"""Test token F1 after each epoch, per NER setting, over seeds, and the training loss each run's train.log
records: results/ner-loss-scale/f1_by_epoch.md (results.md gives the final and best-valid numbers, not every
epoch).

    python -m adamomentum.report.f1_by_epoch results/ner-loss-scale/runs --out results/ner-loss-scale/f1_by_epoch.md

A setting is (optimizer, lr, G_0 = ``initial_accumulator_value``, ``task.loss_reduction``). Each cell is the
mean over the setting's seeds, with the lowest and highest seed in brackets when there are several. Beside
it: the first epoch at which every seed reached ``--learned`` test token F1 ("-" when some seed never did).
A second table gives the training loss (mean NLL per token over each logging window) as each run's
``train.log`` records it, where the run directories hold one.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

from adamomentum.report.blowup import loss_windows
from adamomentum.report.markdown import markdown_table
from adamomentum.report.paper import OPTIMIZER_ORDER
from adamomentum.report.runs import Run, find_runs
from adamomentum.report.settings import flat_config

# (optimizer, lr, G_0, task.loss_reduction): what tells the runs of results/ner-loss-scale apart.
SettingKey = tuple[str, float, float, str]
# Setting -> seed -> a value per epoch (test token F1) or per log window (training loss).
Curves = dict[SettingKey, dict[int | None, list[float]]]
# The test token F1 that counts as learned, by default.
LEARNED = 0.5


def setting_key(run: Run) -> SettingKey:
    config = flat_config(run)
    return (
        run.optimizer,
        config["optimizer.lr"],
        config.get("optimizer.initial_accumulator_value") or 0.0,
        config["task.loss_reduction"],
    )


def read_curves(runs: list[Run]) -> tuple[Curves, Curves, list[int]]:
    """Of the NER runs: setting -> seed -> test token F1 after each epoch, the same for the training loss of
    each log window, and the steps that end the windows of the run that logged the most of them."""
    f1: Curves = defaultdict(dict)
    losses: Curves = defaultdict(dict)
    loss_steps: list[int] = []
    for run in runs:
        if run.task != "ner":
            continue
        key, seed = setting_key(run), run.summary.seed
        if seed in f1[key]:
            raise SystemExit(f"error: {run.path}: a second run of {key}, seed {seed}")
        # The last evaluation of an epoch is its end.
        by_epoch = {row["epoch"]: row["test_token_f1"] for row in run.metrics}
        f1[key][seed] = [by_epoch[e] for e in sorted(by_epoch)]
        windows = loss_windows(run)
        if windows is not None:
            losses[key][seed] = list(windows.values())
            loss_steps = max(loss_steps, list(windows), key=len)
    return f1, losses, loss_steps


def _order(key: SettingKey) -> tuple[int, str, float, float, str]:
    """The paper's optimizers in its order (any other after them), then by reduction, lr and G_0."""
    name, lr, g0, reduction = key
    rank = OPTIMIZER_ORDER.index(name) if name in OPTIMIZER_ORDER else len(OPTIMIZER_ORDER)
    return rank, reduction, lr, g0, name


def _cells(curves: list[list[float]], points: int) -> list[str]:
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


def _table(curves: Curves, columns: list[str], last: tuple[str, Callable[[list[list[float]]], str]] | None) -> str:
    """A row per setting: its values, its seeds, a cell per column and, with ``last``, (its header, its cell)."""
    rows = []
    for key in sorted(curves, key=_order):
        name, lr, g0, reduction = key
        # A summary may lack its seed (RunSummary.seed is optional): such a run comes first.
        seeds = sorted(curves[key], key=lambda s: (s is not None, s or 0))
        row = [name, f"{lr:g}", f"{g0:g}", reduction, ",".join(map(str, seeds))]
        row += _cells(list(curves[key].values()), len(columns))
        if last:
            row.append(last[1](list(curves[key].values())))
        rows.append(row)
    header = ["optimizer", "lr", "G_0", "loss reduction", "seeds", *columns] + ([last[0]] if last else [])
    return markdown_table(header, rows)


def f1_by_epoch_markdown(runs: list[Run], learned: float = LEARNED) -> str:
    """f1_by_epoch.md of the NER runs among ``runs``; an error where there are none."""
    f1, losses, loss_steps = read_curves(runs)
    if not f1:
        raise SystemExit("error: no NER run among the runs found; pass NER run directories or folders that hold them.")
    epochs = max(len(curve) for seeds in f1.values() for curve in seeds.values())

    def first_learned(curves: list[list[float]]) -> str:
        firsts = [next((e + 1 for e, f in enumerate(c) if f >= learned), None) for c in curves]
        return "-" if None in firsts else str(max(e for e in firsts if e is not None))

    columns = [f"epoch {e}" for e in range(1, epochs + 1)]
    lines = ["## Test token F1 after each epoch", ""]
    lines.append(_table(f1, columns, (f"first epoch all seeds >= {learned}", first_learned)))
    if losses:
        lines += ["", "## Training loss (mean NLL per token over the logging window ending at each step)", ""]
        lines.append(_table(losses, [f"step {s}" for s in loss_steps], None))
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m adamomentum.report.f1_by_epoch",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("runs", nargs="+", type=Path, help="run directories, or folders holding them")
    parser.add_argument("--out", type=Path, help="the Markdown file to write (default: print it)")
    parser.add_argument("--learned", type=float, default=LEARNED, help="the test token F1 that counts as learned")
    args = parser.parse_args(argv)
    text = f1_by_epoch_markdown(find_runs(args.runs), args.learned)
    if args.out:
        args.out.write_text(text, encoding="utf-8")
        print(f"wrote {args.out}", file=sys.stderr)
    else:
        print(text, end="")


if __name__ == "__main__":
    main()
