"""Process-wide settings of a run: glibc's malloc keeping freed memory, flush-to-zero on CPU."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import torch

from adamomentum.process import configure_process, resolve_device
from conftest import SMALL_PTB, compose_cfg

# Four 16 MB buffers alive at once and freed together, as a PTB batch's logits and their
# gradients are. glibc serves them with mmap and returns them on free, so the next round faults
# them in again; but its mmap threshold rises with what was freed, so whether that happens
# depends on the allocation history (15,600 faults per round in one process, 1,950 in another).
# MALLOC_MMAP_THRESHOLD_ pins the threshold at glibc's starting value (128 KiB) so that the
# baseline is the same every time; keep_freed_memory's mallopt must override it.
PINNED_GLIBC_DEFAULT = {"MALLOC_MMAP_THRESHOLD_": str(128 * 1024)}
ROUNDS_OF_BUFFERS = """
import resource, sys, torch
from adamomentum.process import keep_freed_memory
if sys.argv[1] == "keep" and not keep_freed_memory():
    print("no glibc"); sys.exit()
def round_of_buffers():
    buffers = [torch.ones(4_000_000) for _ in range(4)]
    return sum(float(b[-1]) for b in buffers)
round_of_buffers()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(10):
    round_of_buffers()
print((resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / 10)
"""


def faults_per_round(mode: str) -> float | None:
    out = subprocess.run(
        [sys.executable, "-c", ROUNDS_OF_BUFFERS, mode],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, **PINNED_GLIBC_DEFAULT},
    )
    return None if out.stdout.strip() == "no glibc" else float(out.stdout)


def test_keep_freed_memory_stops_buffers_from_page_faulting_back() -> None:
    # Beside two trainings and a test suite one try read 1,953 faults a round, and the same test passed alone.
    # Faults from outside the allocator (a kernel reclaiming cold memory on its own, as DAMON's kdamond may on
    # these VMs) only ever add to the count, so the fewest of three tries is the allocator's.
    tries = [faults_per_round("keep") for _ in range(3)]
    if None in tries:
        pytest.skip("keep_freed_memory needs glibc's malloc (mallopt); this C library has none")
    kept = min(t for t in tries if t is not None)
    default = faults_per_round("default")
    assert default > 4_000, f"glibc's default malloc should fault the 64 MB back in every round ({default})"
    assert kept < default / 10


@pytest.mark.parametrize("flush", [True, False])
def test_flush_denormal_turns_subnormal_results_into_zero_on_cpu(flush: bool) -> None:
    cfg = compose_cfg([*SMALL_PTB, f"flush_denormal={flush}", "keep_freed_memory=false"])
    subnormal = torch.tensor([1e-39], dtype=torch.float32)
    try:
        configure_process(cfg, resolve_device("cpu"))
        assert ((subnormal * 2).item() == 0.0) is flush
    finally:
        torch.set_flush_denormal(False)


PEAK_AFTER_RESET = """
import torch
from adamomentum.resources import reset_peak_rss, resource_usage
block = torch.ones(100_000_000)  # 400 MB, served by mmap and returned on free whatever the thresholds
del block
before = resource_usage()[1]
reset_peak_rss()
print(before, resource_usage()[1])
"""


def test_a_run_reports_its_own_peak_memory_not_the_processs_earlier_ones() -> None:
    """A multirun trains run after run in one process: each run's peak_rss_mb must leave out the ones before it."""
    if not os.access("/proc/self/clear_refs", os.W_OK):
        pytest.skip("resetting the peak needs Linux's /proc/self/clear_refs; elsewhere the peak is the process's")
    out = subprocess.run([sys.executable, "-c", PEAK_AFTER_RESET], capture_output=True, text=True, check=True)
    before, after = map(float, out.stdout.split())
    assert before > 400 and after < before - 300, (before, after)
