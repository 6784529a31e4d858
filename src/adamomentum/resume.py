"""Resuming a run: which config values a resumed run may change, and the stored config a ``resume=DIR``
continues, with the checkpoint loaded once for both."""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from adamomentum.checkpoint import CheckpointError, load_checkpoint
from adamomentum.config import flatten, upgrade_stored

# A path Hydra reads as one plain value; anything else (``=`` and ``,`` in a sweep's run directory names,
# spaces, brackets) goes in Hydra's quotes.
PLAIN_VALUE = re.compile(r"[\w./+@%-]+")


def hydra_value(path: Path | str) -> str:
    """``path`` as the value of a Hydra override: as it is where Hydra reads it as one value, else quoted."""
    text = str(path)
    if PLAIN_VALUE.fullmatch(text):
        return text
    quote = '"' if '"' not in text else "'"
    return quote + text.replace("\\", "\\\\").replace(quote, "\\" + quote) + quote


def unquoted(value: str) -> str:
    """A Hydra override's value without the quotes ``hydra_value`` put around it."""
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        quote = value[0]
        return value[1:-1].replace("\\" + quote, quote).replace("\\\\", "\\")
    return value


def resume_command(run_dir: Path) -> str:
    """The command that continues the run in ``run_dir``, quoted for Hydra and for the shell, so that it
    works pasted as printed."""
    return f"python -m adamomentum.train {shlex.quote('resume=' + hydra_value(run_dir))}"


# What a resumed run may change: where and how fast it runs, and how long it trains.
RESUME_MAY_CHANGE = {
    "resume",
    "device",
    "threads",
    "keep_freed_memory",
    "progress",
    "checkpoint_interval",
    "trainer.log_interval",
    "trainer.epochs",
    "trainer.max_batches",
    "data.data_dir",
    "data.download",
}


def _flat(cfg: DictConfig) -> dict[str, Any]:
    container = OmegaConf.to_container(cfg, resolve=True)
    assert isinstance(container, dict), "a run's config is a mapping"
    return flatten({str(key): value for key, value in container.items()})


def stored_config(yaml_text: str) -> dict[str, Any]:
    """The config a checkpoint stores (resolved YAML), in today's keys."""
    container = OmegaConf.to_container(OmegaConf.create(yaml_text))
    assert isinstance(container, dict), "a checkpoint stores its run's config as a mapping"
    return upgrade_stored({str(key): value for key, value in container.items()})


def check_resumable(config: dict[str, Any], cfg: DictConfig, run_dir: Path) -> None:
    """A run continues only the config it was trained with, ``config`` (bar RESUME_MAY_CHANGE)."""
    current = _flat(cfg)
    stored = flatten(config)
    # Other options added to adamomentum after the checkpoint was written are not in `stored`: their
    # defaults keep the old behaviour, and they are not compared.
    changed = sorted(k for k in stored if stored[k] != current.get(k) and k not in RESUME_MAY_CHANGE)
    if changed:
        diffs = "; ".join(f"{k}: {stored.get(k)!r} -> {current.get(k)!r}" for k in changed[:10])
        raise CheckpointError(
            f"{run_dir} was trained with another config ({diffs}); a resumed run keeps its config. "
            "Drop those overrides, or start a new run in a new directory."
        )


def config_for_resume(cfg: DictConfig, overrides: list[str]) -> tuple[DictConfig, dict[str, Any]]:
    """The stored config of ``cfg.resume`` with the command line's overrides applied on top, and the
    checkpoint it came from, for ``adamomentum.run.run`` to check and continue without loading it again."""
    state = load_checkpoint(Path(cfg.resume))
    stored = OmegaConf.create(stored_config(state["config"]))
    for override in overrides:
        key = override.split("=", 1)[0].lstrip("+~")
        if key in ("task", "optimizer"):
            key = f"{key}.name"
        OmegaConf.update(stored, key, OmegaConf.select(cfg, key), force_add=True)
    return stored, state
