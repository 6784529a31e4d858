"""Stopping a run cleanly: the signals that stop training at the next batch boundary (SIGTERM, SIGINT and the
signal submitit has SLURM send before a time limit or at preemption), and what the run says when it stops."""

from __future__ import annotations

import signal
import sys
from pathlib import Path
from typing import Any

from adamomentum.resume import resume_command


class Interrupted(Exception):
    """A stop signal arrived (see ``stop_signals``); a checkpoint was written at the batch boundary, unless
    checkpoints are off (``checkpoint_interval=null``)."""

    def __init__(self, signum: int, step: int, run_dir: Path, checkpointed: bool = True) -> None:
        self.signal_name = signal.Signals(signum).name
        if checkpointed:
            outcome = f"after writing {run_dir / 'checkpoint.pt'}; continue with: {resume_command(run_dir)}"
        else:
            outcome = "without a checkpoint (checkpoint_interval=null): start the run again to redo it"
        super().__init__(f"{self.signal_name} received: stopped at step {step} {outcome}")
        # A shell reports a process ended by signal N as 128 + N: 143 for SIGTERM, 130 for SIGINT.
        self.exit_code = 128 + signum


def submitit_signal() -> signal.Signals | None:
    """The signal submitit has SLURM send before the time limit and at preemption, when submitit
    runs this process (it imports itself before it calls the job); None otherwise.

    submitit 1.5 picks USR2 unless ``SUBMITIT_PREEMPT_SIGNAL`` names another, and asks sbatch for
    ``--signal=USR2@<signal_delay_s>``; its handler then requeues the job and exits.
    """
    if "submitit" not in sys.modules:
        return None
    from submitit.core.job_environment import JobEnvironment

    return signal.Signals(JobEnvironment._usr_sig())


def stop_signals() -> list[signal.Signals]:
    """The signals that stop training at the next batch boundary, after a checkpoint."""
    extra = submitit_signal()
    return [signal.SIGTERM, signal.SIGINT, *([extra] if extra not in (None, signal.SIGTERM, signal.SIGINT) else [])]


class NotRequeued(Exception):
    """A stop signal's earlier handler (submitit's) did not requeue the job. A plain Exception, not a SystemExit:
    submitit then writes the job's result, and the waiting sweep command ends with this message."""


class StopRequest:
    """Turns the stop signals into a flag the loop reads at batch boundaries.

    The handler each signal had before is kept, and ``hand_over`` runs it once the checkpoint is
    written: under submitit that handler requeues the job (and exits), so a preempted or timed-out
    job comes back and resumes from the step where it stopped.
    """

    def __init__(self) -> None:
        self.signum: int | None = None
        self._frame: Any = None
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> StopRequest:
        for sig in stop_signals():
            try:
                self._previous[sig] = signal.signal(sig, self._handle)
            except ValueError:  # not the main thread: leave signals to the caller
                pass
        return self

    def _handle(self, signum: int, frame: Any) -> None:
        self.signum, self._frame = signum, frame

    def hand_over(self) -> None:
        """Run the handler the signal had before training started, if it was a Python function.

        Python's own SIGINT handler is skipped: ``Interrupted`` takes the place of its KeyboardInterrupt.
        """
        if self.signum is None:
            return
        previous = self._previous.get(self.signum)
        if callable(previous) and previous is not signal.default_int_handler:
            try:
                previous(self.signum, self._frame)
            except Exception as error:  # submitit did not requeue the job: its time-outs are used up
                raise NotRequeued(
                    f"{error} The checkpoint is written: relaunch the same command to go on (it resumes this run); "
                    "hydra.launcher.max_num_timeout sets how many time-outs are requeued."
                ) from error

    def __exit__(self, *exc: Any) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
