"""Optimizers of the paper and the registry that builds them by name."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable
from typing import Any

import torch
from torch.optim import Optimizer

from adamomentum.optim.adamomentum import AdaMomentum
from adamomentum.optim.heavy_ball import HeavyBall
from adamomentum.optim.momentum_schedule import MomentumScheduler, momentum_at

__all__ = ["AdaMomentum", "HeavyBall", "MomentumScheduler", "OPTIMIZERS", "build_optimizer", "momentum_at"]

# A further baseline is one line here plus a file in conf/optimizer/.
OPTIMIZERS: dict[str, Callable[..., Optimizer]] = {
    "sgd": torch.optim.SGD,
    "momentum": HeavyBall,
    "adagrad": torch.optim.Adagrad,
    "adamomentum": AdaMomentum,
    "adam": torch.optim.Adam,
    "rmsprop": torch.optim.RMSprop,
}


def build_optimizer(name: str, params: Iterable[Any], **hyperparameters: Any) -> Optimizer:
    """Construct the optimizer registered as ``name``.

    Hyperparameters whose value is ``None`` are left at the constructor's
    default; a hyperparameter the constructor does not take is an error.
    """
    if name not in OPTIMIZERS:
        raise ValueError(f"Unknown optimizer {name!r}; choose one of: {', '.join(sorted(OPTIMIZERS))}.")
    constructor = OPTIMIZERS[name]
    accepted = inspect.signature(constructor).parameters
    kwargs = {k: v for k, v in hyperparameters.items() if v is not None}
    unknown = sorted(set(kwargs) - set(accepted))
    if unknown:
        raise ValueError(
            f"Optimizer {name!r} ({constructor.__module__}.{constructor.__name__}) takes no "
            f"{', '.join(unknown)}; remove {'them' if len(unknown) > 1 else 'it'} from conf/optimizer/{name}.yaml "
            "or the command line."
        )
    return constructor(params, **kwargs)
