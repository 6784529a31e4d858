"""The training loop both tasks share.

A task supplies the model, its training batches, the loss of one batch and an
evaluation; the loop owns everything else: optimizer and schedules, gradient
clipping, the evaluation schedule, divergence and checkpoints. What the run
reports as it goes (``metrics.jsonl``, TensorBoard, the progress bar) is in
``adamomentum.run_log``.
"""

from __future__ import annotations

import logging
import math
import signal
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn, Protocol

import torch
from torch import Tensor, nn
from torch.optim import Optimizer
from torch.optim.lr_scheduler import LambdaLR

from adamomentum.checkpoint import CHECKPOINT, CheckpointError, rng_state, save_checkpoint, set_rng_state
from adamomentum.measures import Measure
from adamomentum.optim import MomentumScheduler
from adamomentum.resources import resource_usage
from adamomentum.run_log import RunLog, rewrite_metrics
from adamomentum.signals import Interrupted, StopRequest

log = logging.getLogger(__name__)


class Task(Protocol):
    """What the loop needs from a task (see ``adamomentum.tasks``)."""

    @property
    def model(self) -> nn.Module: ...

    # The evaluation that picks the best one (adamomentum.measures, shared with the report)
    selection: Measure
    # metrics.jsonl key -> TensorBoard tag, for the evaluation scalars
    tensorboard_tags: dict[str, str]

    def batches_per_epoch(self) -> int: ...

    def train_batches(self, epoch: int, start: int = 0) -> Iterator[Any]:
        """The epoch's batches from batch ``start`` on (0-based), the same on every call."""
        ...

    def train_loss(self, batch: Any) -> tuple[Tensor, Tensor, int]:
        """The loss to minimise, the summed NLL of the batch (detached), its token count."""
        ...

    def evaluate(self) -> dict[str, Any]: ...

    def final_evaluation(self) -> dict[str, Any]:
        """Numbers computed once, after training, for ``summary.json``."""
        ...

    def state_dict(self) -> dict[str, Any]:
        """What a resumed run needs beyond model and optimizer (PTB: the carried hidden state)."""
        ...

    def load_state_dict(self, state: dict[str, Any]) -> None: ...


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
    # Clip each gradient element to [-clip_grad_value, clip_grad_value] (the authors' C++ code: 1), after
    # the norm is read; None: no element-wise clipping.
    clip_grad_value: float | None = None


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
    # Of this process, over the last fit(): minor page faults per training batch (evaluations
    # inside the loop included) and the peak resident memory.
    minor_faults_per_batch: float | None = None
    peak_rss_mb: float = 0.0


def lr_factor(epoch_index: int, start: int, factor: float) -> float:
    """Zaremba's decay: full lr for epochs 0..start, then x factor per epoch."""
    return factor ** max(epoch_index - start, 0)


class StepCallback(Protocol):
    """A function ``Trainer`` calls after every optimizer step (``Trainer.step_callbacks``).

    ``step`` counts the steps taken, this one included (the step of TensorBoard and
    ``metrics.jsonl``); ``loss`` is the loss the step minimised (detached), ``nll`` the batch's
    NLL summed over its ``tokens`` real tokens (``nll / tokens`` per token, whatever the loss
    reduction) and ``grad_norm`` the total gradient norm before clipping; the tensors are on the
    training device (reading one syncs a GPU). The task gives the model and the optimizer its
    state. A callback observes: changing what it is given changes the run.
    """

    def __call__(
        self, step: int, loss: Tensor, nll: Tensor, tokens: int, grad_norm: Tensor, task: Task, optimizer: Optimizer
    ) -> None: ...


class Trainer:
    """The training loop of both tasks (``fit``), with its schedules, logs and checkpoints."""

    def __init__(
        self,
        task: Task,
        optimizer: Optimizer,
        schedule: TrainingSchedule,
        run_dir: Path,
        device: torch.device,
        precision: str = "fp32",
        progress: bool = True,
        checkpoint_interval: int | None = None,
        config_yaml: str = "",
        commit: str | None = None,
        step_callbacks: Sequence[StepCallback] = (),
        device_description: str | None = None,
    ) -> None:
        self.task = task
        self.optimizer = optimizer
        self.schedule = schedule
        self.run_dir = run_dir
        self.device = device
        self.progress = progress
        self.checkpoint_interval = checkpoint_interval
        self.config_yaml = config_yaml
        self.step_callbacks = list(step_callbacks)
        # The git commits whose code trained this run: the launch's, then each resume's if different.
        self.commits = [commit]
        # The devices (a CPU's model, instruction sets and threads) that trained it: the launch's, then each
        # resume's if different. Runs agree bit for bit only on one kind.
        self.devices = [device_description]
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
        self.max_grad_norm = schedule.clip_grad_norm if schedule.clip_grad_norm is not None else math.inf
        # Position: the next batch is batch `batch_in_epoch` (0-based) of epoch `epoch` (1-based).
        self.step = 0
        self.epoch = 1
        self.batch_in_epoch = 0
        self.last_eval_step = -1
        self.last_checkpoint_step = 0
        self.result = TrainingResult(status="running", steps=0, epochs_completed=0)
        self.wall_offset = 0.0
        # Reading a finiteness flag every batch would stall the CUDA queue; there the first
        # non-finite step is kept on the device and read wherever the loop syncs anyway (logging,
        # evaluation, checkpoints). On CPU the check costs nothing and stops before the bad update.
        self.check_every_step = device.type != "cuda"

    # -- the loop ----------------------------------------------------------------------------
    def fit(self) -> TrainingResult:
        """Train from the current position to the end: for each epoch, for each batch, loss, backward,
        clip, step, and evaluate when due. Raises Interrupted on a stop signal (``stop_signals``)."""
        self._start_fit()
        with self._stop:
            while self._training():
                for batch in self.task.train_batches(self.epoch, self.batch_in_epoch):
                    with self._autocast():
                        loss, nll, tokens = self.task.train_loss(batch)
                    self.optimizer.zero_grad(set_to_none=True)
                    loss.backward()
                    grad_norm = torch.nn.utils.clip_grad_norm_(self.params, self.max_grad_norm)
                    if self.schedule.clip_grad_value is not None:
                        torch.nn.utils.clip_grad_value_(self.params, self.schedule.clip_grad_value)
                    if not self._finite(loss, grad_norm):
                        break
                    self.optimizer.step()
                    self._after_step(loss, nll, tokens, grad_norm)
                    if not self._at_batch_boundary(grad_norm):
                        break
                if self.result.status != "running":  # diverged
                    break
                # The epoch's batches, or max_batches, ran out: evaluate there unless this step just was.
                if self.last_eval_step != self.step:
                    self._evaluate()
                if self.batch_in_epoch >= self.task.batches_per_epoch():
                    self._next_epoch()
        return self._end_fit()

    def _training(self) -> bool:
        more_epochs = self.epoch <= self.schedule.epochs
        return more_epochs and not self._reached_max_batches() and self.result.status == "running"

    def _reached_max_batches(self) -> bool:
        return self.schedule.max_batches is not None and self.step >= self.schedule.max_batches

    def _after_step(self, loss: Tensor, nll: Tensor, tokens: int, grad_norm: Tensor) -> None:
        """Count the step taken; the momentum schedule, the log window and step callbacks follow it."""
        if self.momentum_scheduler is not None:
            self.momentum_scheduler.step()
        self.step += 1
        self.batch_in_epoch += 1
        self._log.step(nll, tokens)
        for callback in self.step_callbacks:
            callback(self.step, loss.detach(), nll, tokens, grad_norm, self.task, self.optimizer)

    def _at_batch_boundary(self, grad_norm: Tensor) -> bool:
        """What is due after this step: a log line, an evaluation, a checkpoint, a stop.

        Returns False where the epoch's batches end early: at ``max_batches`` or on divergence.
        """
        s = self.schedule
        due_log = self.step % s.log_interval == 0
        due_eval = s.eval_interval is not None and self.step % s.eval_interval == 0
        due_checkpoint = self.checkpoint_interval is not None and self.step % self.checkpoint_interval == 0
        reached_max = self._reached_max_batches()
        epoch_done = self.batch_in_epoch >= self.task.batches_per_epoch()
        stop_requested = self._stop.signum is not None
        syncs = due_log or due_eval or due_checkpoint or reached_max or epoch_done or stop_requested
        if syncs and self._deferred_divergence():
            return False
        if due_log:
            lr = self.optimizer.param_groups[0]["lr"]
            self._log.training(self.epoch, self.step, grad_norm, lr, len(self.result.history), self.result.eval_time_s)
        if due_eval:
            self._evaluate()
        if reached_max:
            return False
        if due_checkpoint:
            self.save()
        if stop_requested:
            self._stop_for_signal()
        return True

    def _next_epoch(self) -> None:
        """Epoch rollover: the lr schedule's step, and a checkpoint at the start of the next epoch."""
        self.result.epochs_completed = self.epoch
        self.lr_scheduler.step()
        self.epoch += 1
        self.batch_in_epoch = 0
        self.save()

    def _start_fit(self) -> None:
        self.wall_offset = self.result.wall_time_s
        self._wall_started = time.perf_counter()
        self._faults_started, self._steps_started = resource_usage()[0], self.step
        total_steps = self.schedule.epochs * self.task.batches_per_epoch()
        if self.schedule.max_batches is not None:
            total_steps = min(total_steps, self.schedule.max_batches)
        self._log = RunLog(
            self.run_dir,
            self.device,
            start_step=self.step,
            total_steps=total_steps,
            tensorboard_tags=self.task.tensorboard_tags,
            eval_every=(self.task.batches_per_epoch(), self.schedule.eval_interval),
            progress=self.progress,
        )
        self.task.model.train()
        self._first_bad_step = torch.full((), -1, dtype=torch.long, device=self.device)
        self._stop = StopRequest()

    def _end_fit(self) -> TrainingResult:
        result = self.result
        self._log.close()
        result.steps = self.step
        if self.step > self._steps_started:
            faults = resource_usage()[0] - self._faults_started
            result.minor_faults_per_batch = faults / (self.step - self._steps_started)
        if result.status == "running":
            result.status = "completed"
            self._final_evaluation()
        result.wall_time_s = self._wall()
        result.train_time_s = result.wall_time_s - result.eval_time_s
        result.peak_rss_mb = resource_usage()[1]
        return result

    def _stop_for_signal(self) -> NoReturn:
        """A checkpoint at this batch boundary, then the signal's previous handler (submitit's
        requeues the job and exits), or Interrupted."""
        self.save()
        self._log.close()
        signum = self._stop.signum
        assert signum is not None, "called only once a stop signal arrived"
        checkpointed = self.checkpoint_interval is not None
        where = f"checkpoint written to {self.run_dir / CHECKPOINT}" if checkpointed else "no checkpoint (they are off)"
        log.warning("%s at step %d: %s; stopping", signal.Signals(signum).name, self.step, where)
        self._stop.hand_over()
        raise Interrupted(signum, self.step, self.run_dir, checkpointed)

    # -- divergence --------------------------------------------------------------------------
    def _finite(self, loss: Tensor, grad_norm: Tensor) -> bool:
        """False when this step's loss or gradient is not finite and the run stops before its update.

        Where the check is deferred (CUDA), always True: the first non-finite step is recorded on
        the device and found by ``_deferred_divergence`` at the next sync.
        """
        finite = torch.isfinite(loss) & torch.isfinite(grad_norm)
        if not self.check_every_step:
            self._first_bad_step = torch.where(
                ~finite & (self._first_bad_step < 0), self.step + 1, self._first_bad_step
            )
            return True
        if not finite:
            self._mark_diverged(self.step + 1)
            return False
        return True

    def _deferred_divergence(self) -> bool:
        """Reads the device-side record of the first non-finite step (a host sync on CUDA)."""
        if self.check_every_step:
            return False
        step = int(self._first_bad_step.item())
        if step >= 0:
            self._mark_diverged(step)
        return step >= 0

    def _mark_diverged(self, step: int) -> None:
        self.result.status, self.result.diverged_at_step = "diverged", step
        log.error(
            "non-finite loss or gradient at step %d (epoch %d): this run stops and keeps its last checkpoint "
            "(step %d); lower optimizer.lr or keep gradient clipping on (trainer.clip_grad_norm).",
            step,
            self.epoch,
            self.last_checkpoint_step,
        )

    # -- evaluation --------------------------------------------------------------------------
    def _evaluate(self) -> None:
        start = time.perf_counter()
        self.task.model.eval()
        with torch.inference_mode(), self._autocast():
            metrics = self.task.evaluate()
        self.task.model.train()
        seconds = time.perf_counter() - start
        self.result.eval_time_s += seconds
        record = {"step": self.step, "epoch": self.epoch, **metrics, "lr": self.optimizer.param_groups[0]["lr"]}
        self._log.evaluation(record, seconds)
        self.result.history.append(record)
        self.last_eval_step = self.step

    def _final_evaluation(self) -> None:
        self.task.model.eval()
        started = time.perf_counter()
        with torch.inference_mode(), self._autocast():
            self.result.final = self.task.final_evaluation()
        self.result.eval_time_s += time.perf_counter() - started

    def _autocast(self) -> Any:
        if self.autocast_dtype is None:
            return torch.autocast(self.device.type, enabled=False)
        return torch.autocast(self.device.type, dtype=self.autocast_dtype)

    # -- checkpoints -------------------------------------------------------------------------
    def save(self) -> None:
        """A checkpoint of the run as it stands (none where ``checkpoint_interval`` is None)."""
        if self.checkpoint_interval is None:
            return
        self.result.wall_time_s = self._wall()
        save_checkpoint(self.run_dir, self.state_dict())
        self.last_checkpoint_step = self.step

    def resume(self, state: dict[str, Any]) -> None:
        """Continue from a checkpoint (``load_checkpoint``): its state, and ``metrics.jsonl`` cut back
        to the evaluations the checkpoint had seen (those logged after it will be redone)."""
        self.load_state_dict(state)
        rewrite_metrics(self.run_dir, self.result.history)

    def _wall(self) -> float:
        return self.wall_offset + time.perf_counter() - self._wall_started

    def state_dict(self) -> dict[str, Any]:
        r = self.result
        return {
            "step": self.step,
            "epoch": self.epoch,
            "batch_in_epoch": self.batch_in_epoch,
            "last_eval_step": self.last_eval_step,
            "epochs_completed": r.epochs_completed,
            "history": r.history,
            "elapsed": {"wall": r.wall_time_s, "eval": r.eval_time_s},
            "model": self.task.model.state_dict(),
            "task": self.task.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "lr_scheduler": self.lr_scheduler.state_dict(),
            "momentum_scheduler": self.momentum_scheduler.state_dict() if self.momentum_scheduler else None,
            "rng": rng_state(),
            "config": self.config_yaml,
            "commits": self.commits,
            "devices": self.devices,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        try:
            self.task.model.load_state_dict(state["model"])
            self.optimizer.load_state_dict(state["optimizer"])
        except (RuntimeError, ValueError, KeyError) as e:
            raise CheckpointError(
                f"the checkpoint in {self.run_dir} does not fit this model or optimizer "
                f"({str(e).splitlines()[0][:200]}); was the model config changed? Start a new run instead."
            ) from None
        self.task.load_state_dict(state["task"])
        self.lr_scheduler.load_state_dict(state["lr_scheduler"])
        if self.momentum_scheduler and state["momentum_scheduler"]:
            self.momentum_scheduler.load_state_dict(state["momentum_scheduler"])
        set_rng_state(state["rng"])
        self.step, self.epoch, self.batch_in_epoch = state["step"], state["epoch"], state["batch_in_epoch"]
        self.last_checkpoint_step = self.step
        # Checkpoints written before commits were recorded name none: the launch's commit is unknown.
        earlier = state.get("commits", [None])
        self.commits = [*earlier, *[c for c in self.commits if c not in earlier]]
        earlier_devices = state.get("devices", [None])
        here = [d for d in self.devices if d not in earlier_devices]
        if here and earlier_devices != [None]:
            log.warning(
                "resumed on another kind of device: %s (it ran on %s before); runs agree bit for bit only on one kind",
                here[0],
                "; ".join(str(d) for d in earlier_devices),
            )
        self.devices = [*earlier_devices, *here]
        self.last_eval_step = state["last_eval_step"]
        self.result.epochs_completed = state["epochs_completed"]
        self.result.history = list(state["history"])
        self.result.wall_time_s = state["elapsed"]["wall"]
        self.result.eval_time_s = state["elapsed"]["eval"]


def summarize(result: TrainingResult, task: Task) -> dict[str, Any]:
    """Final and best-by-validation numbers from the evaluation history."""
    summary: dict[str, Any] = {
        "status": result.status,
        "steps": result.steps,
        "epochs_completed": result.epochs_completed,
        "wall_time_s": round(result.wall_time_s, 2),
        "train_time_s": round(result.train_time_s, 2),
        "eval_time_s": round(result.eval_time_s, 2),
        "peak_rss_mb": round(result.peak_rss_mb, 1),
    }
    if result.minor_faults_per_batch is not None:
        summary["minor_faults_per_batch"] = round(result.minor_faults_per_batch, 1)
    if result.diverged_at_step is not None:
        summary["diverged_at_step"] = result.diverged_at_step
    if result.history:
        scalar_keys = [
            k for k, v in result.history[-1].items() if isinstance(v, (int, float)) and k not in ("step", "epoch", "lr")
        ]
        best = task.selection.best(result.history)
        summary["final"] = {k: result.history[-1][k] for k in ["step", "epoch", *scalar_keys]}
        summary["best_valid"] = {k: best[k] for k in ["step", "epoch", *scalar_keys]}
    summary.update(result.final)
    return summary
