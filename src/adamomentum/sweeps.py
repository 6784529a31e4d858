"""Where an experiment config's sweep puts each run of its list, and how far each run has got.

A queue (``make campaign``, ``make study``) trains the entries of an experiment's run list
(``hydra.sweeper.runs``) into its sweep folder (``hydra.sweep.dir``), one directory a run, named
``<optimizer>/seed=<seed>/<overrides>`` (conf/config.yaml's ``hydra.sweep.subdir``: Hydra's ``override_dirname``,
the entry's overrides but the excluded keys, sorted, joined by commas). These directories live outside git. Both
``scripts/restore_finished_runs.py`` (put committed runs back) and ``scripts/campaign_status.py`` (what is left
to train) read a checkout's configs, as written, to find them.
"""

from __future__ import annotations

import os
import re
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import torch
from omegaconf import OmegaConf

from adamomentum.checkpoint import CHECKPOINT
from adamomentum.config import current_key
from adamomentum.summary import SUMMARY, RunSummary

# The keys a run's directory is named by besides its overrides: conf/config.yaml's hydra.sweep.subdir.
NAMED_APART = ("optimizer", "seed")
# A run list given on the command line (its entries hold spaces, so it is one argument, quotes lost).
RUN_LIST = re.compile(r"(?:^|\s)hydra\.sweeper\.runs=\[[^\]]*\]")
# The share of the training text a run trains on (1 where its entry does not set it).
FRACTION = "data.train_fraction"
# The trainer's log line every log_interval batches: "epoch 3 step 4100/15093: loss ...".
LOGGED_STEP = re.compile(r" step (\d+)/(\d+):")


def read_yaml(path: Path) -> dict[str, Any]:
    """A config file as written, interpolations unresolved."""
    config = OmegaConf.to_container(OmegaConf.load(path))
    assert isinstance(config, dict), f"{path} holds a mapping"
    return cast(dict[str, Any], config)


@dataclass(frozen=True)
class Job:
    """A run as a sweep names it: optimizer, seed, and the overrides its directory name lists (today's keys)."""

    optimizer: str
    seed: str
    overrides: frozenset[tuple[str, str]]

    @property
    def fraction(self) -> float:
        """The share of the training text the run trains on."""
        return float(dict(self.overrides).get(FRACTION, 1.0))


def job_of_path(below: Path) -> Job | None:
    """The job a sweep's run directory (``sgd/seed=0/task.train_fraction=0.1``) is, or None for another path."""
    parts = below.parts
    if len(parts) not in (2, 3) or not parts[1].startswith("seed="):
        return None
    pairs = [item.split("=", 1) for item in parts[2].split(",")] if len(parts) == 3 else []
    if any(len(pair) != 2 for pair in pairs):
        return None
    return Job(parts[0], parts[1].removeprefix("seed="), frozenset((current_key(k), v) for k, v in pairs))


class Queue:
    """The sweeps of a checkout's experiment configs: where each puts its runs, under which names."""

    def __init__(self, root: Path):
        self.root = root
        config = root / "conf" / "config.yaml"
        if not config.is_file():
            raise SystemExit(f"{config} is missing: pass a checkout of this repository (the queue's)")
        hydra = read_yaml(config).get("hydra", {})
        exclude = hydra.get("job", {}).get("config", {}).get("override_dirname", {}).get("exclude_keys", [])
        self.excluded = {current_key(k) for k in exclude}
        self._experiments: dict[str, dict[str, Any]] = {}

    def experiment(self, name: str) -> dict[str, Any]:
        """The experiment config, read once for all the runs it is asked about."""
        if name not in self._experiments:
            path = self.root / "conf" / "experiment" / f"{name}.yaml"
            if not path.is_file():
                raise SystemExit(f"{path} is missing: name an experiment of {self.root / 'conf' / 'experiment'}")
            self._experiments[name] = read_yaml(path)
        return self._experiments[name]

    def sweep_dir(self, experiment: str, scale: str) -> Path:
        """``hydra.sweep.dir`` of the experiment config, at the run's ``study.scale``."""
        template = self.experiment(experiment).get("hydra", {}).get("sweep", {}).get("dir")
        if template is None:
            raise SystemExit(f"conf/experiment/{experiment}.yaml sets no hydra.sweep.dir: its runs have no sweep")
        return self.root / str(template).replace("${study.scale}", scale)

    def job_dirs(self, experiment: str, command: str = "") -> dict[Job, Path]:
        """Each entry of the experiment's run list with the overrides of ``command`` (a run's, as its summary
        records it, or a queue's), and the directory below the sweep folder that its sweep gives it."""
        return {job: below for _, job, below in self.entries(experiment, command)}

    def entries(self, experiment: str, command: str = "") -> list[tuple[str, Job, Path]]:
        """The experiment's run list in its order: each entry as written, its job with the overrides of
        ``command``, and its directory below the sweep folder."""
        command = RUN_LIST.sub(" ", command)
        pairs = [token.split("=", 1) for token in command.split() if "=" in token]
        # A config group of Hydra's own (hydra/launcher=joblib) names no run, as hydra.* keys do not.
        common = [
            (k, v) for k, v in pairs if not k.startswith(("hydra.", "hydra/")) and current_key(k) not in self.excluded
        ]
        entries = []
        for line in self.experiment(experiment).get("hydra", {}).get("sweeper", {}).get("runs", []):
            entry = [item.split("=", 1) for item in shlex.split(line)]  # as the run_list sweeper reads it
            named = dict(pair for pair in entry if pair[0] in NAMED_APART)
            rest = [(k, v) for k, v in entry if current_key(k) not in self.excluded] + common
            job = Job(named["optimizer"], named["seed"], frozenset((current_key(k), v) for k, v in rest))
            name = ",".join(sorted(f"{k}={v}" for k, v in rest))
            entries.append((line, job, Path(named["optimizer"]) / f"seed={named['seed']}" / name))
        return entries


@dataclass(frozen=True)
class Progress:
    """How far the run in one directory has got.

    ``state`` is "finished" (a summary of a completed or diverged run), "in flight" (a checkpoint or a log and
    no finished summary) or "to run". ``resumes_at`` is the batch a relaunch continues from (its checkpoint's;
    0 without one), ``logged`` the last batch its log reports, ``total`` the batches it trains in all (from its
    log; None before the first log line). ``held`` says whether a process holds the directory's lock now (a
    lane is training it); None where the system does not say (no ``/proc/locks``).
    """

    state: str
    status: str | None = None
    resumes_at: int = 0
    logged: int | None = None
    total: int | None = None
    held: bool | None = None

    def left(self) -> float:
        """The share of the run still to train."""
        if self.state == "finished":
            return 0.0
        if self.total:
            return 1.0 - self.resumes_at / self.total
        return 1.0


def progress_of(run_dir: Path, locks: str | None) -> Progress:
    """The progress of the run in ``run_dir``; ``locks`` is ``/proc/locks``' text (None where unknown)."""
    if (run_dir / SUMMARY).is_file():
        summary = RunSummary.read(run_dir)
        if summary.finished:
            return Progress("finished", summary.status)
    checkpoint = run_dir / CHECKPOINT
    log = run_dir / "train.log"
    if not checkpoint.is_file() and not log.is_file():
        return Progress("to run")
    resumes_at = 0
    if checkpoint.is_file():
        # mmap: the step alone, without reading the weights into memory.
        resumes_at = int(torch.load(checkpoint, map_location="cpu", weights_only=True, mmap=True)["step"])
    logged = total = None
    if log.is_file():
        steps = LOGGED_STEP.findall(log.read_text(encoding="utf-8", errors="replace"))
        if steps:
            logged, total = int(steps[-1][0]), int(steps[-1][1])
    return Progress("in flight", None, resumes_at, logged, total, held(run_dir / ".lock", locks))


def read_locks() -> str | None:
    """The system's table of file locks (Linux's ``/proc/locks``), or None where there is none."""
    try:
        return Path("/proc/locks").read_text()
    except OSError:
        return None


def held(lock: Path, locks: str | None) -> bool | None:
    """Whether a process holds a lock on the file ``lock`` (as ``run.claimed`` takes it), read from the lock
    table without taking the lock: a test lock, however brief, would make a lane skip the run."""
    if locks is None:
        return None
    try:
        stat = lock.stat()
    except FileNotFoundError:
        return False
    # /proc/locks names a file as major:minor:inode, the device numbers in hex ("1: FLOCK ADVISORY WRITE 2229
    # fe:00:5455923 0 EOF"; a waiter's line has "->" before FLOCK).
    name = f"{os.major(stat.st_dev):02x}:{os.minor(stat.st_dev):02x}:{stat.st_ino}"
    return any(name in line.split() for line in locks.splitlines())
