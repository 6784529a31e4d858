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

from omegaconf import OmegaConf

from adamomentum.checkpoint import CHECKPOINT, PREVIOUS, CheckpointError, read_checkpoint
from adamomentum.config import current_key
from adamomentum.summary import SUMMARY, RunSummary

# The keys a run's directory is named by besides its overrides: conf/config.yaml's hydra.sweep.subdir.
NAMED_APART = ("optimizer", "seed")
# A run list given on the command line (its entries hold spaces, so it is one argument, quotes lost).
RUN_LIST = re.compile(r"(?:^|\s)hydra\.sweeper\.runs=\[[^\]]*\]")
# The share of the training text a run trains on.
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


@dataclass(frozen=True)
class Entry:
    """An entry of a run list: as written (as ``hydra.sweeper.runs=[...]`` takes it), its job, its directory
    below the sweep folder, and the share of the training text it trains on (the entry's or the queue's
    override; 1 where neither sets it: a share the experiment config sets itself is not read)."""

    line: str
    job: Job
    below: Path
    fraction: float


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

    def __init__(self, root: Path) -> None:
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
                raise SystemExit(
                    f"{path} is missing: {self.root} has no experiment {name!r} (a checkout older than it, or a "
                    "misspelt name)"
                )
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
        return {entry.job: entry.below for entry in self.entries(experiment, command)}

    def entries(self, experiment: str, command: str = "") -> list[Entry]:
        """The experiment's run list in its order, each entry with the overrides of ``command``."""
        runs = self.experiment(experiment).get("hydra", {}).get("sweeper", {}).get("runs")
        if runs is None:
            raise SystemExit(
                f"conf/experiment/{experiment}.yaml has no run list (hydra.sweeper.runs): its sweep is a grid, "
                "whose runs this reads nowhere; name an experiment with a run list (ptb_data_scale_claim, say)"
            )
        command = RUN_LIST.sub(" ", command)
        pairs = [token.split("=", 1) for token in command.split() if "=" in token]
        # A config group of Hydra's own (hydra/launcher=joblib) names no run, as hydra.* keys do not.
        common = [
            (k, v) for k, v in pairs if not k.startswith(("hydra.", "hydra/")) and current_key(k) not in self.excluded
        ]
        entries = []
        for line in runs:
            entry = [item.split("=", 1) for item in shlex.split(line)]  # as the run_list sweeper reads it
            named = dict(pair for pair in entry if pair[0] in NAMED_APART)
            rest = [(k, v) for k, v in entry if current_key(k) not in self.excluded] + common
            job = Job(named["optimizer"], named["seed"], frozenset((current_key(k), v) for k, v in rest))
            name = ",".join(sorted(f"{k}={v}" for k, v in rest))
            # The command's value comes last, as Hydra applies it last.
            fraction = float(dict((current_key(k), v) for k, v in rest).get(FRACTION, 1.0))
            below = Path(named["optimizer"]) / f"seed={named['seed']}" / name
            entries.append(Entry(line, job, below, fraction))
        return entries


@dataclass(frozen=True)
class Progress:
    """How far the run in one directory has got.

    ``state`` is "finished" (a summary of a completed or diverged run, ``status``), "in flight" (a checkpoint, a
    log or a summary being written, and no finished summary) or "to run". ``resumes_at`` is the batch a relaunch
    continues from (its newest readable checkpoint's; 0 without one), ``unreadable`` why no checkpoint of the
    run can be read where it has some, ``logged`` the last batch its log reports, ``total`` the batches it trains
    in all (from its log; None before the first log line). ``held`` says whether a process holds the directory's
    lock now (a lane is training it); None where this system does not say.
    """

    state: str
    status: str | None = None
    resumes_at: int = 0
    unreadable: str | None = None
    logged: int | None = None
    total: int | None = None
    held: bool | None = None

    def left(self) -> float:
        """The share of the run still to train (all of it where its length is not logged yet)."""
        if self.state == "finished":
            return 0.0
        if self.total:
            return max(0.0, 1.0 - self.resumes_at / self.total)
        return 1.0


def progress_of(run_dir: Path, locks: str | None) -> Progress:
    """The progress of the run in ``run_dir``; ``locks`` is ``/proc/locks``' text (None where unknown). It reads
    what a lane may be writing at that moment, and takes nothing from it."""
    summary_file = run_dir / SUMMARY
    if summary_file.is_file():
        try:
            summary = RunSummary.read(run_dir)
        except (ValueError, KeyError):  # written as we read it (the write is not atomic)
            summary = None
        if summary is not None and summary.finished:
            return Progress("finished", summary.status)
    log = run_dir / "train.log"
    checkpoints = [run_dir / CHECKPOINT, run_dir / PREVIOUS]
    if not any(path.is_file() for path in [*checkpoints, log, summary_file]):
        return Progress("to run")
    resumes_at, unreadable = resume_step(checkpoints)
    logged = total = None
    if log.is_file():
        steps = LOGGED_STEP.findall(log.read_text(encoding="utf-8", errors="replace"))
        if steps:
            logged, total = int(steps[-1][0]), int(steps[-1][1])
    return Progress("in flight", None, resumes_at, unreadable, logged, total, held(run_dir / ".lock", locks))


def resume_step(checkpoints: list[Path]) -> tuple[int, str | None]:
    """The step of the first readable checkpoint of ``checkpoints`` (the newest, then the one before), as a
    relaunch falls back (``checkpoint.load_checkpoint``); 0 without one, and why none could be read where
    some exist."""
    errors = []
    for path in checkpoints:
        try:
            return int(read_checkpoint(path)["step"]), None
        except FileNotFoundError:
            continue
        except CheckpointError as e:
            errors.append(str(e))
    return 0, "; ".join(errors) or None


def read_locks() -> str | None:
    """The system's table of file locks (Linux's ``/proc/locks``), or None where there is none."""
    try:
        return Path("/proc/locks").read_text()
    except OSError:
        return None


def held(lock: Path, locks: str | None) -> bool | None:
    """Whether a process holds a lock on the file ``lock`` (as ``run.claimed`` takes it), read from the lock
    table without taking the lock: a test lock, however brief, would make a lane skip the run.

    The table shows this machine's processes of this pid namespace only: a lane on another node or in another
    container reads as none. None where there is no table or the file cannot be read.
    """
    if locks is None:
        return None
    try:
        stat = lock.stat()
    except FileNotFoundError:
        return False
    except OSError:
        return None
    # /proc/locks names a file as major:minor:inode, the device numbers in hex ("1: FLOCK ADVISORY WRITE 2229
    # fe:00:5455923 0 EOF"; a waiter's line has "->" before FLOCK).
    name = f"{os.major(stat.st_dev):02x}:{os.minor(stat.st_dev):02x}:{stat.st_ino}"
    return any(name in line.split() for line in locks.splitlines())
