"""Trainer throughput against a bare PyTorch loop on the Penn Treebank model.

    make bench                       # or: python scripts/bench_train.py --data-dir data/ptb

Both train the same 2x256 LSTM (batch 20, bptt 20, clipping at 5, the same
optimizer) in interleaved rounds in one process, so machine drift hits both
alike; only same-run ratios mean anything. It also times one evaluation of the
validation and test splits and reports its share of the training time that
500 batches (the evaluation interval) take.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from omegaconf import OmegaConf

from adamomentum.config import PTBTaskConfig
from adamomentum.optim import build_optimizer
from adamomentum.tasks.ptb import PTBTask, detach
from adamomentum.trainer import Trainer, TrainingSchedule

OPTIMIZER_HYPER = {
    "sgd": {"lr": 1.0},
    "momentum": {"lr": 1.0, "momentum": 0.6},
    "adagrad": {"lr": 0.01},
    "adamomentum": {"lr": 0.02, "momentum": 0.9},
}


def bare_loop(task: PTBTask, optimizer: torch.optim.Optimizer, batches: int, start: int) -> float:
    """pytorch/examples word_language_model's loop; returns seconds."""
    model, data, bptt = task.model, task.train_data, task.cfg.bptt
    hidden = model.init_hidden(task.cfg.batch_size)
    began = time.perf_counter()
    for i in range(start, start + batches):
        inputs, targets = data[i * bptt : (i + 1) * bptt], data[i * bptt + 1 : (i + 1) * bptt + 1]
        hidden = detach(hidden)
        model.zero_grad()
        output, hidden = model(inputs, hidden)
        loss = F.cross_entropy(output.view(-1, task.vocab_size), targets.reshape(-1), reduction="sum") / inputs.shape[1]
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        optimizer.step()
    return time.perf_counter() - began


def trainer_loop(task: PTBTask, optimizer: torch.optim.Optimizer, batches: int, run_dir: Path) -> float:
    """The repository's Trainer for ``batches`` batches, evaluation switched off; returns seconds."""
    schedule = TrainingSchedule(
        epochs=1, max_batches=batches, eval_interval=None, log_interval=100, clip_grad_norm=5.0,
        lr_decay=False, lr_decay_start=0, lr_decay_factor=1.0, momentum_schedule="constant", momentum_warmup_steps=0,
    )
    trainer = Trainer(task, optimizer, schedule, run_dir, task.device, progress=False, checkpoint_interval=None)
    result = trainer.fit()
    return result.train_time_s


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", default="data/ptb")
    parser.add_argument("--optimizer", default="adamomentum", choices=sorted(OPTIMIZER_HYPER))
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--batches", type=int, default=40, help="batches per round and loop")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    if device.type == "cpu":
        torch.set_flush_denormal(True)
    cfg = OmegaConf.structured(PTBTaskConfig(data_dir=args.data_dir, download=False))
    tasks, optimizers = {}, {}
    for name in ("trainer", "bare"):
        torch.manual_seed(0)
        tasks[name] = PTBTask(cfg, device)
        # The trainer's evaluation is timed separately below.
        tasks[name].evaluate = dict
        tasks[name].final_evaluation = dict
        optimizers[name] = build_optimizer(args.optimizer, tasks[name].model.parameters(), **OPTIMIZER_HYPER[args.optimizer])
    tokens = args.batches * cfg.batch_size * cfg.bptt
    ms = {"trainer": [], "bare": []}
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.rounds + 1):
            t_trainer = trainer_loop(tasks["trainer"], optimizers["trainer"], args.batches, Path(tmp) / str(r))
            t_bare = bare_loop(tasks["bare"], optimizers["bare"], args.batches, start=r * args.batches)
            if r:  # round 0 warms up allocator and optimizer state
                ms["trainer"].append(1e3 * t_trainer / args.batches)
                ms["bare"].append(1e3 * t_bare / args.batches)

    eval_task = PTBTask(cfg, device)
    eval_task.model.eval()
    began = time.perf_counter()
    with torch.inference_mode():
        eval_task.evaluate()
    eval_s = time.perf_counter() - began
    eval_tokens = (eval_task.valid_data.shape[0] - 1) * eval_task.valid_data.shape[1] + (
        eval_task.test_data.shape[0] - 1
    ) * eval_task.test_data.shape[1]

    print(f"device: {device} ({torch.get_num_threads()} threads), torch {torch.__version__}, optimizer {args.optimizer}, "
          f"{args.rounds} rounds x {args.batches} batches (batch 20, bptt 20)")
    print(f"{'loop':10s} {'min':>8s} {'median':>8s} {'max':>8s} ms/batch  {'tokens/s':>9s}")
    for name, values in ms.items():
        med = statistics.median(values)
        print(f"{name:10s} {min(values):8.1f} {med:8.1f} {max(values):8.1f}           {tokens / args.batches / med * 1e3:9.0f}")
    ratio = statistics.median(ms["trainer"]) / statistics.median(ms["bare"])
    print(f"\ntrainer / bare loop (median ms/batch): {ratio:.3f} (target <= 1.05)")
    train_500 = 500 * statistics.median(ms["trainer"]) / 1e3
    print(f"evaluation (valid + test, {eval_tokens} tokens): {eval_s:.1f} s = {eval_tokens / eval_s:.0f} tokens/s; "
          f"{100 * eval_s / train_500:.0f}% of the {train_500:.0f} s that 500 training batches take (target < 30%)")


if __name__ == "__main__":
    main()
