"""AdaMomentum: heavy-ball momentum on top of the AdaGrad-scaled gradient."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from itertools import chain
from typing import Any, overload

import torch
from torch import Tensor
from torch.optim import Optimizer

from adamomentum.optim._common import (
    ScratchBuffer,
    check_lr,
    check_non_negative,
    check_unit_interval,
    default_foreach,
    dense_grad,
    real_view,
    share_dense_layout,
    state_dtype_for,
)

__all__ = ["AdaMomentum"]


class AdaMomentum(Optimizer):
    r"""AdaMomentum (Pham, Dai and Li, *On Optimization Algorithms for Recurrent
    Networks with Long Short-Term Memory*).

    **Set** ``initial_accumulator_value`` **for your model.** Its default, 0, is
    the paper's Eq. 1, kept so that the class computes what the paper writes;
    with it every coordinate's first steps are ``lr``-sized whatever the
    gradient, and the Penn Treebank model of the paper blows up (this project's
    ``results/ptb-blowup``; its NER tagger recovers). The start of the authors'
    C++ code, 0.1, trains both, on a loss summed over time steps; it is not
    scale-free: where :math:`g^2 \ll G_0` the first steps are SGD at
    :math:`\eta / \sqrt{G_0}`, so a loss averaged over tokens (gradients tens
    of times smaller) stalls with it. Choose it against your first gradients'
    squares (docs/paper-choices.md, "Choosing lr, G_0 and eps").

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

    A complex parameter is updated as its real view (``torch.view_as_real``), as
    ``torch.optim.Adagrad`` does: its real and imaginary parts are separate
    coordinates, each with its own :math:`G` (starting at :math:`G_{init}`) and
    :math:`v`. Its ``sum`` and ``velocity`` stay complex tensors.

    Three paths compute the update; ``foreach`` and ``fused`` pick one, not the maths:

    * The per-tensor loop, the default on CPU: six element-wise operations per
      tensor, the square root written into a reused scratch buffer. It is the
      reference the other paths are tested against, and its float32 arithmetic
      is what the committed training runs reproduce.
    * ``foreach``: the same operations as ``torch._foreach_*`` calls, the
      default when every parameter is on CUDA, where one kernel launch per
      operation for all tensors saves launch overhead. On CPU those kernels loop
      over the tensors anyway and allocate their temporaries every step, and
      ``make bench-optim`` measured them no faster than the loop.
    * ``fused``, CPU only: three passes over each tensor instead of six. After
      :math:`v \leftarrow \mu v`, the velocity update is an Adagrad step on
      :math:`v` down :math:`-g`, so the middle pass is the fused Adagrad kernel
      of ``torch.optim.Adagrad(fused=True)`` with :math:`v` in the parameter's
      place. Nothing is compiled, so any number of shapes, parameter groups and
      optimizers in a process works. ``make bench-optim`` measured it faster
      than both other paths on the Penn Treebank model
      (``results/performance.md``). It agrees with the loop to rounding, not
      bit for bit (its square root is another vector routine), so it is not the
      default. A tensor whose gradient is laid out unlike its state (an expanded
      gradient, say) takes the loop's operations.

    Args:
        params: iterable of parameters or dicts defining parameter groups.
        lr: learning rate :math:`\eta` (default 0.02, Table 1 of the paper): a
            float or a 1-element tensor. A tensor is read at every step (a
            device synchronisation on CUDA), so changing it in place, as
            learning-rate schedulers do, takes effect.
        momentum: momentum coefficient :math:`\mu` in [0, 1) (default 0.9).
        eps: term added to :math:`\sqrt{G}` (default 1e-10, as torch's Adagrad); 0 only with
            ``initial_accumulator_value`` > 0, since 0 / 0 would make a coordinate with no gradient yet NaN.
        weight_decay: L2 penalty :math:`\lambda` (default 0).
        initial_accumulator_value: starting value of :math:`G` (default 0).
        maximize: maximise the objective instead of minimising it.
        foreach: use the multi-tensor path. ``None`` picks it when every
            parameter is on CUDA, and the per-tensor loop otherwise.
        fused: use the fused CPU path; ``None`` means ``False``. A parameter off
            the CPU is refused with a ``RuntimeError``, as torch's optimizers
            refuse devices their fused kernels do not support.
    """

    def __init__(
        self,
        params: Iterable[Tensor] | Iterable[dict[str, Any]],
        lr: float | Tensor = 0.02,
        momentum: float = 0.9,
        eps: float = 1e-10,
        weight_decay: float = 0.0,
        initial_accumulator_value: float = 0.0,
        maximize: bool = False,
        foreach: bool | None = None,
        fused: bool | None = None,
    ) -> None:
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
        _check_hyperparameters(defaults)
        super().__init__(params, defaults)
        self._scratch = ScratchBuffer()

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Add a group as ``torch.optim.Optimizer`` does, checking its hyperparameters first."""
        _check_hyperparameters({**self.defaults, **param_group})
        super().add_param_group(param_group)
        group = self.param_groups[-1]
        if group["fused"]:
            _check_fused_devices(group["params"])

    def _init_state(self, p: Tensor, group: dict[str, Any]) -> dict[str, Tensor]:
        state = self.state[p]
        if not state:
            dtype = state_dtype_for(p)
            init = group["initial_accumulator_value"]
            if p.is_complex():
                init = complex(init, init)
            state["sum"] = torch.full_like(p, init, dtype=dtype, memory_format=torch.preserve_format)
            state["velocity"] = torch.zeros_like(p, dtype=dtype, memory_format=torch.preserve_format)
        return state

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Load the state as ``torch.optim.Optimizer`` does, with two exceptions.

        First, ``foreach`` and ``fused`` stay as this optimizer was built, where
        torch's optimizers take them from the checkpoint: they choose how the
        update is computed, not what it computes, and a checkpoint saved on one
        path must resume on another, such as one saved with ``fused=True`` and
        resumed with the parameters on CUDA, where the fused path does not run.

        Second, 16-bit parameters' state stays in float32. Torch casts every
        floating-point state tensor to its parameter's dtype
        (``Optimizer._process_value_according_to_param_policy``, called as a static
        method, so a subclass cannot override it): that would round the float32
        ``sum`` and ``velocity`` of a bfloat16 or float16 parameter to 16 bits, and
        the resumed run would train differently. They are copied again from
        ``state_dict`` here, in float32 (a checkpoint holding 16-bit state, as
        older versions saved it, is widened to float32).
        """
        paths = [(group["foreach"], group["fused"]) for group in self.param_groups]
        super().load_state_dict(state_dict)
        for group, (foreach, fused) in zip(self.param_groups, paths):
            group["foreach"], group["fused"] = foreach, fused
        saved_ids = chain.from_iterable(g["params"] for g in state_dict["param_groups"])
        params = chain.from_iterable(g["params"] for g in self.param_groups)
        for saved_id, p in zip(saved_ids, params):
            dtype = state_dtype_for(p)
            saved = state_dict["state"].get(saved_id)
            if saved is None or dtype == p.dtype:
                continue
            for key in ("sum", "velocity"):
                self.state[p][key] = saved[key].to(device=p.device, dtype=dtype, copy=True)

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
            params, grads, sums, velocities = [], [], [], []
            for p in group["params"]:
                if p.grad is None:
                    continue
                grad = dense_grad(p, "AdaMomentum")
                state = self._init_state(p, group)
                params.append(real_view(p))
                grads.append(real_view(grad))
                sums.append(real_view(state["sum"]))
                velocities.append(real_view(state["velocity"]))
            if not params:
                continue

            check_unit_interval("momentum", group["momentum"])
            kwargs = dict(
                lr=float(group["lr"]),
                momentum=group["momentum"],
                eps=group["eps"],
                weight_decay=group["weight_decay"],
                maximize=group["maximize"],
            )
            if group["fused"]:
                _check_fused_devices(params)
                _fused_update(params, grads, sums, velocities, self._scratch.view_like, **kwargs)
            elif default_foreach(group["foreach"], params):
                _foreach_update(params, grads, sums, velocities, **kwargs)
            else:
                _single_tensor_update(params, grads, sums, velocities, self._scratch.view_like, **kwargs)
        return loss


def _check_hyperparameters(group: dict[str, Any]) -> None:
    check_lr(group["lr"])
    check_non_negative("eps", group["eps"])
    check_non_negative("weight_decay", group["weight_decay"])
    check_non_negative("initial_accumulator_value", group["initial_accumulator_value"])
    check_unit_interval("momentum", group["momentum"])
    if group["eps"] == 0 and group["initial_accumulator_value"] == 0:
        raise ValueError(
            "Invalid eps=0 with initial_accumulator_value=0: a coordinate whose gradients so far are all zero (an "
            "embedding row not yet in a batch) computes 0 / 0 and stays NaN; set eps > 0 (1e-10, as torch's "
            "Adagrad) or initial_accumulator_value > 0."
        )
    if group["fused"] and group["foreach"]:
        raise ValueError("AdaMomentum: fused=True and foreach=True are exclusive; set one of them.")


def _check_fused_devices(params: Iterable[Tensor]) -> None:
    # Torch's fused Adagrad kernel, which the fused path runs, has only been
    # checked against the loop here on CPU.
    for p in params:
        if p.device.type != "cpu":
            raise RuntimeError(
                f"AdaMomentum(fused=True) runs on CPU only, and a parameter is on {p.device}; leave fused unset "
                "there (foreach=None picks the multi-tensor path on CUDA)."
            )


def _prepare_grad(p: Tensor, grad: Tensor, state_dtype: torch.dtype, weight_decay: float, maximize: bool) -> Tensor:
    """The gradient the update uses, in the state's dtype; copies only when it must."""
    if grad.dtype != state_dtype:
        grad = grad.to(state_dtype)
    if maximize:
        grad = -grad
    if weight_decay != 0:
        grad = grad.add(p, alpha=weight_decay)
    return grad


def _update_tensor(
    p: Tensor,
    g: Tensor,
    G: Tensor,
    v: Tensor,
    scratch: Callable[[Tensor], Tensor],
    *,
    lr: float,
    momentum: float,
    eps: float,
) -> None:
    G.addcmul_(g, g)
    denom = torch.sqrt(G, out=scratch(G))
    denom.add_(eps)
    v.mul_(momentum).addcdiv_(g, denom, value=lr)
    p.sub_(v)


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
        _update_tensor(p, g, G, v, scratch, lr=lr, momentum=momentum, eps=eps)


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


def _fused_update(
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
    # The kernel scales lr by 1 / (1 + (step - 1) * lr_decay); with lr_decay = 0
    # any step count leaves lr as it is.
    step = torch.ones((), dtype=torch.float32)
    for p, grad, G, v in zip(params, grads, sums, velocities):
        g = _prepare_grad(p, grad, G.dtype, weight_decay, maximize)
        if not share_dense_layout(v, G, g):
            # The kernel walks the three tensors' memory side by side and does not
            # check that their layouts agree.
            _update_tensor(p, g, G, v, scratch, lr=lr, momentum=momentum, eps=eps)
            continue
        v.mul_(momentum)
        # With v in the parameter's place and the gradient negated (maximize=True),
        # Adagrad's step v - lr * (-g) / (sqrt(G + g^2) + eps) is the velocity update.
        torch._fused_adagrad_([v], [g], [G], [step], lr=lr, lr_decay=0.0, weight_decay=0.0, eps=eps, maximize=True)
        p.sub_(v)
