"""One run from its config: checks, the task, optimizer and schedules built, training, and the run directory's
summary. Every entry point (the command line, ``adamomentum.rerun``, the scripts, the tests) goes through
``run`` or ``set_up_trainer``."""

from __future__ import annotations

import contextlib
import fcntl
import logging
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import torch
from omegaconf import DictConfig, OmegaConf
from torch.optim import Optimizer

from adamomentum.checkpoint import CHECKPOINT, load_checkpoint
from adamomentum.config import register_configs
from adamomentum.errors import ConfigError
from adamomentum.optim import build_optimizer
from adamomentum.process import (
    bf16_refusal,
    configure_process,
    device_description,
    git_commit,
    resolve_device,
    seed_everything,
)
from adamomentum.resources import reset_peak_rss
from adamomentum.resume import check_resumable, stored_config
from adamomentum.summary import SUMMARY, RunSummary
from adamomentum.tasks import build_task
from adamomentum.trainer import Trainer, TrainingSchedule, summarize

log = logging.getLogger(__name__)


def validate(cfg: DictConfig) -> None:
    """Checks the schema's types cannot express; each names the override that fixes it."""
    data, opt, trainer = cfg.data, cfg.optimizer, cfg.trainer
    if trainer.epochs < 0:
        raise ConfigError(f"trainer.epochs={trainer.epochs} must be >= 0.")
    if trainer.eval_interval is not None and trainer.eval_interval <= 0:
        raise ConfigError(
            f"trainer.eval_interval={trainer.eval_interval} must be a positive number of batches, or null."
        )
    if not 0 < data.train_fraction <= 1:
        raise ConfigError(f"data.train_fraction={data.train_fraction} must lie in (0, 1].")
    if trainer.clip_grad_value is not None and trainer.clip_grad_value <= 0:
        raise ConfigError(
            f"trainer.clip_grad_value={trainer.clip_grad_value} must be positive, or null for no element-wise clipping."
        )
    if trainer.max_batches is not None and trainer.max_batches <= 0:
        raise ConfigError(f"trainer.max_batches={trainer.max_batches} must be positive, or null for no limit.")
    if opt.lr < 0:
        raise ConfigError(f"optimizer.lr={opt.lr} must be >= 0.")
    if cfg.study.lr_factor <= 0:
        raise ConfigError(f"study.lr_factor={cfg.study.lr_factor} must be > 0.")
    if opt.eps is not None and opt.eps < 0:
        raise ConfigError(f"optimizer.eps={opt.eps} must be >= 0.")
    if opt.momentum is not None and not 0 <= opt.momentum < 1:
        raise ConfigError(f"optimizer.momentum={opt.momentum} must lie in [0, 1).")
    if cfg.precision not in ("fp32", "bf16"):
        raise ConfigError(f"precision={cfg.precision!r} must be fp32 or bf16.")
    device = resolve_device(cfg.device)
    if cfg.precision == "bf16" and (refusal := bf16_refusal(device)):
        raise ConfigError(refusal)
    if trainer.log_interval <= 0:
        raise ConfigError(f"trainer.log_interval={trainer.log_interval} must be positive.")


def optimizer_from_config(cfg: DictConfig, params: Iterable[torch.Tensor]) -> Optimizer:
    """The optimizer ``cfg.optimizer`` names, with its hyperparameters and ``study.lr_factor`` applied."""
    opt_cfg = cfg.optimizer
    hyper = {
        k: opt_cfg[k]
        for k in ("lr", "momentum", "eps", "weight_decay", "initial_accumulator_value", "foreach", "fused")
    }
    hyper["lr"] = opt_cfg.lr * cfg.study.lr_factor
    return build_optimizer(opt_cfg.name, params, **hyper, **opt_cfg.extra)


def build_trainer(cfg: DictConfig, run_dir: Path, device: torch.device, commit: str | None = None) -> Trainer:
    """The task, its optimizer and schedules, and the loop, as ``cfg`` says."""
    task = build_task(cfg.task, cfg.data, cfg.model, device, cfg.seed)
    optimizer = optimizer_from_config(cfg, task.model.parameters())
    return Trainer(
        task,
        optimizer,
        TrainingSchedule(**cfg.trainer),
        run_dir,
        device,
        cfg.precision,
        cfg.progress,
        checkpoint_interval=cfg.checkpoint_interval,
        config_yaml=OmegaConf.to_yaml(cfg, resolve=True),
        commit=commit,
        device_description=device_description(device),
    )


def set_up_trainer(cfg: DictConfig, run_dir: Path, commit: str | None = None) -> Trainer:
    """This process's device, threads and seeds as ``cfg`` says, then its trainer: every entry point's path to fit().

    The seeding comes last before the build, so the same config draws the same initial weights and batches
    here, in a rerun and in the scripts that instrument a run.
    """
    device = resolve_device(cfg.device)
    configure_process(cfg, device)
    seed_everything(cfg.seed)
    return build_trainer(cfg, run_dir, device, commit)


@contextlib.contextmanager
def claimed(run_dir: Path) -> Iterator[bool]:
    """Whether this process holds ``run_dir``'s lock, for as long as the block runs.

    Several processes can then work through one run list side by side (two lanes of a queue), each
    training the runs no other is training. The operating system drops the lock when its holder dies, so a
    crashed lane leaves nothing to clean up.
    """
    run_dir.mkdir(parents=True, exist_ok=True)
    with open(run_dir / ".lock", "w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        yield True


def run(cfg: DictConfig, run_dir: Path, checkpoint: dict[str, Any] | None = None) -> RunSummary:
    """Train one (task, optimizer, seed) and write its run directory; returns the summary.

    A run directory that already holds a finished ``summary.json`` is left as it
    is; one that holds a checkpoint is continued from it (``checkpoint``, where the
    caller has loaded it already); one that another process is training is
    skipped (``status: "training elsewhere"``).
    """
    with claimed(run_dir) as ours:
        if not ours:
            log.info("%s is being trained by another process; skipped here.", run_dir)
            return RunSummary(cfg.task.name, cfg.optimizer.name, cfg.seed, "training elsewhere", config={})
        return _run_claimed(cfg, run_dir, checkpoint)


def _run_claimed(cfg: DictConfig, run_dir: Path, checkpoint: dict[str, Any] | None) -> RunSummary:
    if (run_dir / SUMMARY).exists():
        previous = RunSummary.read(run_dir)
        if previous.finished:
            check_resumable(previous.config, cfg, run_dir)
            log.info("%s already finished (%s); nothing to do.", run_dir, previous.status)
            return previous
    validate(cfg)
    reset_peak_rss()
    trainer = set_up_trainer(cfg, run_dir, git_commit())
    log.info("config:\n%s", OmegaConf.to_yaml(cfg))
    if checkpoint is None and (run_dir / CHECKPOINT).exists():
        checkpoint = load_checkpoint(run_dir)
    if checkpoint is not None:
        check_resumable(stored_config(checkpoint["config"]), cfg, run_dir)
        trainer.resume(checkpoint)
        log.info("resuming %s at epoch %d, step %d", run_dir, trainer.epoch, trainer.step)
    result = trainer.fit()
    config = OmegaConf.to_container(cfg, resolve=True)
    assert isinstance(config, dict), "a run's config is a mapping"
    summary = RunSummary.from_dict(
        {
            "task": cfg.task.name,
            "optimizer": cfg.optimizer.name,
            "seed": cfg.seed,
            **summarize(result, trainer.task),
            "device": trainer.devices[0] or device_description(trainer.device),
            "devices": trainer.devices if len(trainer.devices) > 1 else None,
            "torch": torch.__version__,
            "git_commit": trainer.commits[0],
            "git_commits": trainer.commits if len(trainer.commits) > 1 else None,
            "command": " ".join(["python -m adamomentum.train", *sys.argv[1:]]),
            "config": config,
        }
    )
    path = summary.write(run_dir)
    log.info("%s: %s after %d steps; summary in %s", cfg.optimizer.name, result.status, result.steps, path)
    return summary


# The configs in conf/ name these schemas: registered once any entry point imports this module.
register_configs()
