"""The optimizers' contract across their paths (loop, foreach, fused): the fused path against the loop
over many layouts in one process, complex parameters as their real view, tensor learning rates, and
state_dicts moved from one path to another."""

from __future__ import annotations

import io
from typing import Any

import pytest
import torch

from adamomentum import AdaMomentum, HeavyBall

PATHS: dict[str, dict[str, bool]] = {"loop": {"foreach": False}, "foreach": {"foreach": True}, "fused": {"fused": True}}
OPTIMIZER_PATHS = [(AdaMomentum, path) for path in PATHS] + [(HeavyBall, "loop"), (HeavyBall, "foreach")]

# One case is one optimizer: a list of param groups, each a list of (shape, layout) and the group's
# hyperparameters. "transposed" is dense but not contiguous, with a gradient laid out alike (as autograd
# makes it), "strided" is not dense (every other column of a wider tensor); "expanded_grad" (stride 0)
# and "transposed_grad" give a contiguous parameter a gradient laid out unlike it.
Case = list[tuple[list[tuple[tuple[int, ...], str]], dict[str, Any]]]
LAYOUT_CASES: list[Case] = [
    *[[([((n,), "contiguous")], {})] for n in range(1, 10)],
    [([((7, 3), "contiguous"), ((11,), "contiguous"), ((5, 2, 3), "contiguous"), ((4,), "contiguous")], {})],
    [([((i + 2, 3), "contiguous")], {"lr": 0.01 * (i + 1), "momentum": 0.08 * i}) for i in range(10)],
    [
        ([((6, 4), "transposed"), ((5, 3), "strided")], {"weight_decay": 0.1}),
        (
            [((3, 8), "expanded_grad"), ((4, 6), "transposed_grad"), ((0, 3), "contiguous")],
            {"maximize": True, "initial_accumulator_value": 0.1},
        ),
    ],
]


def layout_params(case: Case, dtype: torch.dtype, seed: int) -> list[dict[str, Any]]:
    gen = torch.Generator().manual_seed(seed)
    groups = []
    for specs, hyperparameters in case:
        params = []
        for shape, layout in specs:
            if layout == "transposed":
                p = torch.randn(shape[::-1], generator=gen).to(dtype).t()
            elif layout == "strided":
                p = torch.randn(shape[0], 2 * shape[1], generator=gen).to(dtype)[:, ::2]
            else:
                p = torch.randn(shape, generator=gen).to(dtype)
            params.append(p.requires_grad_())
        groups.append({"params": params, **hyperparameters})
    return groups


def layout_grad(p: torch.Tensor, layout: str, gen: torch.Generator) -> torch.Tensor:
    if layout == "expanded_grad":
        return torch.randn(p.shape[1:], generator=gen).to(p.dtype).expand(p.shape)
    if layout in ("transposed", "transposed_grad"):
        return torch.randn(p.shape[::-1], generator=gen).to(p.dtype).t()
    return torch.randn(p.shape, generator=gen).to(p.dtype)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.bfloat16], ids=lambda d: str(d).split(".")[1])
def test_fused_matches_the_loop_over_many_layouts_in_one_process(dtype):
    """Nine optimizers of one parameter each, a changing set of gradients, ten groups, odd memory layouts."""
    for case_index, case in enumerate(LAYOUT_CASES):
        loop_groups = layout_params(case, dtype, seed=case_index)
        fused_groups = layout_params(case, dtype, seed=case_index)
        loop = AdaMomentum(loop_groups, lr=0.05, momentum=0.9, foreach=False)
        fused = AdaMomentum(fused_groups, lr=0.05, momentum=0.9, fused=True)
        layouts = [layout for specs, _ in case for _, layout in specs]
        loop_params = [p for g in loop_groups for p in g["params"]]
        fused_params = [p for g in fused_groups for p in g["params"]]
        gen = torch.Generator().manual_seed(100 + case_index)
        for step in range(6):
            for i, (a, b, layout) in enumerate(zip(loop_params, fused_params, layouts)):
                grad = layout_grad(a, layout, gen) if (step + i) % 3 != 2 else None
                a.grad = b.grad = grad
            loop.step()
            fused.step()
        for a, b in zip(loop_params, fused_params):
            torch.testing.assert_close(b, a, msg=lambda m, case=case_index: f"case {case}: {m}")
            for key in ("sum", "velocity"):
                torch.testing.assert_close(fused.state[b][key], loop.state[a][key])


@pytest.mark.parametrize("optimizer, path", OPTIMIZER_PATHS)
def test_a_complex_parameter_steps_as_its_real_view(optimizer, path):
    gen = torch.Generator().manual_seed(0)
    z = torch.randn(3, 4, dtype=torch.complex64, generator=gen).requires_grad_()
    x = torch.view_as_real(z.detach().clone()).requires_grad_()
    kwargs = dict(lr=0.1, momentum=0.9, weight_decay=0.01, maximize=True, **PATHS[path])
    if optimizer is AdaMomentum:
        kwargs["initial_accumulator_value"] = 0.1
    on_complex, on_real = optimizer([z], **kwargs), optimizer([x], **kwargs)
    for _ in range(4):
        grad = torch.randn(3, 4, dtype=torch.complex64, generator=gen)
        z.grad, x.grad = grad, torch.view_as_real(grad).clone()
        on_complex.step()
        on_real.step()
        assert torch.equal(torch.view_as_real(z.detach()), x.detach())
    for key, value in on_real.state[x].items():
        assert torch.equal(torch.view_as_real(on_complex.state[z][key]), value)


@pytest.mark.parametrize("optimizer, path", OPTIMIZER_PATHS)
def test_a_one_element_tensor_lr_steps_as_the_same_float(optimizer, path):
    for lr in (torch.tensor(0.125), torch.tensor([0.125]), torch.tensor([[0.125]])):
        gen = torch.Generator().manual_seed(0)
        starts = [torch.randn(5, 3, generator=gen), torch.randn(4, generator=gen)]
        xs = [s.clone().requires_grad_() for s in starts]
        ys = [s.clone().requires_grad_() for s in starts]
        with_float = optimizer(xs, lr=0.125, momentum=0.5, **PATHS[path])
        with_tensor = optimizer(ys, lr=lr, momentum=0.5, **PATHS[path])
        for step in range(4):
            if step == 2:  # an LR scheduler changes a tensor lr in place
                with_float.param_groups[0]["lr"] = 0.25
                with_tensor.param_groups[0]["lr"].fill_(0.25)
            for x, y in zip(xs, ys):
                x.grad = y.grad = torch.randn(x.shape, generator=gen)
            with_float.step()
            with_tensor.step()
            for x, y in zip(xs, ys):
                assert torch.equal(x, y), f"lr={lr!r}, step {step}"


@pytest.mark.parametrize("optimizer", [AdaMomentum, HeavyBall])
def test_a_tensor_lr_of_several_elements_is_refused_at_construction_with_the_fix(optimizer):
    p = torch.zeros(2, requires_grad=True)
    with pytest.raises(ValueError, match=r"lr.*\(2,\).*float or a 1-element tensor"):
        optimizer([p], lr=torch.tensor([0.1, 0.2]))
    with pytest.raises(ValueError, match=r"lr.*\(2, 1\).*float or a 1-element tensor"):
        optimizer([{"params": [p], "lr": torch.tensor([[0.1], [0.2]])}], lr=0.1)


def mixed_params(seed: int) -> list[torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    return [
        torch.randn(7, 3, generator=gen).requires_grad_(),
        torch.randn(11, generator=gen).to(torch.bfloat16).requires_grad_(),
        torch.randn(4, 2, dtype=torch.complex64, generator=gen).requires_grad_(),
    ]


def set_grads(params: list[torch.Tensor], gen: torch.Generator) -> None:
    for p in params:
        p.grad = torch.randn(p.shape, dtype=torch.complex64 if p.is_complex() else torch.float32, generator=gen).to(
            p.dtype
        )


@pytest.mark.parametrize(
    "optimizer, saved_with, loaded_into",
    [(AdaMomentum, a, b) for a in PATHS for b in PATHS if a != b]
    + [(HeavyBall, "loop", "foreach"), (HeavyBall, "foreach", "loop")],
)
def test_a_state_dict_saved_on_one_path_resumes_on_another(optimizer, saved_with, loaded_into):
    """The loaded optimizer keeps the path it was built with and ends where the uninterrupted loop does."""
    kwargs = dict(lr=0.05, momentum=0.9, weight_decay=0.01)
    straight_params = mixed_params(seed=0)
    straight = optimizer(straight_params, **kwargs, foreach=False)
    gen = torch.Generator().manual_seed(1)
    for _ in range(6):
        set_grads(straight_params, gen)
        straight.step()

    first_params = mixed_params(seed=0)
    first = optimizer(first_params, **kwargs, **PATHS[saved_with])
    gen = torch.Generator().manual_seed(1)
    for _ in range(3):
        set_grads(first_params, gen)
        first.step()
    saved = io.BytesIO()
    torch.save(first.state_dict(), saved)
    saved.seek(0)

    resumed_params = [p.detach().clone().requires_grad_() for p in first_params]
    resumed = optimizer(resumed_params, **kwargs, **PATHS[loaded_into])
    built_with = {key: resumed.param_groups[0][key] for key in ("foreach", "fused") if key in resumed.defaults}
    resumed.load_state_dict(torch.load(saved))
    assert {key: resumed.param_groups[0][key] for key in built_with} == built_with
    for _ in range(3):
        set_grads(resumed_params, gen)
        resumed.step()
    for a, b in zip(straight_params, resumed_params):
        torch.testing.assert_close(b, a)
        for key, value in straight.state[a].items():
            assert resumed.state[b][key].dtype == value.dtype
            torch.testing.assert_close(resumed.state[b][key], value)


def test_fused_is_refused_off_the_cpu_with_the_fix():
    p = torch.zeros(3, device="meta", requires_grad=True)
    with pytest.raises(RuntimeError, match=r"CPU only.*meta.*leave fused unset"):
        AdaMomentum([p], fused=True)


def test_a_group_asking_for_foreach_under_fused_defaults_is_refused():
    p = torch.zeros(3, requires_grad=True)
    with pytest.raises(ValueError, match="fused=True and foreach=True are exclusive"):
        AdaMomentum([{"params": [p], "foreach": True}], fused=True)
