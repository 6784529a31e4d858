"""This process's settings and provenance: the device, threads, floating-point and allocator settings a
config asks for, the seeds, and what a run records about where it ran (commit, CPU, bf16 instructions)."""

from __future__ import annotations

import ctypes
import functools
import logging
import os
import platform
import random
import subprocess
from pathlib import Path

import numpy as np
import torch
from omegaconf import DictConfig

from adamomentum.errors import ConfigError

log = logging.getLogger(__name__)

PACKAGE_DIR = Path(__file__).resolve().parent


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
    batch on CPU (docs/performance.md). Blocks up to 32 MiB (glibc's largest
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
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=no"],
        cwd=PACKAGE_DIR,
        capture_output=True,
        text=True,
        timeout=10,
    )
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
    elsewhere by rounding, which a blowing-up run amplifies (docs/troubleshooting.md)."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    capability = torch.backends.cpu.get_cpu_capability()
    return (
        f"cpu ({cpu_model()}, {platform.machine()}, {capability}, bf16: {cpu_bf16() or 'none'}, "
        f"{torch.get_num_threads()} threads)"
    )


def bf16_refusal(device: torch.device) -> str | None:
    """Why ``precision=bf16`` must not run on ``device``, or None where it may."""
    if device.type != "cpu" or cpu_bf16() is not None:
        return None
    return (
        f"precision=bf16: this CPU ({cpu_model()}) has no bf16 instructions (AVX512-BF16, AMX-BF16 or Arm "
        "BF16), so bf16 would run 30-60x slower than float32 and its LSTM fails; use precision=fp32 (the "
        f"default), or set {CPU_BF16_VARIABLE}=<its instructions> if the CPU has them."
    )
