"""Command line: ``python -m adamomentum.train task=<ptb|ner> optimizer=<name> [overrides]``.

Composes the config from conf/, trains, and writes into the run directory
(``outputs/<task>/<optimizer>/<time>/`` by default): TensorBoard event files,
``metrics.jsonl`` (one line per evaluation), ``summary.json`` and ``train.log``.
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import functools
import json
import logging
import os
import platform
import random
import subprocess
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import torch
from torch.optim import Optimizer

try:
    import hydra
    import numpy as np
    from hydra.core.hydra_config import HydraConfig
    from omegaconf import DictConfig, OmegaConf
except ModuleNotFoundError as missing:  # a torch-only install: the optimizer works, the experiments do not
    sys.exit(f"error: {missing.name} is not installed, and the experiments need it: pip install "
             "'adamomentum[experiments]' (make venv installs everything); the optimizer alone needs only torch.")

from adamomentum.checkpoint import CHECKPOINT, CheckpointError, load_checkpoint
from adamomentum.config import fill_keys_added_later, flatten, register_configs, with_keys_added_later
from adamomentum.errors import ConfigError, UserError
from adamomentum.optim import build_optimizer
from adamomentum.tasks import build_task
from adamomentum.trainer import Interrupted, Trainer, TrainingSchedule, reset_peak_rss, summarize

log = logging.getLogger("adamomentum.train")

# What a resumed run may change: where and how fast it runs, and how long it trains.
RESUME_MAY_CHANGE = {
    "resume", "device", "threads", "keep_freed_memory", "progress", "log_interval", "checkpoint_interval",
    "task.epochs", "task.max_batches", "task.data_dir", "task.download",
}
FINISHED = ("completed", "diverged")

PACKAGE_DIR = Path(__file__).resolve().parent
# A wheel carries the configs inside the package; a checkout keeps them at the top.
CONFIG_DIR = PACKAGE_DIR / "conf" if (PACKAGE_DIR / "conf").is_dir() else PACKAGE_DIR.parents[1] / "conf"


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(f"device={name} was asked for, but PyTorch sees no CUDA GPU; use device=cpu or device=auto.")
    try:
        return torch.device(name)
    except RuntimeError as e:
        raise ConfigError(f"device={name!r} is not a device PyTorch knows ({e}); use auto, cpu or cuda.") from None


# mallopt parameters, from glibc's malloc.h
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3


def keep_freed_memory() -> bool:
    """Make glibc's malloc keep freed memory for reuse; returns False where malloc is not glibc's.

    By default glibc serves large blocks with mmap and returns them, and the free
    top of the heap, to the OS on free(), so every batch page-faults its activation
    buffers back in: about 12,000 minor faults and a tenth of the time of a PTB
    batch on CPU (README, Performance). Blocks up to 32 MiB (glibc's largest
    threshold; a PTB batch's logits take 16 MB) now come from the heap, and up to
    1 GiB of free heap stays mapped.
    """
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    return bool(mallopt(M_MMAP_THRESHOLD, 32 << 20)) and bool(mallopt(M_TRIM_THRESHOLD, 1 << 30))


def configure_process(cfg: DictConfig, device: torch.device) -> None:
    """Threads, floating-point and allocator settings of the config, for this process."""
    if cfg.threads is not None:
        torch.set_num_threads(cfg.threads)
    if device.type == "cpu":
        torch.set_flush_denormal(cfg.flush_denormal)
    if cfg.keep_freed_memory and not keep_freed_memory():
        log.info("keep_freed_memory: this C library has no glibc mallopt; left as it is.")
    if cfg.deterministic:
        # CPU runs are deterministic already; on CUDA this picks slower deterministic kernels.
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(True)
        torch.backends.cudnn.deterministic = True
        torch.backends.cudnn.benchmark = False


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def threads_per_worker(n_jobs: int | None) -> int:
    """Torch threads for each of ``n_jobs`` parallel runs, so that together they never oversubscribe the cores."""
    cores = os.cpu_count() or 1
    workers = cores if n_jobs is None or n_jobs < 1 else n_jobs
    return max(1, cores // workers)


@functools.cache
def git_commit() -> str | None:
    """The commit of the code this process runs: HEAD (and whether the tree was dirty) at the first call.

    Read once per process, at its first run: a multirun process keeps the code it
    imported while the checkout may move on under it.
    """
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=PACKAGE_DIR, capture_output=True, text=True, timeout=10, check=True
        )
    except (OSError, subprocess.SubprocessError):
        return None
    commit = out.stdout.strip()
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=PACKAGE_DIR,
                           capture_output=True, text=True, timeout=10)
    return commit + ("-dirty" if dirty.stdout.strip() else "")


def cpu_model() -> str:
    """The CPU's model name (Linux's /proc/cpuinfo), or what ``platform`` knows elsewhere."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


# The CPU flags (Linux's /proc/cpuinfo) of instructions that multiply bf16 natively: x86's AMX and AVX512-BF16,
# Arm's BF16. Without them oneDNN emulates bf16, 30-60x slower than float32 on an AVX2-only CPU, and its
# LSTM primitive fails there.
BF16_FLAGS = ("amx_bf16", "avx512_bf16", "bf16")
# Set to a non-empty value to declare the CPU's bf16 instructions (a platform without /proc/cpuinfo), or to ""
# to declare it has none.
CPU_BF16_VARIABLE = "ADAMOMENTUM_CPU_BF16"


def cpu_bf16() -> str | None:
    """The bf16 instructions of this CPU (``AMX_BF16+AVX512_BF16``, say), or None where it has none."""
    if CPU_BF16_VARIABLE in os.environ:
        return os.environ[CPU_BF16_VARIABLE] or None
    flags: set[str] = set()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith(("flags", "Features")):
                flags.update(line.split(":", 1)[1].split())
    except OSError:
        pass
    return "+".join(f.upper() for f in BF16_FLAGS if f in flags) or None


def device_description(device: torch.device) -> str:
    """The device in words. On a CPU it names the model, the instruction set torch's kernels use (AVX2,
    AVX512, ...) and its bf16 instructions: runs agree bit for bit only on the same kind, and differ
    elsewhere by rounding, which a blowing-up run amplifies (README, Reproducibility)."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    capability = torch.backends.cpu.get_cpu_capability()
    return (f"cpu ({cpu_model()}, {platform.machine()}, {capability}, bf16: {cpu_bf16() or 'none'}, "
            f"{torch.get_num_threads()} threads)")


def bf16_refusal(device: torch.device) -> str | None:
    """Why ``precision=bf16`` must not run on ``device``, or None where it may."""
    if device.type != "cpu" or cpu_bf16() is not None:
        return None
    return (f"precision=bf16: this CPU ({cpu_model()}) has no bf16 instructions (AVX512-BF16, AMX-BF16 or Arm "
            "BF16), so bf16 would run 30-60x slower than float32 and its LSTM fails; use precision=fp32 (the "
            f"default), or set {CPU_BF16_VARIABLE}=<its instructions> if the CPU has them.")


def validate(cfg: DictConfig) -> None:
    """Checks the schema's types cannot express; each names the override that fixes it."""
    task, opt = cfg.task, cfg.optimizer
    if task.epochs < 0:
        raise ConfigError(f"task.epochs={task.epochs} must be >= 0.")
    if task.eval_interval is not None and task.eval_interval <= 0:
        raise ConfigError(f"task.eval_interval={task.eval_interval} must be a positive number of batches, or null.")
    if not 0 < task.train_fraction <= 1:
        raise ConfigError(f"task.train_fraction={task.train_fraction} must lie in (0, 1].")
    if task.clip_grad_value is not None and task.clip_grad_value <= 0:
        raise ConfigError(f"task.clip_grad_value={task.clip_grad_value} must be positive, or null for no element-wise "
                          "clipping.")
    if task.max_batches is not None and task.max_batches <= 0:
        raise ConfigError(f"task.max_batches={task.max_batches} must be positive, or null for no limit.")
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
    if cfg.precision == "bf16" and (refusal := bf16_refusal(resolve_device(cfg.device))):
        raise ConfigError(refusal)
    if cfg.log_interval <= 0:
        raise ConfigError(f"log_interval={cfg.log_interval} must be positive.")


def check_resumable(stored_yaml: str, cfg: DictConfig, run_dir: Path) -> None:
    """A checkpoint continues only the config that wrote it (bar RESUME_MAY_CHANGE)."""
    current = flatten(OmegaConf.to_container(cfg, resolve=True))
    stored = with_keys_added_later(current.get("task.name"),
                                   flatten(OmegaConf.to_container(OmegaConf.create(stored_yaml), resolve=True)))
    # Other options added to adamomentum after the checkpoint was written are not in `stored`: their
    # defaults keep the old behaviour, and they are not compared.
    changed = sorted(k for k in stored if stored[k] != current.get(k) and k not in RESUME_MAY_CHANGE)
    if changed:
        diffs = "; ".join(f"{k}: {stored.get(k)!r} -> {current.get(k)!r}" for k in changed[:10])
        raise CheckpointError(
            f"{run_dir} was trained with another config ({diffs}); a resumed run keeps its config. "
            "Drop those overrides, or start a new run in a new directory."
        )


def config_for_resume(cfg: DictConfig, overrides: list[str]) -> DictConfig:
    """The stored config of ``cfg.resume`` (keys the checkpoint predates set to what its run did,
    ``ADDED_LATER``), with the command line's overrides applied on top."""
    run_dir = Path(cfg.resume)
    state = load_checkpoint(run_dir)
    stored = OmegaConf.create(state["config"])
    fill_keys_added_later(stored)
    for override in overrides:
        key = override.split("=", 1)[0].lstrip("+~")
        if key in ("task", "optimizer"):
            key = f"{key}.name"
        OmegaConf.update(stored, key, OmegaConf.select(cfg, key), force_add=True)
    check_resumable(state["config"], stored, run_dir)
    return stored


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
    task = build_task(cfg.task, device, cfg.seed)
    opt_cfg = cfg.optimizer
    optimizer = optimizer_from_config(cfg, task.model.parameters())
    schedule = TrainingSchedule(
        epochs=cfg.task.epochs,
        max_batches=cfg.task.max_batches,
        eval_interval=cfg.task.eval_interval,
        log_interval=cfg.log_interval,
        clip_grad_norm=cfg.task.clip_grad_norm,
        clip_grad_value=cfg.task.clip_grad_value,
        lr_decay=opt_cfg.lr_decay,
        lr_decay_start=cfg.task.lr_decay_start,
        lr_decay_factor=cfg.task.lr_decay_factor,
        momentum_schedule=opt_cfg.momentum_schedule,
        momentum_warmup_steps=opt_cfg.momentum_warmup_steps,
    )
    return Trainer(
        task, optimizer, schedule, run_dir, device, cfg.precision, cfg.progress,
        checkpoint_interval=cfg.checkpoint_interval, config_yaml=OmegaConf.to_yaml(cfg, resolve=True), commit=commit,
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


def run(cfg: DictConfig, run_dir: Path) -> dict[str, Any]:
    """Train one (task, optimizer, seed) and write its run directory; returns the summary.

    A run directory that already holds a finished ``summary.json`` is left as it
    is; one that holds a checkpoint is continued from it; one that another process
    is training is skipped (``status: "training elsewhere"``).
    """
    with claimed(run_dir) as ours:
        if not ours:
            log.info("%s is being trained by another process; skipped here.", run_dir)
            return {"status": "training elsewhere"}
        return _run_claimed(cfg, run_dir)


def _run_claimed(cfg: DictConfig, run_dir: Path) -> dict[str, Any]:
    summary_path = run_dir / "summary.json"
    if summary_path.exists():
        previous = json.loads(summary_path.read_text(encoding="utf-8"))
        if previous.get("status") in FINISHED:
            check_resumable(OmegaConf.to_yaml(OmegaConf.create(previous["config"])), cfg, run_dir)
            log.info("%s already finished (%s); nothing to do.", run_dir, previous["status"])
            return previous
    validate(cfg)
    log.info("config:\n%s", OmegaConf.to_yaml(cfg))
    reset_peak_rss()
    trainer = set_up_trainer(cfg, run_dir, git_commit())
    task, opt_cfg, device = trainer.task, cfg.optimizer, trainer.device
    if (run_dir / CHECKPOINT).exists():
        state = load_checkpoint(run_dir)
        check_resumable(state["config"], cfg, run_dir)
        trainer.resume(state)
        log.info("resuming %s at epoch %d, step %d", run_dir, trainer.epoch, trainer.step)
    result = trainer.fit()
    summary = {
        "task": cfg.task.name,
        "optimizer": opt_cfg.name,
        "seed": cfg.seed,
        **summarize(result, task),
        "device": trainer.devices[0] or device_description(device),
        **({"devices": trainer.devices} if len(trainer.devices) > 1 else {}),
        "torch": torch.__version__,
        "git_commit": trainer.commits[0],
        **({"git_commits": trainer.commits} if len(trainer.commits) > 1 else {}),
        "command": " ".join(["python -m adamomentum.train", *sys.argv[1:]]),
        "config": OmegaConf.to_container(cfg, resolve=True),
    }
    (run_dir / "summary.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    log.info("%s: %s after %d steps; summary in %s", opt_cfg.name, result.status, result.steps, run_dir / "summary.json")
    return summary


register_configs()


@hydra.main(config_path=str(CONFIG_DIR), config_name="config", version_base=None)
def _hydra_main(cfg: DictConfig) -> None:
    hydra_cfg = HydraConfig.get()
    run_dir = Path(hydra_cfg.runtime.output_dir)
    try:
        if cfg.resume is not None:
            cfg = config_for_resume(cfg, list(hydra_cfg.overrides.task))
            run_dir = Path(cfg.resume)
        if cfg.threads is None and "joblib" in str(hydra_cfg.launcher.get("_target_", "")):
            cfg.threads = threads_per_worker(hydra_cfg.launcher.n_jobs)
        run(cfg, run_dir)
    except Interrupted as e:
        print(str(e), file=sys.stderr)
        sys.exit(e.exit_code)
    except UserError as e:
        if os.environ.get("HYDRA_FULL_ERROR") == "1":
            raise
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)


def _resume_in_place(argv: list[str]) -> list[str]:
    """``resume=DIR`` logs into DIR itself and leaves DIR's .hydra record of the first launch alone."""
    resume = [a.split("=", 1)[1] for a in argv if a.startswith("resume=")]
    if not resume or resume[-1] in ("null", "") or any(a.startswith("hydra.run.dir=") for a in argv):
        return argv
    run_dir = Path(resume[-1])
    if not run_dir.is_dir():
        print(f"error: resume={run_dir}: no such run directory; pass the folder that holds checkpoint.pt.",
              file=sys.stderr)
        sys.exit(2)
    return [*argv, f"hydra.run.dir={run_dir}", "hydra.output_subdir=null"]


def _check_output_dirs(argv: list[str]) -> None:
    """Fail before Hydra does (with a traceback) when run directories cannot be created."""
    targets = [a.split("=", 1)[1] for a in argv if a.startswith(("hydra.run.dir=", "hydra.sweep.dir="))]
    for target in targets or ["outputs"]:
        existing = Path(target)
        while not existing.exists() and existing != existing.parent:
            existing = existing.parent
        if not existing.is_dir() or not os.access(existing, os.W_OK):
            problem = "is not a directory" if not existing.is_dir() else "is not writable"
            print(f"error: cannot create run directories under {target}: {existing} {problem}; pass "
                  "hydra.run.dir=<writable folder> (hydra.sweep.dir for --multirun) or start from a writable "
                  "directory.", file=sys.stderr)
            sys.exit(2)


def _check_precision(argv: list[str]) -> None:
    """Refuse bf16 where the CPU cannot run it before Hydra makes a run directory (``validate`` checks the
    composed config again, for a precision an experiment config sets)."""
    if "precision=bf16" not in argv:
        return
    devices = [a.split("=", 1)[1] for a in argv if a.startswith("device=")]
    try:
        refusal = bf16_refusal(resolve_device(devices[-1] if devices else "auto"))
    except ConfigError as e:
        refusal = str(e)
    if refusal:
        print(f"error: {refusal}", file=sys.stderr)
        sys.exit(2)


def main() -> None:
    argv = _resume_in_place(sys.argv[1:])
    _check_output_dirs(argv)
    _check_precision(argv)
    sys.argv = [sys.argv[0], *argv]
    _hydra_main()


if __name__ == "__main__":
    # Run the copy imported as adamomentum.train rather than this __main__ module: launchers that
    # pickle the task function (joblib, submitit) then pickle it by reference, not by value with
    # every global it touches (torch.backends.cudnn cannot be pickled).
    from adamomentum.train import main as imported_main

    imported_main()
