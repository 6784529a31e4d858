"""Time-varying momentum coefficients mu_t, set on each param group per step."""

from __future__ import annotations

import math
from typing import Any

from torch.optim import Optimizer

from adamomentum.optim._common import check_non_negative, check_unit_interval

__all__ = ["MomentumScheduler", "momentum_at"]

SCHEDULES = ("constant", "linear", "sutskever")


def momentum_at(schedule: str, step: int, mu_max: float, warmup_steps: int = 1000, mu_start: float = 0.5) -> float:
    r"""The momentum coefficient :math:`\mu_t` for step ``step`` (counted from 0).

    * ``constant``: :math:`\mu_t = \mu_{max}`.
    * ``linear``: rises linearly from ``mu_start`` to :math:`\mu_{max}` over
      ``warmup_steps`` steps, then stays there.
    * ``sutskever``: Sutskever et al. (2013),
      :math:`\mu_t = \min(1 - 2^{-1 - \log_2(\lfloor t/250 \rfloor + 1)}, \mu_{max})`.
    """
    if schedule == "constant":
        return mu_max
    if schedule == "linear":
        if warmup_steps <= 0 or step >= warmup_steps:
            return mu_max
        return mu_start + (mu_max - mu_start) * step / warmup_steps
    if schedule == "sutskever":
        return min(1.0 - 2.0 ** (-1.0 - math.log2(step // 250 + 1)), mu_max)
    raise ValueError(f"Unknown momentum schedule {schedule!r}; choose one of {', '.join(SCHEDULES)}.")


class MomentumScheduler:
    """Sets each param group's ``momentum`` from a schedule, like an LR scheduler.

    The group's momentum at construction (or when it is added) is its :math:`\\mu_{max}`. Call
    :meth:`step` after each ``optimizer.step()``; construction already sets the
    value for step 0.

    Example::

        opt = AdaMomentum(model.parameters(), lr=0.02, momentum=0.9)
        sched = MomentumScheduler(opt, "sutskever")
        for batch in data:
            ...
            opt.step()
            sched.step()
    """

    def __init__(
        self, optimizer: Optimizer, schedule: str = "constant", warmup_steps: int = 1000, mu_start: float = 0.5
    ) -> None:
        if schedule not in SCHEDULES:
            raise ValueError(f"Unknown momentum schedule {schedule!r}; choose one of {', '.join(SCHEDULES)}.")
        check_unit_interval("mu_start", mu_start)
        check_non_negative("warmup_steps", warmup_steps)
        self.optimizer = optimizer
        self.schedule = schedule
        self.warmup_steps = warmup_steps
        self.mu_start = mu_start
        self.last_step = 0
        self._apply()

    @property
    def mu_max(self) -> list[float]:
        """Each group's :math:`\\mu_{max}`, kept in the group as ``initial_momentum``: its momentum when the
        scheduler first met it (a group added later, by ``optimizer.add_param_group``, included)."""
        return [group.setdefault("initial_momentum", group["momentum"]) for group in self.optimizer.param_groups]

    def _apply(self) -> None:
        for group, mu_max in zip(self.optimizer.param_groups, self.mu_max):
            group["momentum"] = momentum_at(self.schedule, self.last_step, mu_max, self.warmup_steps, self.mu_start)

    def step(self) -> None:
        self.last_step += 1
        self._apply()

    def state_dict(self) -> dict[str, Any]:
        return {
            "schedule": self.schedule,
            "warmup_steps": self.warmup_steps,
            "mu_start": self.mu_start,
            "mu_max": self.mu_max,
            "last_step": self.last_step,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.schedule = state["schedule"]
        self.warmup_steps = state["warmup_steps"]
        self.mu_start = state["mu_start"]
        for group, mu_max in zip(self.optimizer.param_groups, state["mu_max"]):
            group["initial_momentum"] = mu_max
        self.last_step = state["last_step"]
        self._apply()
