"""The paper's Momentum baseline: heavy-ball momentum with lr inside the velocity."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, overload

import torch
from torch import Tensor
from torch.optim import Optimizer

from adamomentum.optim._common import (
    check_lr,
    check_non_negative,
    check_unit_interval,
    default_foreach,
    dense_grad,
    real_view,
)

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

    A complex parameter is updated as its real view (``torch.view_as_real``), as
    torch's optimizers do; its ``velocity`` stays a complex tensor.

    Args:
        params: iterable of parameters or dicts defining parameter groups.
        lr: learning rate :math:`\eta`: a float or a 1-element tensor, read at
            every step (a device synchronisation on CUDA), so changing it in
            place, as learning-rate schedulers do, takes effect.
        momentum: momentum coefficient :math:`\mu` in [0, 1) (default 0.6, Table 1).
        weight_decay: L2 penalty added to the gradient (default 0).
        maximize: maximise the objective instead of minimising it.
        foreach: multi-tensor path; ``None`` picks it when every parameter is on
            CUDA, and the per-tensor loop otherwise.
    """

    def __init__(
        self,
        params: Iterable[Tensor] | Iterable[dict[str, Any]],
        lr: float | Tensor = 1.0,
        momentum: float = 0.6,
        weight_decay: float = 0.0,
        maximize: bool = False,
        foreach: bool | None = None,
    ) -> None:
        defaults = dict(lr=lr, momentum=momentum, weight_decay=weight_decay, maximize=maximize, foreach=foreach)
        _check_hyperparameters(defaults)
        super().__init__(params, defaults)

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Add a group as ``torch.optim.Optimizer`` does, checking its hyperparameters first."""
        _check_hyperparameters({**self.defaults, **param_group})
        super().add_param_group(param_group)

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Load the state as ``torch.optim.Optimizer`` does, except that ``foreach``
        stays as this optimizer was built: it chooses how the update is computed,
        not what it computes, so a checkpoint saved with one path resumes on the
        other."""
        paths = [group["foreach"] for group in self.param_groups]
        super().load_state_dict(state_dict)
        for group, foreach in zip(self.param_groups, paths):
            group["foreach"] = foreach

    @overload
    def step(self, closure: None = None) -> None: ...

    @overload
    def step(self, closure: Callable[[], float]) -> float: ...

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
                state = self.state[p]
                if not state:
                    state["velocity"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                p, grad = real_view(p), real_view(grad)
                if group["maximize"]:
                    grad = -grad
                if group["weight_decay"] != 0:
                    grad = grad.add(p, alpha=group["weight_decay"])
                params.append(p)
                grads.append(grad)
                velocities.append(real_view(state["velocity"]))
            if not params:
                continue
            check_unit_interval("momentum", group["momentum"])  # a MomentumScheduler may have set it
            lr, mu = float(group["lr"]), group["momentum"]
            if default_foreach(group["foreach"], params):
                torch._foreach_mul_(velocities, mu)
                torch._foreach_add_(velocities, grads, alpha=lr)
                torch._foreach_sub_(params, velocities)
            else:
                for p, g, v in zip(params, grads, velocities):
                    v.mul_(mu).add_(g, alpha=lr)
                    p.sub_(v)
        return loss


def _check_hyperparameters(group: dict[str, Any]) -> None:
    check_lr(group["lr"])
    check_non_negative("weight_decay", group["weight_decay"])
    check_unit_interval("momentum", group["momentum"])
