"""The paper's Momentum baseline: heavy-ball momentum with lr inside the velocity."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import torch
from torch import Tensor
from torch.optim import Optimizer

from adamomentum.optim._common import check_non_negative, check_unit_interval, default_foreach, dense_grad

__all__ = ["HeavyBall"]


class HeavyBall(Optimizer):
    r"""Classical (heavy-ball) momentum in the paper's form.

    .. math::
        v_t &= \mu v_{t-1} + \eta\, g_t \\
        \theta_t &= \theta_{t-1} - v_t

    ``torch.optim.SGD(momentum=mu)`` instead keeps :math:`b_t = \mu b_{t-1} + g_t`
    and steps by :math:`\eta b_t`. The two agree while :math:`\eta` is constant
    and differ once it changes: after a decay, SGD rescales the whole
    accumulated velocity at once, while here only new gradients feel the new
    :math:`\eta`. The Penn Treebank schedule halves :math:`\eta` every epoch, so
    the baseline needs this form.

    Args:
        params: iterable of parameters or dicts defining parameter groups.
        lr: learning rate :math:`\eta`.
        momentum: momentum coefficient :math:`\mu` in [0, 1) (default 0.6, Table 1).
        weight_decay: L2 penalty added to the gradient (default 0).
        maximize: maximise the objective instead of minimising it.
        foreach: multi-tensor path; ``None`` picks it on CUDA, the loop on CPU.
    """

    def __init__(
        self,
        params: Iterable[Tensor] | Iterable[dict[str, Any]],
        lr: float = 1.0,
        momentum: float = 0.6,
        weight_decay: float = 0.0,
        maximize: bool = False,
        foreach: bool | None = None,
    ) -> None:
        check_non_negative("lr", lr)
        check_non_negative("weight_decay", weight_decay)
        check_unit_interval("momentum", momentum)
        defaults = dict(lr=lr, momentum=momentum, weight_decay=weight_decay, maximize=maximize, foreach=foreach)
        super().__init__(params, defaults)

    @torch.no_grad()
    def step(self, closure: Callable[[], float] | None = None) -> float | None:
        """Perform one optimisation step; ``closure`` re-evaluates the loss."""
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            params, grads, velocities = [], [], []
            for p in group["params"]:
                if p.grad is None:
                    continue
                grad = dense_grad(p, "HeavyBall")
                if group["maximize"]:
                    grad = -grad
                if group["weight_decay"] != 0:
                    grad = grad.add(p, alpha=group["weight_decay"])
                state = self.state[p]
                if not state:
                    state["velocity"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                params.append(p)
                grads.append(grad)
                velocities.append(state["velocity"])
            if not params:
                continue
            lr, mu = group["lr"], group["momentum"]
            if default_foreach(group["foreach"], params):
                torch._foreach_mul_(velocities, mu)
                torch._foreach_add_(velocities, grads, alpha=lr)
                torch._foreach_sub_(params, velocities)
            else:
                for p, g, v in zip(params, grads, velocities):
                    v.mul_(mu).add_(g, alpha=lr)
                    p.sub_(v)
        return loss
