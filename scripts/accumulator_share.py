"""How much of AdaGrad's accumulator G is still its start G_0 at a checkpoint of a run.

    python scripts/accumulator_share.py \
        outputs/study/ptb_verdict-full/adamomentum/seed=0/optimizer.initial_accumulator_value=0.1 ...

For each run directory, reads its newest checkpoint (after a completed run: the state at the end of
training) and prints a Markdown row: the step, quantiles of G over every element of every parameter, and
the share of elements whose summed squared gradients are still below G_0 (G < 2 G_0). Where that share is
large, the update lr / sqrt(G) * g is close to SGD at lr / sqrt(G_0) on those elements, not an adaptive
step. Checkpoints are not committed (about 80 MB each); the rows this prints are, with this command.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch
from omegaconf import OmegaConf

from adamomentum.checkpoint import load_checkpoint
from adamomentum.resume import stored_config

QUANTILES = (0.01, 0.5, 0.9, 0.99)


def row(run_dir: Path) -> str:
    state = load_checkpoint(run_dir)
    config = OmegaConf.create(stored_config(state["config"]))
    start = config.optimizer.initial_accumulator_value or 0.0
    sums = torch.cat([s["sum"].flatten() for s in state["optimizer"]["state"].values()]).double()
    quantiles = torch.quantile(sums, torch.tensor(QUANTILES, dtype=torch.float64))
    below = float((sums < 2 * start).double().mean()) if start > 0 else float("nan")
    return (
        f"| {config.optimizer.name} | {start:g} | {config.seed} | {state['step']} | "
        + " | ".join(f"{q:.3g}" for q in quantiles)
        + f" | {100 * below:.1f}% |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", nargs="+", type=Path, help="run directories holding checkpoint.pt")
    args = parser.parse_args()
    print(
        "| optimizer | G_0 | seed | step | G: "
        + " / ".join(f"{100 * q:g}%" for q in QUANTILES).replace(" / ", " | ")
        + " | elements with G < 2 G_0 |"
    )
    print("|" + "---|" * (5 + len(QUANTILES)))
    for run_dir in args.runs:
        print(row(run_dir))


if __name__ == "__main__":
    main()
