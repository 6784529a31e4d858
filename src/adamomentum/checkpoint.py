"""Atomic checkpoints of a run, and RNG state capture, so a resumed run continues bit for bit.

A run directory keeps two checkpoints: ``checkpoint.pt`` (the newest) and
``checkpoint.prev.pt`` (the one before). A write goes to a temporary file that
is fsync-ed and then renamed over ``checkpoint.pt``, so a crash mid-write never
leaves a half-written file under either name. Files are read with
``torch.load(weights_only=True)``: a checkpoint can hold tensors and plain
containers only, and loading one executes no pickled code.
"""

from __future__ import annotations

import logging
import os
import random
import tempfile
from pathlib import Path
from typing import Any, cast

import numpy as np
import torch

from adamomentum.errors import UserError

log = logging.getLogger(__name__)

CHECKPOINT = "checkpoint.pt"
PREVIOUS = "checkpoint.prev.pt"
FORMAT_VERSION = 1


class CheckpointError(UserError):
    """A checkpoint cannot be used to resume."""


def save_checkpoint(run_dir: Path, state: dict[str, Any]) -> Path:
    """Write ``state`` as ``run_dir/checkpoint.pt``; the old one becomes ``checkpoint.prev.pt``."""
    path = run_dir / CHECKPOINT
    fd, tmp_name = tempfile.mkstemp(dir=run_dir, prefix=".checkpoint.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save({"format_version": FORMAT_VERSION, **state}, f)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp_name, 0o644)  # mkstemp's 0600 would hide checkpoints from a shared group
        if path.exists():
            os.replace(path, run_dir / PREVIOUS)
        os.replace(tmp_name, path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    _fsync_dir(run_dir)
    return path


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def read_checkpoint(path: Path) -> dict[str, Any]:
    """One checkpoint file, checked to be of this version's format.

    Raises FileNotFoundError where there is no such file and CheckpointError where it cannot be used. The file
    is opened once: a concurrent save renames the newest aside and its successor in, which a second open by name
    could mix up.
    """
    try:
        with open(path, "rb") as f:
            state = torch.load(f, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise
    except Exception as e:  # truncated zip, bad pickle, refused global: all mean "unusable"
        # torch's own text goes on to advise weights_only=False, which would not mend a damaged file.
        reason = str(e).splitlines()[0].split(". ")[0][:120]
        raise CheckpointError(f"{path} cannot be read ({type(e).__name__}: {reason})") from None
    if not isinstance(state, dict) or state.get("format_version") != FORMAT_VERSION:
        version = state.get("format_version") if isinstance(state, dict) else None
        raise CheckpointError(
            f"{path} has checkpoint format {version!r}, this version of adamomentum reads format "
            f"{FORMAT_VERSION}; resume it with the version that wrote it, or start a new run."
        )
    return state


def load_checkpoint(run_dir: Path) -> dict[str, Any]:
    """The newest usable checkpoint in ``run_dir``; falls back to the previous one if the newest is damaged."""
    path, previous = run_dir / CHECKPOINT, run_dir / PREVIOUS
    if not path.exists():
        raise CheckpointError(
            f"{run_dir} holds no {CHECKPOINT}; pass resume=<run directory> of a run that wrote checkpoints "
            "(they are written every checkpoint_interval batches and at each epoch end)."
        )
    try:
        return read_checkpoint(path)
    except CheckpointError as newest_error:
        if not previous.exists():
            raise CheckpointError(f"{newest_error}; there is no {PREVIOUS} to fall back to: start a new run.") from None
        try:
            state = read_checkpoint(previous)
        except CheckpointError as previous_error:
            raise CheckpointError(
                f"both checkpoints of {run_dir} are unusable ({newest_error}; {previous_error}); the run cannot "
                "be resumed: move the folder aside and start the run again (the same config and seed train the "
                "same numbers)"
            ) from None
        log.warning(
            "%s; resuming from the previous checkpoint %s (step %d) instead.", newest_error, previous, state["step"]
        )
        return state


def rng_state() -> dict[str, Any]:
    # The legacy form: a tuple (bit generator, keys, position, has_gauss, cached_gaussian).
    np_state = cast(tuple[str, np.ndarray, int, int, float], np.random.get_state(legacy=True))
    return {
        "python": random.getstate(),
        "numpy": [
            np_state[0],
            torch.from_numpy(np_state[1].copy()),
            int(np_state[2]),
            int(np_state[3]),
            float(np_state[4]),
        ],
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
    }


def set_rng_state(state: dict[str, Any]) -> None:
    version, *rest = state["python"]
    random.setstate((version, tuple(rest[0]), rest[1]))
    name, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((name, keys.numpy(), pos, has_gauss, cached))
    torch.set_rng_state(state["torch"])
    if state["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
