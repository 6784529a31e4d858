"""Rerun the first batches of a finished run and check that they reproduce its logged evaluations.

    python -m adamomentum.rerun results/ptb/runs/adamomentum/seed=0 --data-dir ../shared/data/ptb

Rebuilds the run's config from its ``summary.json`` (keys added to adamomentum since take their
defaults, which keep the old behaviour), trains its first
``--batches`` batches as ``python -m adamomentum.train`` would, into a temporary folder, and compares
each evaluation up to that batch with the run's ``metrics.jsonl``, number for number. ``--batches``
defaults to the batch of the run's first evaluation (500 for a run evaluated every 500 batches, one
epoch for the others).

Bit-identical numbers need what the run had: the same kind of device (``summary.json`` names the CPU
model and the instruction set torch's kernels use), the same thread count (in its config) and the same
torch build. On another CPU the numbers differ by rounding, which training amplifies: Table 1's SGD at
batch 500, valid perplexity 393.4 on the CPU that made results/ptb and 400.6 on a 2-core AMD EPYC
(AVX512) with the same code and torch. ``--rtol`` accepts such differences up to a relative tolerance.
Exits 0 when every number matches, 1 otherwise, naming both devices.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hydra import compose, initialize_config_dir
from omegaconf import DictConfig, OmegaConf

from adamomentum.config import CONFIG_DIR
from adamomentum.errors import UserError
from adamomentum.process import device_description
from adamomentum.run import set_up_trainer
from adamomentum.summary import METRICS, RunSummary


def read_run(run_dir: Path) -> tuple[RunSummary, list[dict[str, Any]]]:
    try:
        summary = RunSummary.read(run_dir)
        lines = (run_dir / METRICS).read_text(encoding="utf-8").splitlines()
    except FileNotFoundError as e:
        raise UserError(
            f"{e.filename} is missing: pass a run directory holding summary.json and metrics.jsonl."
        ) from None
    return summary, [json.loads(line) for line in lines if line]


def rerun_config(summary: RunSummary, batches: int, data_dir: str | None) -> DictConfig:
    """The run's config, today's defaults beneath it, to stop after ``batches`` batches."""
    with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base=None):
        defaults = compose("config", overrides=[f"task={summary.task}", f"optimizer={summary.optimizer}"])
    stored = OmegaConf.create(summary.config)
    cfg = OmegaConf.merge(defaults, stored)
    assert isinstance(cfg, DictConfig), "a run's config is a mapping"
    cfg.trainer.max_batches = batches
    cfg.progress, cfg.checkpoint_interval, cfg.resume = False, None, None
    if data_dir is not None:
        cfg.data.data_dir = data_dir
    if "final_test_batch_size" in cfg.data:
        # Scored once after training, it changes nothing before: the quick batch size will do.
        cfg.data.final_test_batch_size = cfg.data.eval_batch_size
    return cfg


def _agrees(logged: Any, again: Any, rtol: float) -> bool:
    if isinstance(logged, float) and isinstance(again, float):
        return logged == again or abs(again - logged) <= rtol * abs(logged)
    return logged == again


def differences(
    logged: list[dict[str, Any]], rerun: list[dict[str, Any]], batches: int, rtol: float = 0.0
) -> list[str]:
    """Each logged evaluation up to ``batches`` against the rerun's at the same step (floats within ``rtol``)."""
    redone = {r["step"]: r for r in rerun}
    found = []
    for record in (r for r in logged if r["step"] <= batches):
        again = redone.get(record["step"])
        if again is None:
            found.append(f"step {record['step']}: the rerun has no evaluation there")
            continue
        for key, value in record.items():
            if not _agrees(value, again.get(key), rtol):
                relative = (
                    f" ({again[key] / value - 1:+.2e} relative)"
                    if isinstance(value, float) and isinstance(again.get(key), float) and value
                    else ""
                )
                found.append(f"step {record['step']}: {key} logged {value!r}, rerun {again.get(key)!r}{relative}")
    return found


@dataclass
class Rerun:
    differences: list[str]
    # Where the run was made, and where it was rerun (``device`` of summary.json).
    logged_device: str
    device: str


def rerun(run_dir: Path, batches: int | None = None, data_dir: str | None = None, rtol: float = 0.0) -> Rerun:
    """Retrain the first batches of ``run_dir`` and compare them with its logged evaluations."""
    summary, logged = read_run(run_dir)
    if not logged:
        raise UserError(f"{run_dir / 'metrics.jsonl'} holds no evaluation to compare with.")
    batches = batches or logged[0]["step"]
    cfg = rerun_config(summary, batches, data_dir)
    with tempfile.TemporaryDirectory() as scratch:
        trainer = set_up_trainer(cfg, Path(scratch))
        result = trainer.fit()
    return Rerun(
        differences(logged, result.history, batches, rtol),
        summary.device or "unknown",
        device_description(trainer.device),
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m adamomentum.rerun", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("run_dir", type=Path, help="a run directory (summary.json, metrics.jsonl)")
    parser.add_argument("--batches", type=int, help="how many batches to retrain (default: to the first evaluation)")
    parser.add_argument("--data-dir", help="where the corpus is, if not where the run read it")
    parser.add_argument("--rtol", type=float, default=0.0, help="accept numbers within this relative tolerance")
    args = parser.parse_args(argv)
    try:
        result = rerun(args.run_dir, args.batches, args.data_dir, args.rtol)
    except UserError as e:
        sys.exit(f"error: {e}")
    devices = f"run made on {result.logged_device}, rerun on {result.device}"
    if result.differences:
        print(f"{args.run_dir}: the rerun differs ({devices})\n" + "\n".join(result.differences))
        sys.exit(1)
    match = "identical" if args.rtol == 0 else f"within rtol {args.rtol:g}"
    print(f"{args.run_dir}: every evaluation up to the rerun's last batch is {match} ({devices})")


if __name__ == "__main__":
    main()
