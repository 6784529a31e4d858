"""AdaMomentum: heavy-ball momentum on top of the AdaGrad-scaled gradient."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from itertools import chain
from typing import Any

import torch
from torch import Tensor
from torch.optim import Optimizer

from adamomentum.optim._common import (
    check_non_negative,
    check_unit_interval,
    default_foreach,
    ScratchBuffer,
    dense_grad,
    state_dtype_for,
)

__all__ = ["AdaMomentum"]


class AdaMomentum(Optimizer):
    r"""AdaMomentum (Pham, Dai and Li, *On Optimization Algorithms for Recurrent
    Networks with Long Short-Term Memory*).

    With :math:`g_t` the gradient at step :math:`t` (all operations element-wise,
    :math:`G_0 = G_{init}`, :math:`v_0 = 0`):

    .. math::
        g_t &\leftarrow -g_t \text{ if maximize}, \qquad g_t \leftarrow g_t + \lambda\theta_{t-1} \\
        G_t &= G_{t-1} + g_t^2 \\
        v_t &= \mu_t v_{t-1} + \frac{\eta}{\epsilon + \sqrt{G_t}}\, g_t \\
        \theta_t &= \theta_{t-1} - v_t

    where :math:`\eta` is ``lr``, :math:`\mu_t` is the group's ``momentum`` at
    step :math:`t` (change it between steps, e.g. with
    :class:`adamomentum.MomentumScheduler`), :math:`\epsilon` is ``eps`` and
    :math:`\lambda` is ``weight_decay``.

    How it differs from its parents:

    * ``torch.optim.Adagrad`` is the case :math:`\mu = 0` with ``lr_decay=0``:
      both put :math:`\epsilon` outside the square root and both sum squared
      gradients over all steps. Unlike Adagrad this class has no ``lr_decay``:
      the paper keeps :math:`\eta` constant.
    * ``torch.optim.SGD(momentum=mu)`` keeps :math:`v = \mu v + g` and steps by
      :math:`\eta v`; here (as in the paper) the learning rate and the
      per-coordinate scale enter the velocity, and the step is :math:`v` itself,
      so a learning-rate change only affects new contributions to :math:`v`.

    State per parameter: ``sum`` (:math:`G`) and ``velocity`` (:math:`v`), kept in
    float32 for 16-bit parameters, because a bfloat16 running sum stops growing
    once :math:`g^2 < G / 256`.

    Args:
        params: iterable of parameters or dicts defining parameter groups.
        lr: learning rate :math:`\eta` (default 0.02, Table 1 of the paper).
        momentum: momentum coefficient :math:`\mu` in [0, 1) (default 0.9).
        eps: term added to :math:`\sqrt{G}` (default 1e-10, as torch's Adagrad).
        weight_decay: L2 penalty :math:`\lambda` (default 0).
        initial_accumulator_value: starting value of :math:`G` (default 0).
        maximize: maximise the objective instead of minimising it.
        foreach: use the multi-tensor ``torch._foreach_*`` path. ``None`` picks
            it on CUDA and the per-tensor loop on CPU, where the loop measured
            faster (see ``make bench-optim``).
        fused: run the update as one ``torch.compile``-d kernel per parameter
            shape (compiled on first use and cached). ``None`` means ``False``.
    """

    def __init__(
        self,
        params: Iterable[Tensor] | Iterable[dict[str, Any]],
        lr: float = 0.02,
        momentum: float = 0.9,
        eps: float = 1e-10,
        weight_decay: float = 0.0,
        initial_accumulator_value: float = 0.0,
        maximize: bool = False,
        foreach: bool | None = None,
        fused: bool | None = None,
    ) -> None:
        check_non_negative("lr", lr)
        check_non_negative("eps", eps)
        check_non_negative("weight_decay", weight_decay)
        check_non_negative("initial_accumulator_value", initial_accumulator_value)
        check_unit_interval("momentum", momentum)
        if fused and foreach:
            raise ValueError("AdaMomentum: fused=True and foreach=True are exclusive; set one of them.")
        defaults = dict(
            lr=lr,
            momentum=momentum,
            eps=eps,
            weight_decay=weight_decay,
            initial_accumulator_value=initial_accumulator_value,
            maximize=maximize,
            foreach=foreach,
            fused=fused,
        )
        super().__init__(params, defaults)
        self._scratch = ScratchBuffer()
        for group in self.param_groups:
            check_non_negative("lr", group["lr"])
            check_unit_interval("momentum", group["momentum"])

    def _init_state(self, p: Tensor, group: dict[str, Any]) -> dict[str, Tensor]:
        state = self.state[p]
        if not state:
            dtype = state_dtype_for(p)
            state["sum"] = torch.full_like(
                p, group["initial_accumulator_value"], dtype=dtype, memory_format=torch.preserve_format
            )
            state["velocity"] = torch.zeros_like(p, dtype=dtype, memory_format=torch.preserve_format)
        return state

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Load the state as ``torch.optim.Optimizer`` does, keeping 16-bit parameters' state in float32.

        Torch casts every floating-point state tensor to its parameter's dtype
        (``Optimizer._process_value_according_to_param_policy``, called as a static
        method, so a subclass cannot override it): that would round the float32
        ``sum`` and ``velocity`` of a bfloat16 or float16 parameter to 16 bits, and
        the resumed run would train differently. They are copied again from
        ``state_dict`` here, in float32 (a checkpoint holding 16-bit state, as
        older versions saved it, is widened to float32).
        """
        super().load_state_dict(state_dict)
        saved_ids = chain.from_iterable(g["params"] for g in state_dict["param_groups"])
        params = chain.from_iterable(g["params"] for g in self.param_groups)
        for saved_id, p in zip(saved_ids, params):
            dtype = state_dtype_for(p)
            saved = state_dict["state"].get(saved_id)
            if saved is None or dtype == p.dtype:
                continue
            for key in ("sum", "velocity"):
                self.state[p][key] = saved[key].to(device=p.device, dtype=dtype, copy=True)

    @torch.no_grad()
    def step(self, closure: Callable[[], float] | None = None) -> float | None:
        """Perform one optimisation step; ``closure`` re-evaluates the loss."""
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()

        for group in self.param_groups:
            params, grads, sums, velocities = [], [], [], []
            for p in group["params"]:
                if p.grad is None:
                    continue
                grad = dense_grad(p, "AdaMomentum")
                state = self._init_state(p, group)
                params.append(p)
                grads.append(grad)
                sums.append(state["sum"])
                velocities.append(state["velocity"])
            if not params:
                continue

            check_unit_interval("momentum", group["momentum"])
            kwargs = dict(
                lr=group["lr"],
                momentum=group["momentum"],
                eps=group["eps"],
                weight_decay=group["weight_decay"],
                maximize=group["maximize"],
            )
            if group["fused"]:
                _fused_update(params, grads, sums, velocities, **kwargs)
            elif default_foreach(group["foreach"], params):
                _foreach_update(params, grads, sums, velocities, **kwargs)
            else:
                _single_tensor_update(params, grads, sums, velocities, self._scratch.view_like, **kwargs)
        return loss


def _prepare_grad(p: Tensor, grad: Tensor, state_dtype: torch.dtype, weight_decay: float, maximize: bool) -> Tensor:
    """The gradient the update uses, in the state's dtype; copies only when it must."""
    if grad.dtype != state_dtype:
        grad = grad.to(state_dtype)
    if maximize:
        grad = -grad
    if weight_decay != 0:
        grad = grad.add(p, alpha=weight_decay)
    return grad


def _single_tensor_update(
    params: list[Tensor],
    grads: list[Tensor],
    sums: list[Tensor],
    velocities: list[Tensor],
    scratch: Callable[[Tensor], Tensor],
    *,
    lr: float,
    momentum: float,
    eps: float,
    weight_decay: float,
    maximize: bool,
) -> None:
    for p, grad, G, v in zip(params, grads, sums, velocities):
        g = _prepare_grad(p, grad, G.dtype, weight_decay, maximize)
        G.addcmul_(g, g)
        denom = torch.sqrt(G, out=scratch(G))
        denom.add_(eps)
        v.mul_(momentum).addcdiv_(g, denom, value=lr)
        p.sub_(v)


def _foreach_update(
    params: list[Tensor],
    grads: list[Tensor],
    sums: list[Tensor],
    velocities: list[Tensor],
    *,
    lr: float,
    momentum: float,
    eps: float,
    weight_decay: float,
    maximize: bool,
) -> None:
    gs = [_prepare_grad(p, g, G.dtype, weight_decay, maximize) for p, g, G in zip(params, grads, sums)]
    torch._foreach_addcmul_(sums, gs, gs)
    denoms = torch._foreach_sqrt(sums)
    torch._foreach_add_(denoms, eps)
    torch._foreach_mul_(velocities, momentum)
    torch._foreach_addcdiv_(velocities, gs, denoms, value=lr)
    torch._foreach_sub_(params, velocities)


def _fused_kernel(
    params: list[Tensor],
    grads: list[Tensor],
    sums: list[Tensor],
    velocities: list[Tensor],
    lr: Tensor,
    momentum: Tensor,
    eps: Tensor,
) -> None:
    for p, g, G, v in zip(params, grads, sums, velocities):
        G.addcmul_(g, g)
        v.mul_(momentum).add_(lr * g / (G.sqrt() + eps))
        p.sub_(v)


_compiled_fused_kernel: Callable[..., None] | None = None


def _fused_update(
    params: list[Tensor],
    grads: list[Tensor],
    sums: list[Tensor],
    velocities: list[Tensor],
    *,
    lr: float,
    momentum: float,
    eps: float,
    weight_decay: float,
    maximize: bool,
) -> None:
    global _compiled_fused_kernel
    if _compiled_fused_kernel is None:
        # Hyperparameters travel as 0-dim tensors so that a new lr or momentum
        # reuses the compiled kernel instead of recompiling it.
        _compiled_fused_kernel = torch.compile(_fused_kernel, fullgraph=True, dynamic=False)
    gs = [_prepare_grad(p, g, G.dtype, weight_decay, maximize) for p, g, G in zip(params, grads, sums)]
    device = params[0].device
    scalars = [torch.tensor(x, dtype=sums[0].dtype, device=device) for x in (lr, momentum, eps)]
    _compiled_fused_kernel(params, gs, sums, velocities, *scalars)
