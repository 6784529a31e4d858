"""What a run reports while it trains, beside the loop: ``metrics.jsonl`` (one line per evaluation), the
TensorBoard scalars, the progress bar, and the log lines with the time left."""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import torch
from torch import Tensor
from torch.utils.tensorboard import SummaryWriter
from tqdm import tqdm

from adamomentum.summary import METRICS

log = logging.getLogger(__name__)


def rewrite_metrics(run_dir: Path, records: Iterable[dict[str, Any]]) -> None:
    """``metrics.jsonl`` holding ``records`` alone: a resumed run cuts it back to its checkpoint's evaluations."""
    with (run_dir / METRICS).open("w", encoding="utf-8") as f:
        f.writelines(json.dumps(record) + "\n" for record in records)


class _Window:
    """Training loss and throughput since the last log line."""

    def __init__(self, device: torch.device) -> None:
        # Summed on the device: it is read (a sync) only when a log line is due.
        self.nll = torch.zeros((), device=device, dtype=torch.float64)
        self.tokens = 0
        self.steps = 0
        self.started = time.perf_counter()

    def add(self, nll: Tensor, tokens: int) -> None:
        self.nll += nll.double()
        self.tokens += tokens
        self.steps += 1

    def restart(self) -> None:
        self.nll.zero_()
        self.tokens, self.steps = 0, 0
        self.started = time.perf_counter()

    def leave_out(self, seconds: float) -> None:
        """Throughput counts training time only: an evaluation's seconds leave the window's clock, and the
        batches trained before it in the window keep theirs."""
        self.started += seconds


class RunLog:
    """The reports of one ``Trainer.fit``, from step ``start_step`` to ``total_steps``.

    ``tensorboard_tags`` maps an evaluation's ``metrics.jsonl`` keys to TensorBoard tags; ``eval_every``
    holds the intervals (in batches) at which evaluations fall, for the time left.
    """

    def __init__(
        self,
        run_dir: Path,
        device: torch.device,
        *,
        start_step: int,
        total_steps: int,
        tensorboard_tags: dict[str, str],
        eval_every: tuple[int | None, ...],
        progress: bool,
    ) -> None:
        self.run_dir = run_dir
        self.total_steps = total_steps
        self.tensorboard_tags = tensorboard_tags
        self.eval_every = eval_every
        # Resuming purges TensorBoard points after the checkpoint, so curves never step back.
        self.writer = SummaryWriter(log_dir=str(run_dir), purge_step=start_step + 1 if start_step else None)
        self.window = _Window(device)
        # The bar's own estimate of the time left would count training only and jump after each evaluation:
        # the time left is in its postfix instead (``time_left``).
        self.bar = tqdm(
            total=total_steps,
            initial=start_step,
            disable=not progress,
            unit="batch",
            dynamic_ncols=True,
            bar_format="{l_bar}{bar}| {n_fmt}/{total_fmt} [{elapsed}{postfix}]",
        )

    def step(self, nll: Tensor, tokens: int) -> None:
        """One training batch: its summed NLL and token count join the window."""
        self.window.add(nll, tokens)
        self.bar.update(1)

    def training(
        self, epoch: int, step: int, grad_norm: Tensor, lr: float, evaluations: int, eval_time_s: float
    ) -> None:
        """TensorBoard scalars, the progress bar and a log line for the window since the last one.

        ``evaluations`` and ``eval_time_s``: how many evaluations the run has made, and their time, so that
        the time left counts those still to come.
        """
        window = self.window
        elapsed = time.perf_counter() - window.started
        mean_nll = window.nll.item() / window.tokens
        tokens_per_s = window.tokens / elapsed
        w = self.writer
        w.add_scalar("loss/train", mean_nll, step)
        w.add_scalar("ppl/train", math.exp(min(mean_nll, 50.0)), step)
        w.add_scalar("lr", lr, step)
        w.add_scalar("grad_norm", grad_norm.item(), step)
        w.add_scalar("throughput/tokens_per_s", tokens_per_s, step)
        eta = self.time_left(step, elapsed / window.steps, evaluations, eval_time_s)
        self.bar.set_postfix(loss=f"{mean_nll:.3f}", tok_s=f"{tokens_per_s:.0f}", eta=eta.split(" ", 1)[0])
        log.info(
            "epoch %d step %d/%d: loss %.4f, %.0f tokens/s, ETA %s",
            epoch,
            step,
            self.total_steps,
            mean_nll,
            tokens_per_s,
            eta,
        )
        window.restart()

    def evaluation(self, record: dict[str, Any], seconds: float) -> None:
        """One evaluation (``step``, ``epoch``, its metrics, ``lr``) that took ``seconds``: a line of
        ``metrics.jsonl``, its scalars and a log line."""
        with (self.run_dir / METRICS).open("a", encoding="utf-8") as f:
            f.write(json.dumps(record) + "\n")
        shown = {key: tag for key, tag in self.tensorboard_tags.items() if key in record}
        for key, tag in shown.items():
            self.writer.add_scalar(tag, record[key], record["step"])
        self.writer.flush()
        log.info(
            "eval epoch %d step %d: %s",
            record["epoch"],
            record["step"],
            ", ".join(f"{k} {record[k]:.4g}" for k in shown),
        )
        self.window.leave_out(seconds)

    def time_left(self, step: int, seconds_per_step: float, evaluations: int, eval_time_s: float) -> str:
        """The batches left at ``seconds_per_step``, and once one has been timed, each evaluation still to come
        at the mean of those so far."""
        seconds = (self.total_steps - step) * seconds_per_step
        if not evaluations:
            return f"{_format_duration(seconds)} (training only, until the first evaluation)"
        evaluations_left = sum(self.total_steps // every - step // every for every in self.eval_every if every)
        seconds += evaluations_left * eval_time_s / evaluations
        return f"{_format_duration(seconds)} (evaluations included)"

    def close(self) -> None:
        self.bar.close()
        self.writer.close()


def _format_duration(seconds: float) -> str:
    seconds = int(seconds)
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"
