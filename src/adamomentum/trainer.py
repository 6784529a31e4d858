"""The training loop both tasks share, and what it writes into the run directory.

A task supplies the model, its training batches, the loss of one batch and an
evaluation; the loop owns everything else: optimizer and schedules, gradient
clipping, the evaluation schedule, logging to TensorBoard, ``metrics.jsonl``
and ``summary.json``.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import torch
from torch import Tensor, nn
from torch.optim import Optimizer
from torch.optim.lr_scheduler import LambdaLR
from torch.utils.tensorboard import SummaryWriter
from tqdm import tqdm

from adamomentum.optim import MomentumScheduler

log = logging.getLogger(__name__)


class Task(Protocol):
    """What the loop needs from a task (see ``adamomentum.tasks``)."""

    model: nn.Module
    # metrics.jsonl key that picks the best evaluation, and whether lower is better
    selection_metric: str
    selection_lower_is_better: bool
    # metrics.jsonl key -> TensorBoard tag, for the evaluation scalars
    tensorboard_tags: dict[str, str]

    def batches_per_epoch(self) -> int: ...

    def train_batches(self, epoch: int) -> Iterator[Any]: ...

    def train_loss(self, batch: Any) -> tuple[Tensor, Tensor, int]:
        """The loss to minimise, the summed NLL of the batch (detached), its token count."""
        ...

    def evaluate(self) -> dict[str, Any]: ...

    def final_evaluation(self) -> dict[str, Any]:
        """Numbers computed once, after training, for ``summary.json``."""
        ...


@dataclass
class TrainingSchedule:
    epochs: int
    max_batches: int | None
    eval_interval: int | None
    log_interval: int
    clip_grad_norm: float | None
    lr_decay: bool
    lr_decay_start: int
    lr_decay_factor: float
    momentum_schedule: str
    momentum_warmup_steps: int


@dataclass
class TrainingResult:
    status: str
    steps: int
    epochs_completed: int
    history: list[dict[str, Any]] = field(default_factory=list)
    final: dict[str, Any] = field(default_factory=dict)
    wall_time_s: float = 0.0
    train_time_s: float = 0.0
    eval_time_s: float = 0.0
    diverged_at_step: int | None = None


def lr_factor(epoch_index: int, start: int, factor: float) -> float:
    """Zaremba's decay: full lr for epochs 0..start, then x factor per epoch."""
    return factor ** max(epoch_index - start, 0)


class Trainer:
    def __init__(
        self,
        task: Task,
        optimizer: Optimizer,
        schedule: TrainingSchedule,
        run_dir: Path,
        device: torch.device,
        precision: str = "fp32",
        progress: bool = True,
    ) -> None:
        self.task = task
        self.optimizer = optimizer
        self.schedule = schedule
        self.run_dir = run_dir
        self.device = device
        self.progress = progress
        self.autocast_dtype = torch.bfloat16 if precision == "bf16" else None
        decay = schedule.lr_decay
        self.lr_scheduler = LambdaLR(
            optimizer,
            lambda e: lr_factor(e, schedule.lr_decay_start, schedule.lr_decay_factor) if decay else 1.0,
        )
        self.momentum_scheduler = (
            MomentumScheduler(optimizer, schedule.momentum_schedule, schedule.momentum_warmup_steps)
            if any("momentum" in g for g in optimizer.param_groups)
            else None
        )
        self.params = [p for p in task.model.parameters() if p.requires_grad]
        self.writer = SummaryWriter(log_dir=str(run_dir))
        self.metrics_path = run_dir / "metrics.jsonl"
        self.step = 0

    def _total_steps(self) -> int:
        total = self.schedule.epochs * self.task.batches_per_epoch()
        if self.schedule.max_batches is not None:
            total = min(total, self.schedule.max_batches)
        return total

    def _evaluate(self, epoch: int, result: TrainingResult) -> dict[str, Any]:
        start = time.perf_counter()
        self.task.model.eval()
        with torch.inference_mode(), self._autocast():
            metrics = self.task.evaluate()
        self.task.model.train()
        result.eval_time_s += time.perf_counter() - start
        record = {"step": self.step, "epoch": epoch, **metrics, "lr": self.optimizer.param_groups[0]["lr"]}
        with self.metrics_path.open("a", encoding="utf-8") as f:
            f.write(json.dumps(record) + "\n")
        for key, tag in self.task.tensorboard_tags.items():
            if key in metrics:
                self.writer.add_scalar(tag, metrics[key], self.step)
        self.writer.flush()
        shown = ", ".join(f"{k} {metrics[k]:.4g}" for k in self.task.tensorboard_tags if k in metrics)
        log.info("eval epoch %d step %d: %s", epoch, self.step, shown)
        result.history.append(record)
        return record

    def _autocast(self) -> Any:
        if self.autocast_dtype is None:
            return torch.autocast(self.device.type, enabled=False)
        return torch.autocast(self.device.type, dtype=self.autocast_dtype)

    def fit(self) -> TrainingResult:
        s = self.schedule
        result = TrainingResult(status="running", steps=0, epochs_completed=0)
        total_steps = self._total_steps()
        started = time.perf_counter()
        window_nll = torch.zeros((), device=self.device, dtype=torch.float64)
        window_tokens, window_start, window_steps = 0, time.perf_counter(), 0
        last_eval_step = -1
        bar = tqdm(total=total_steps, disable=not self.progress, unit="batch", dynamic_ncols=True)
        self.task.model.train()
        done = False
        for epoch in range(1, s.epochs + 1):
            for batch in self.task.train_batches(epoch):
                with self._autocast():
                    loss, nll, tokens = self.task.train_loss(batch)
                self.optimizer.zero_grad(set_to_none=True)
                loss.backward()
                max_norm = s.clip_grad_norm if s.clip_grad_norm is not None else math.inf
                grad_norm = torch.nn.utils.clip_grad_norm_(self.params, max_norm)
                if not (torch.isfinite(grad_norm) and torch.isfinite(loss)):
                    result.status, result.diverged_at_step = "diverged", self.step + 1
                    log.error(
                        "non-finite %s at step %d (epoch %d): stopping this run; lower optimizer.lr or keep "
                        "gradient clipping on (task.clip_grad_norm).",
                        "loss" if not torch.isfinite(loss) else "gradient",
                        self.step + 1,
                        epoch,
                    )
                    done = True
                    break
                self.optimizer.step()
                if self.momentum_scheduler is not None:
                    self.momentum_scheduler.step()
                self.step += 1
                window_nll += nll.double()
                window_tokens += tokens
                window_steps += 1
                bar.update(1)

                if self.step % s.log_interval == 0:
                    elapsed = time.perf_counter() - window_start
                    mean_nll = window_nll.item() / window_tokens
                    tokens_per_s = window_tokens / elapsed
                    self._log_train(mean_nll, grad_norm.item(), tokens_per_s)
                    eta = (total_steps - self.step) * elapsed / window_steps
                    bar.set_postfix(loss=f"{mean_nll:.3f}", tok_s=f"{tokens_per_s:.0f}")
                    log.info(
                        "epoch %d step %d/%d: loss %.4f, %.0f tokens/s, ETA %s (training only)",
                        epoch, self.step, total_steps, mean_nll, tokens_per_s, _format_duration(eta),
                    )
                    window_nll.zero_()
                    window_tokens, window_start, window_steps = 0, time.perf_counter(), 0

                if s.eval_interval and self.step % s.eval_interval == 0:
                    self._evaluate(epoch, result)
                    last_eval_step = self.step
                    window_start = time.perf_counter()
                if s.max_batches is not None and self.step >= s.max_batches:
                    done = True
                    break
            if result.status == "diverged":
                break
            if last_eval_step != self.step:
                self._evaluate(epoch, result)
                last_eval_step = self.step
                window_start = time.perf_counter()
            result.epochs_completed = epoch
            self.lr_scheduler.step()
            if done:
                break
        bar.close()
        result.steps = self.step
        if result.status == "running":
            result.status = "completed"
            self.task.model.eval()
            with torch.inference_mode(), self._autocast():
                result.final = self.task.final_evaluation()
        result.wall_time_s = time.perf_counter() - started
        result.train_time_s = result.wall_time_s - result.eval_time_s
        self.writer.close()
        return result

    def _log_train(self, mean_nll: float, grad_norm: float, tokens_per_s: float) -> None:
        w, step = self.writer, self.step
        w.add_scalar("loss/train", mean_nll, step)
        w.add_scalar("ppl/train", math.exp(min(mean_nll, 50.0)), step)
        w.add_scalar("lr", self.optimizer.param_groups[0]["lr"], step)
        w.add_scalar("grad_norm", grad_norm, step)
        w.add_scalar("throughput/tokens_per_s", tokens_per_s, step)


def summarize(result: TrainingResult, task: Task) -> dict[str, Any]:
    """Final and best-by-validation numbers from the evaluation history."""
    summary: dict[str, Any] = {
        "status": result.status,
        "steps": result.steps,
        "epochs_completed": result.epochs_completed,
        "wall_time_s": round(result.wall_time_s, 2),
        "train_time_s": round(result.train_time_s, 2),
        "eval_time_s": round(result.eval_time_s, 2),
    }
    if result.diverged_at_step is not None:
        summary["diverged_at_step"] = result.diverged_at_step
    if result.history:
        scalar_keys = [k for k, v in result.history[-1].items() if isinstance(v, (int, float)) and k not in ("step", "epoch", "lr")]
        key = task.selection_metric
        pick = min if task.selection_lower_is_better else max
        best = pick(result.history, key=lambda r: r[key])
        summary["final"] = {k: result.history[-1][k] for k in ["step", "epoch", *scalar_keys]}
        summary["best_valid"] = {k: best[k] for k in ["step", "epoch", *scalar_keys]}
    summary.update(result.final)
    return summary


def _format_duration(seconds: float) -> str:
    seconds = int(seconds)
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"
