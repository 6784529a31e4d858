"""Run discovery: the run directories under some folders, finished (``summary.json``) or still training."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from omegaconf import OmegaConf

from adamomentum.config import upgrade_stored
from adamomentum.report.measures import TASKS
from adamomentum.report.paper import OPTIMIZER_ORDER
from adamomentum.summary import METRICS, SUMMARY, TRAIN_LOG, RunSummary

# The line run.py logs when a run continues from its checkpoint.
RESUMED = re.compile(r" - resuming .* at epoch \d+, step (\d+)$")


@dataclass
class Run:
    path: Path
    summary: RunSummary
    metrics: list[dict[str, Any]]
    # Where the run was found: its copy in runs/ keeps the path below this root.
    root: Path
    # The evaluation of best validation score on the grid the report compares on (``select_best_valid``);
    # None until selected, and for a run that did not complete.
    best_valid: dict[str, Any] | None = None

    @property
    def optimizer(self) -> str:
        return self.summary.optimizer

    @property
    def task(self) -> str:
        return self.summary.task

    @property
    def commits(self) -> list[str | None]:
        """The commits the run's processes loaded, first to last (one per commit a resume moved it to)."""
        return self.summary.git_commits or [self.summary.git_commit]

    def resumed_at(self) -> list[int] | None:
        """The steps the run resumed from its checkpoint, by its train.log; None where the log was not kept."""
        log = self.path / TRAIN_LOG
        if not log.exists():
            return None
        lines = log.read_text(encoding="utf-8").splitlines()
        return [int(m.group(1)) for line in lines if (m := RESUMED.search(line))]


def read_metrics(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def unfinished_summary(run_dir: Path, metrics: list[dict[str, Any]]) -> RunSummary:
    """What a run still training (or stopped without a summary) has shown so far."""
    cfg = OmegaConf.load(run_dir / ".hydra" / "config.yaml")
    task = cfg.task.name
    best = TASKS[task].selection.best(metrics)
    last = metrics[-1]
    config = OmegaConf.to_container(cfg, resolve=True)
    assert isinstance(config, dict), "a run's config is a mapping"
    return RunSummary(
        task=task,
        optimizer=cfg.optimizer.name,
        seed=cfg.seed,
        status=f"unfinished (step {last['step']}, epoch {last['epoch']})",
        config=upgrade_stored({str(k): v for k, v in config.items()}),
        final=last,
        best_valid=best,
        command="python -m adamomentum.train " + " ".join(OmegaConf.load(run_dir / ".hydra" / "overrides.yaml")),
    )


def find_runs(roots: list[Path]) -> list[Run]:
    """Runs under ``roots``: finished ones by their summary.json, unfinished ones by their metrics so far."""
    runs = []
    for root in roots:
        if not root.exists():
            raise SystemExit(f"error: {root} does not exist; pass run directories or folders that hold them.")
        for metrics_path in sorted({*root.rglob(SUMMARY), *root.rglob(METRICS)}):
            run_dir = metrics_path.parent
            if metrics_path.name == METRICS and (run_dir / SUMMARY).exists():
                continue
            metrics = read_metrics(run_dir / METRICS)
            if (run_dir / SUMMARY).exists():
                summary = RunSummary.read(run_dir)
            elif metrics and (run_dir / ".hydra" / "config.yaml").exists():
                summary = unfinished_summary(run_dir, metrics)
            else:
                continue
            runs.append(Run(run_dir, summary, metrics, root))
    return runs


def optimizers_of(runs: list[Run]) -> list[str]:
    """The optimizers of ``runs``, the paper's four in its order first, any others after them by name."""
    present = {r.optimizer for r in runs}
    return [o for o in OPTIMIZER_ORDER if o in present] + sorted(present - set(OPTIMIZER_ORDER))
