"""AdaMomentum and the paper's Momentum baseline follow the paper's update rules."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch

from adamomentum import AdaMomentum, HeavyBall, MomentumScheduler
from adamomentum.optim import build_optimizer, momentum_at


def reference_adamomentum(
    thetas, grad_fn, groups, steps, eps=1e-10, weight_decay=0.0, maximize=False, initial_accumulator_value=0.0
):
    """Independent float64 NumPy implementation of the update in docs/optimizer.md, with torch's Adagrad
    conventions for maximize (the gradient negated) and weight decay (lambda theta added after)."""
    thetas = [t.astype(np.float64).copy() for t in thetas]
    G = [np.full_like(t, initial_accumulator_value) for t in thetas]
    v = [np.zeros_like(t) for t in thetas]
    for _ in range(steps):
        grads = [(-g if maximize else g) + weight_decay * t for g, t in zip(grad_fn(thetas), thetas)]
        for i, (lr, mu) in enumerate(groups):
            G[i] = G[i] + grads[i] ** 2
            v[i] = mu * v[i] + lr / (eps + np.sqrt(G[i])) * grads[i]
            thetas[i] = thetas[i] - v[i]
    return thetas


def quadratic_grads(A, b):
    """Gradient of sum_i 0.5 x_i^T A x_i - b^T x_i, per tensor."""
    return lambda xs: [A @ x - b for x in xs]


def test_matches_numpy_reference_for_two_groups_over_30_steps():
    rng = np.random.default_rng(0)
    M = rng.normal(size=(5, 5))
    A, b = M @ M.T + np.eye(5), rng.normal(size=5)
    x0 = [rng.normal(size=5), rng.normal(size=5)]
    groups = [(0.05, 0.9), (0.2, 0.5)]
    expected = reference_adamomentum(x0, quadratic_grads(A, b), groups, steps=30)

    params = [torch.tensor(x, dtype=torch.float64, requires_grad=True) for x in x0]
    opt = AdaMomentum(
        [{"params": [params[0]], "lr": 0.05, "momentum": 0.9}, {"params": [params[1]], "lr": 0.2, "momentum": 0.5}]
    )
    At, bt = torch.tensor(A), torch.tensor(b)
    for _ in range(30):
        opt.zero_grad()
        loss = sum(0.5 * p @ At @ p - bt @ p for p in params)
        loss.backward()
        opt.step()
    for p, e in zip(params, expected):
        rel = np.abs(p.detach().numpy() - e).max() / np.abs(e).max()
        assert rel < 1e-6


@pytest.mark.parametrize("path", [{}, {"foreach": True}, {"fused": True}], ids=["loop", "foreach", "fused"])
def test_weight_decay_and_maximize_match_the_numpy_reference(path):
    rng = np.random.default_rng(1)
    M = rng.normal(size=(4, 4))
    A, b = M @ M.T + np.eye(4), rng.normal(size=4)
    x0 = [rng.normal(size=4)]
    hyper = dict(eps=1e-3, weight_decay=0.3, initial_accumulator_value=0.1)
    # Maximising the negated quadratic: the gradient of the objective is b - A x.
    expected = reference_adamomentum(x0, lambda xs: [b - A @ x for x in xs], [(0.05, 0.9)], 30, maximize=True, **hyper)

    x = torch.tensor(x0[0], requires_grad=True)
    opt = AdaMomentum([x], lr=0.05, momentum=0.9, maximize=True, **hyper, **path)
    At, bt = torch.tensor(A), torch.tensor(b)
    for _ in range(30):
        opt.zero_grad()
        (-(0.5 * x @ At @ x - bt @ x)).backward()
        opt.step()
    np.testing.assert_allclose(x.detach().numpy(), expected[0], rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("foreach", [False, True])
def test_heavy_ball_weight_decay_and_maximize_match_a_reference(foreach):
    x0, lr, mu, wd = np.array([1.0, -2.0, 0.5]), 0.1, 0.6, 0.3
    expected, v = x0.copy(), np.zeros(3)
    for _ in range(10):
        g = 2 * expected + wd * expected  # maximising -x^2: the objective's gradient, -2x, negated
        v = mu * v + lr * g
        expected = expected - v

    x = torch.tensor(x0, requires_grad=True)
    opt = HeavyBall([x], lr=lr, momentum=mu, weight_decay=wd, maximize=True, foreach=foreach)
    for _ in range(10):
        opt.zero_grad()
        (-(x**2).sum()).backward()
        opt.step()
    np.testing.assert_allclose(x.detach().numpy(), expected, rtol=1e-12)


def make_problem(dtype=torch.float32, seed=0):
    gen = torch.Generator().manual_seed(seed)
    params = [
        torch.randn(7, 3, generator=gen, dtype=dtype).requires_grad_(),
        torch.randn(11, generator=gen, dtype=dtype).requires_grad_(),
    ]
    targets = [torch.randn(7, 3, generator=gen, dtype=dtype), torch.randn(11, generator=gen, dtype=dtype)]

    def loss_fn():
        return sum(((p - t) ** 2 * (1 + p.abs())).sum() for p, t in zip(params, targets))

    return params, loss_fn


def run_steps(opt, params, loss_fn, steps):
    for _ in range(steps):
        opt.zero_grad()
        loss_fn().backward()
        opt.step()
    return [p.detach().clone() for p in params]


@pytest.mark.parametrize("initial_accumulator_value", [0.0, 0.1])
def test_momentum_zero_reproduces_torch_adagrad(initial_accumulator_value):
    params_a, loss_a = make_problem(torch.float64)
    params_b, loss_b = make_problem(torch.float64)
    ours = AdaMomentum(params_a, lr=0.1, momentum=0.0, eps=1e-10, initial_accumulator_value=initial_accumulator_value)
    theirs = torch.optim.Adagrad(params_b, lr=0.1, eps=1e-10, initial_accumulator_value=initial_accumulator_value)
    for _ in range(25):
        for opt, lf in ((ours, loss_a), (theirs, loss_b)):
            opt.zero_grad()
            lf().backward()
            opt.step()
        for a, b in zip(params_a, params_b):
            torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)


def test_foreach_and_per_tensor_paths_agree():
    params_a, loss_a = make_problem()
    params_b, loss_b = make_problem()
    out_a = run_steps(AdaMomentum(params_a, foreach=False), params_a, loss_a, 20)
    out_b = run_steps(AdaMomentum(params_b, foreach=True), params_b, loss_b, 20)
    for a, b in zip(out_a, out_b):
        torch.testing.assert_close(a, b, rtol=1e-6, atol=1e-7)


def test_fused_path_agrees_with_per_tensor_path():
    params_a, loss_a = make_problem()
    params_b, loss_b = make_problem()
    out_a = run_steps(AdaMomentum(params_a), params_a, loss_a, 10)
    out_b = run_steps(AdaMomentum(params_b, fused=True), params_b, loss_b, 10)
    for a, b in zip(out_a, out_b):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16, torch.float16])
@pytest.mark.parametrize("optimizer", [AdaMomentum, HeavyBall])
def test_save_and_load_continue_bit_for_bit(optimizer, dtype):
    """A run resumed from a saved state_dict ends where the uninterrupted run does, 16-bit parameters included."""
    params, loss_fn = make_problem(dtype)
    opt = optimizer(params, lr=0.05, momentum=0.9)
    run_steps(opt, params, loss_fn, 7)
    saved_params = [p.detach().clone() for p in params]
    saved = io.BytesIO()
    torch.save(opt.state_dict(), saved)
    state_dtypes = [{k: v.dtype for k, v in opt.state[p].items()} for p in params]
    straight = run_steps(opt, params, loss_fn, 8)

    params2, loss_fn2 = make_problem(dtype)
    with torch.no_grad():
        for p, s in zip(params2, saved_params):
            p.copy_(s)
    opt2 = optimizer(params2, lr=0.05, momentum=0.9)
    saved.seek(0)
    opt2.load_state_dict(torch.load(saved))
    assert [{k: v.dtype for k, v in opt2.state[p].items()} for p in params2] == state_dtypes
    resumed = run_steps(opt2, params2, loss_fn2, 8)
    for a, b in zip(straight, resumed):
        assert torch.equal(a, b)


def test_16_bit_state_saved_by_older_versions_is_widened_to_float32():
    x = torch.ones(4, dtype=torch.bfloat16, requires_grad=True)
    opt = AdaMomentum([x])
    old_state = {
        "state": {
            0: {
                "sum": torch.full((4,), 0.5, dtype=torch.bfloat16),
                "velocity": torch.full((4,), 0.25, dtype=torch.bfloat16),
            }
        },
        "param_groups": opt.state_dict()["param_groups"],
    }
    opt.load_state_dict(old_state)
    assert opt.state[x]["sum"].dtype == opt.state[x]["velocity"].dtype == torch.float32
    assert torch.equal(opt.state[x]["sum"], old_state["state"][0]["sum"].float())


@pytest.mark.parametrize("foreach", [False, True])
def test_minimises_a_quadratic(foreach):
    target = torch.tensor([3.0, -2.0, 0.5])
    x = torch.zeros(3, requires_grad=True)
    opt = AdaMomentum([x], lr=0.5, momentum=0.9, foreach=foreach)
    for _ in range(500):
        opt.zero_grad()
        ((x - target) ** 2).sum().backward()
        opt.step()
    torch.testing.assert_close(x.detach(), target, atol=1e-3, rtol=0)


def test_minimises_rosenbrock():
    xy = torch.tensor([-1.5, 2.0], dtype=torch.float64, requires_grad=True)
    opt = AdaMomentum([xy], lr=0.1, momentum=0.9)
    for _ in range(5000):
        opt.zero_grad()
        x, y = xy
        ((1 - x) ** 2 + 100 * (y - x**2) ** 2).backward()
        opt.step()
    torch.testing.assert_close(xy.detach(), torch.tensor([1.0, 1.0], dtype=torch.float64), atol=1e-2, rtol=0)


@pytest.mark.parametrize(
    "kwargs, name",
    [
        ({"lr": -1.0}, "lr"),
        ({"eps": -1e-8}, "eps"),
        ({"momentum": 1.0}, "momentum"),
        ({"momentum": -0.1}, "momentum"),
        ({"weight_decay": -1}, "weight_decay"),
        ({"eps": 0.0}, "eps=0 with initial_accumulator_value=0"),
    ],
)
def test_invalid_hyperparameters_raise_naming_the_value(kwargs, name):
    with pytest.raises(ValueError, match=name):
        AdaMomentum([torch.zeros(2, requires_grad=True)], **kwargs)


def test_eps_zero_trains_with_a_positive_accumulator_start_where_a_gradient_is_zero():
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    opt = AdaMomentum([x], lr=0.1, eps=0.0, initial_accumulator_value=0.1)
    for _ in range(3):
        opt.zero_grad()
        (x[1] ** 2).backward()  # x[0]'s gradient is 0
        opt.step()
    assert x[0].item() == 1.0 and 0 < x[1].item() < 2.0


def test_sparse_gradients_are_refused():
    emb = torch.nn.Embedding(10, 3, sparse=True)
    opt = AdaMomentum(emb.parameters())
    emb(torch.tensor([1, 2])).sum().backward()
    with pytest.raises(ValueError, match="sparse"):
        opt.step()


def test_closure_lr_scheduler_and_maximize():
    x = torch.tensor([1.0], requires_grad=True)
    opt = AdaMomentum([x], lr=0.1, momentum=0.0, maximize=True)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)

    def closure():
        opt.zero_grad()
        loss = -((x - 2) ** 2).sum()
        loss.backward()
        return loss

    loss = opt.step(closure)
    assert loss is not None
    # maximise -(x-2)^2 from x=1: the first AdaGrad-scaled step is +lr.
    torch.testing.assert_close(x.detach(), torch.tensor([1.1]))
    sched.step()
    assert opt.param_groups[0]["lr"] == pytest.approx(0.05)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.bfloat16])
def test_dtypes(dtype):
    x = torch.ones(4, dtype=dtype, requires_grad=True)
    opt = AdaMomentum([x], lr=0.1)
    for _ in range(3):
        opt.zero_grad()
        (x.float() ** 2).sum().backward()
        opt.step()
    assert opt.state[x]["sum"].dtype == (torch.float32 if dtype == torch.bfloat16 else dtype)
    assert (x.float() < 1).all()


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_paths_agree_with_cpu():
    params_cpu, loss_cpu = make_problem()
    out_cpu = run_steps(AdaMomentum(params_cpu), params_cpu, loss_cpu, 10)
    gen = torch.Generator().manual_seed(0)
    params_gpu = [
        torch.randn(7, 3, generator=gen).cuda().requires_grad_(),
        torch.randn(11, generator=gen).cuda().requires_grad_(),
    ]
    targets = [torch.randn(7, 3, generator=gen).cuda(), torch.randn(11, generator=gen).cuda()]
    opt = AdaMomentum(params_gpu)
    out_gpu = run_steps(
        opt, params_gpu, lambda: sum(((p - t) ** 2 * (1 + p.abs())).sum() for p, t in zip(params_gpu, targets)), 10
    )
    for a, b in zip(out_cpu, out_gpu):
        torch.testing.assert_close(a, b.cpu(), rtol=1e-5, atol=1e-6)


def test_heavy_ball_agrees_with_torch_sgd_at_constant_lr_and_differs_after_decay():
    params_a, loss_a = make_problem(torch.float64)
    params_b, loss_b = make_problem(torch.float64)
    ours = HeavyBall(params_a, lr=0.01, momentum=0.6)
    theirs = torch.optim.SGD(params_b, lr=0.01, momentum=0.6)
    for a, b in zip(run_steps(ours, params_a, loss_a, 10), run_steps(theirs, params_b, loss_b, 10)):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)
    for opt in (ours, theirs):
        opt.param_groups[0]["lr"] *= 0.5
    after_a = run_steps(ours, params_a, loss_a, 1)
    after_b = run_steps(theirs, params_b, loss_b, 1)
    assert not torch.allclose(after_a[0], after_b[0], rtol=1e-9, atol=0)


def test_heavy_ball_step_is_the_velocity():
    x = torch.tensor([0.0], requires_grad=True)
    opt = HeavyBall([x], lr=0.5, momentum=0.6)
    for expected in (-0.5, -0.5 - (0.6 * 0.5 + 0.5)):
        opt.zero_grad()
        (-x).sum().backward()  # gradient -1
        opt.step()
        assert x.item() == pytest.approx(-expected)


def test_momentum_schedules():
    assert momentum_at("constant", 5000, 0.9) == 0.9
    assert momentum_at("linear", 0, 0.9, warmup_steps=100, mu_start=0.5) == 0.5
    assert momentum_at("linear", 50, 0.9, warmup_steps=100, mu_start=0.5) == pytest.approx(0.7)
    assert momentum_at("linear", 200, 0.9, warmup_steps=100) == 0.9
    # Sutskever et al. 2013: 1 - 2^(-1 - log2(floor(t/250) + 1)), capped at mu_max.
    assert momentum_at("sutskever", 0, 0.99) == 0.5
    assert momentum_at("sutskever", 250, 0.99) == 0.75
    assert momentum_at("sutskever", 749, 0.99) == pytest.approx(1 - 2 ** (-1 - np.log2(3)))
    assert momentum_at("sutskever", 10**6, 0.9) == 0.9
    with pytest.raises(ValueError, match="nesterov"):
        momentum_at("nesterov", 0, 0.9)


@pytest.mark.parametrize("kwargs, name", [({"mu_start": -0.5}, "mu_start"), ({"warmup_steps": -1}, "warmup_steps")])
def test_momentum_scheduler_refuses_invalid_arguments_by_name(kwargs, name):
    opt = AdaMomentum([torch.zeros(2, requires_grad=True)])
    with pytest.raises(ValueError, match=name):
        MomentumScheduler(opt, "linear", **kwargs)


@pytest.mark.parametrize("optimizer", [AdaMomentum, HeavyBall])
def test_a_momentum_set_between_steps_is_checked_at_the_step(optimizer):
    x = torch.ones(2, requires_grad=True)
    opt = optimizer([x])
    opt.param_groups[0]["momentum"] = 1.5
    x.sum().backward()
    with pytest.raises(ValueError, match="momentum"):
        opt.step()


def test_momentum_scheduler_sets_groups_and_round_trips():
    opt = AdaMomentum([torch.zeros(2, requires_grad=True)], momentum=0.9)
    sched = MomentumScheduler(opt, "sutskever")
    assert opt.param_groups[0]["momentum"] == 0.5
    for _ in range(250):
        sched.step()
    assert opt.param_groups[0]["momentum"] == 0.75
    state = sched.state_dict()
    opt2 = AdaMomentum([torch.zeros(2, requires_grad=True)], momentum=0.9)
    sched2 = MomentumScheduler(opt2, "constant")
    sched2.load_state_dict(state)
    assert opt2.param_groups[0]["momentum"] == 0.75


def test_momentum_scheduler_schedules_a_group_added_after_it_from_the_momentum_it_was_added_with():
    opt = AdaMomentum([torch.zeros(2, requires_grad=True)], momentum=0.9)
    sched = MomentumScheduler(opt, "linear", warmup_steps=100, mu_start=0.5)
    sched.step()
    opt.add_param_group({"params": [torch.zeros(3, requires_grad=True)], "momentum": 0.7})
    for _ in range(49):
        sched.step()
    assert [g["momentum"] for g in opt.param_groups] == pytest.approx([0.7, 0.6])
    assert sched.state_dict()["mu_max"] == [0.9, 0.7]


def test_registry_builds_every_name_and_rejects_unknown():
    p = [torch.zeros(2, requires_grad=True)]
    assert isinstance(build_optimizer("momentum", p, lr=1.0, momentum=0.6), HeavyBall)
    assert isinstance(build_optimizer("adamomentum", p, lr=0.02, momentum=0.9, fused=None), AdaMomentum)
    assert isinstance(build_optimizer("adagrad", p, lr=0.01, eps=1e-10), torch.optim.Adagrad)
    assert isinstance(build_optimizer("sgd", p, lr=1.0), torch.optim.SGD)
    with pytest.raises(ValueError, match="adamomentum"):
        build_optimizer("adamw2", p, lr=1.0)
    with pytest.raises(ValueError, match="initial_accumulator_value"):
        build_optimizer("sgd", p, lr=1.0, initial_accumulator_value=0.1)
