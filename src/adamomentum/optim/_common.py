"""Argument checks and buffers shared by this package's optimizers."""

from __future__ import annotations

import torch
from torch import Tensor


def check_non_negative(name: str, value: float | Tensor) -> None:
    if not value >= 0.0:
        raise ValueError(f"Invalid {name}: {value!r}; it must be a number >= 0.")


def check_lr(lr: float | Tensor) -> None:
    """A float or a 1-element tensor (of any number of dimensions), as torch's optimizers take."""
    if isinstance(lr, Tensor) and lr.numel() != 1:
        raise ValueError(f"Invalid lr: a tensor of shape {tuple(lr.shape)}; pass a float or a 1-element tensor.")
    check_non_negative("lr", lr)


def check_unit_interval(name: str, value: float) -> None:
    if not 0.0 <= value < 1.0:
        raise ValueError(f"Invalid {name}: {value!r}; it must lie in [0, 1).")


def dense_grad(p: Tensor, optimizer: str) -> Tensor:
    """The gradient of ``p``, which the caller has seen is set; refused where it is sparse."""
    grad = p.grad
    assert grad is not None, "step() skips parameters without a gradient"
    if grad.is_sparse:
        raise ValueError(
            f"{optimizer} does not support sparse gradients (got one for a parameter of shape "
            f"{tuple(p.shape)}); build the embedding with sparse=False."
        )
    return grad


def default_foreach(foreach: bool | None, params: list[Tensor]) -> bool:
    """The multi-tensor path on CUDA, the per-tensor loop elsewhere.

    On CPU torch's ``_foreach_*`` kernels loop over tensors anyway and allocate
    their temporaries afresh each step; ``make bench-optim`` measured them slower
    than the loop with a reused buffer.
    """
    if foreach is not None:
        return foreach
    return all(p.is_cuda for p in params)


def state_dtype_for(p: Tensor) -> torch.dtype:
    """float32 state for 16-bit parameters, complex32's two float16 parts included."""
    if p.dtype in (torch.float16, torch.bfloat16):
        return torch.float32
    if p.dtype == torch.complex32:
        return torch.complex64
    return p.dtype


def real_view(t: Tensor) -> Tensor:
    """A complex tensor as its real view (torch's Adagrad convention): the real and
    imaginary parts become separate coordinates, each with its own state."""
    return torch.view_as_real(t) if t.is_complex() else t


def share_dense_layout(first: Tensor, *others: Tensor) -> bool:
    """Whether the tensors have the same strides and no gaps or overlaps between
    elements, so that a kernel walking their memory linearly pairs up the same
    elements of each."""
    if any(t.stride() != first.stride() for t in others):
        return False
    if first.numel() == 0:
        return True
    expected = 1
    for size, stride in sorted(zip(first.shape, first.stride()), key=lambda dim: dim[1]):
        if size != 1:
            if stride != expected:
                return False
            expected *= size
    return True


class ScratchBuffer:
    """One flat buffer per (device, dtype), grown to the largest tensor seen.

    Reusing it keeps the per-tensor update from allocating a parameter-sized
    temporary every step, which glibc hands back to the OS and the next step
    page-faults in again.
    """

    def __init__(self) -> None:
        self._buffers: dict[tuple[torch.device, torch.dtype], Tensor] = {}

    def view_like(self, t: Tensor) -> Tensor:
        key = (t.device, t.dtype)
        buf = self._buffers.get(key)
        if buf is None or buf.numel() < t.numel():
            buf = torch.empty(t.numel(), device=t.device, dtype=t.dtype)
            self._buffers[key] = buf
        return buf[: t.numel()].view(t.shape)
