"""The paper's two experiments, each a model, its data and its evaluation."""

from __future__ import annotations

from typing import Any

import torch

from adamomentum.errors import ConfigError
from adamomentum.trainer import Task

TASKS = ("ptb", "ner")


def build_task(cfg: Any, data: Any, model: Any, device: torch.device, seed: int) -> Task:
    """The task named by ``cfg.name`` (the ``task`` config group) on the data ``data`` says and with the network
    ``model`` says (the ``data`` and ``model`` groups)."""
    if cfg.name == "ptb":
        from adamomentum.tasks.ptb import PTBTask

        return PTBTask(cfg, data, model, device)
    if cfg.name == "ner":
        from adamomentum.tasks.ner import NERTask

        return NERTask(cfg, data, model, device, seed)
    raise ConfigError(f"Unknown task {cfg.name!r}; choose one of: {', '.join(TASKS)} (task=<name>).")
