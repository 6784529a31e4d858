"""What a run costs the machine: minor page faults and peak resident memory, counted per run where the OS
allows it (summary.json's ``minor_faults_per_batch`` and ``peak_rss_mb``)."""

from __future__ import annotations

import resource
import sys
from pathlib import Path


def reset_peak_rss() -> None:
    """Start a new count of peak resident memory, where Linux (4.0+) allows it.

    A multirun trains its runs one after another in one process, and without this each run
    would report the largest peak of the runs before it. Elsewhere the peak stays the process's.
    """
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass


def resource_usage() -> tuple[int, float]:
    """This process's minor page faults so far and its peak resident memory in MiB since
    ``reset_peak_rss`` (Linux's VmHWM), or since it started where there is no /proc."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    try:
        status = Path("/proc/self/status").read_text()
        peak_kib = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM:"))
        return usage.ru_minflt, peak_kib / 1024
    except (OSError, StopIteration):
        rss_unit = 1 if sys.platform == "darwin" else 1024  # ru_maxrss: bytes on macOS, KiB on Linux
        return usage.ru_minflt, usage.ru_maxrss * rss_unit / 2**20
