"""Time one optimizer step on the Penn Treebank model's parameter shapes.

    make bench-optim            # or: python scripts/bench_optim.py --repeats 15 --device cpu

The optimizers are timed in interleaved rounds in one process, so that drift
of the machine hits all of them alike; the table gives min / median / max ms
per step over the rounds and each median's ratio to torch's Adagrad.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import torch

from adamomentum import AdaMomentum, HeavyBall

# Embedding 10000x256, two LSTM layers of 256, decoder 256 -> 10000: 6.2M parameters.
PTB_SHAPES = [(10000, 256)] + [(1024, 256), (1024, 256), (1024,), (1024,)] * 2 + [(10000, 256), (10000,)]


def make_params(device: torch.device) -> list[torch.Tensor]:
    gen = torch.Generator().manual_seed(0)
    params = []
    for shape in PTB_SHAPES:
        p = (torch.rand(shape, generator=gen) * 0.2 - 0.1).to(device).requires_grad_()
        p.grad = (torch.randn(shape, generator=gen) * 1e-2).to(device)
        params.append(p)
    return params


def candidates(device: torch.device) -> dict[str, Callable[[list[torch.Tensor]], torch.optim.Optimizer]]:
    """Each optimizer on each of its paths; AdaMomentum's fused path runs on CPU only."""
    out: dict[str, Callable[[list[torch.Tensor]], torch.optim.Optimizer]] = {
        "SGD": lambda p: torch.optim.SGD(p, lr=1.0),
        "SGD momentum": lambda p: torch.optim.SGD(p, lr=1.0, momentum=0.6),
        "SGD momentum fused": lambda p: torch.optim.SGD(p, lr=1.0, momentum=0.6, fused=True),
        "HeavyBall loop": lambda p: HeavyBall(p, lr=1.0, momentum=0.6, foreach=False),
        "HeavyBall foreach": lambda p: HeavyBall(p, lr=1.0, momentum=0.6, foreach=True),
        "Adagrad": lambda p: torch.optim.Adagrad(p, lr=0.01),
        "Adagrad foreach": lambda p: torch.optim.Adagrad(p, lr=0.01, foreach=True),
        "Adagrad fused": lambda p: torch.optim.Adagrad(p, lr=0.01, fused=True),
        "AdaMomentum loop": lambda p: AdaMomentum(p, lr=0.02, momentum=0.9, foreach=False),
        "AdaMomentum foreach": lambda p: AdaMomentum(p, lr=0.02, momentum=0.9, foreach=True),
    }
    if device.type == "cpu":
        out["AdaMomentum fused"] = lambda p: AdaMomentum(p, lr=0.02, momentum=0.9, fused=True)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--repeats", type=int, default=15, help="interleaved rounds")
    parser.add_argument("--steps", type=int, default=10, help="steps timed per round")
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.set_flush_denormal(True)
    device = torch.device(args.device)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)

    setups = {}
    for name, build in candidates(device).items():
        params = make_params(device)
        opt = build(params)
        for _ in range(3):  # warm-up: state allocation, first-call set-up
            opt.step()
        setups[name] = opt
    times: dict[str, list[float]] = {name: [] for name in setups}
    for _ in range(args.repeats):
        for name, opt in setups.items():
            sync()
            start = time.perf_counter()
            for _ in range(args.steps):
                opt.step()
            sync()
            times[name].append(1e3 * (time.perf_counter() - start) / args.steps)

    medians = {name: statistics.median(ts) for name, ts in times.items()}
    base = medians["Adagrad"]
    print(
        f"device: {device} ({torch.get_num_threads()} threads), torch {torch.__version__}, "
        f"{sum(p.numel() for p in make_params(torch.device('cpu'))) / 1e6:.1f}M parameters, "
        f"{args.repeats} rounds x {args.steps} steps"
    )
    print(f"{'optimizer':32s} {'min':>7s} {'median':>7s} {'max':>7s}  {'/Adagrad':>8s}")
    for name, ts in times.items():
        print(f"{name:32s} {min(ts):7.2f} {medians[name]:7.2f} {max(ts):7.2f}  {medians[name] / base:8.2f}")
    default_path = "foreach" if device.type == "cuda" else "loop"
    print(
        f"\nAdaMomentum default ({default_path}) / Adagrad default: "
        f"{medians[f'AdaMomentum {default_path}'] / base:.2f} (target <= 1.5)"
    )
    if "AdaMomentum fused" in medians:
        fused = medians["AdaMomentum fused"]
        print(f"AdaMomentum fused / Adagrad fused:     {fused / medians['Adagrad fused']:.2f} (target <= 1.4)")
        print(
            f"AdaMomentum fused / loop, / foreach:   {fused / medians['AdaMomentum loop']:.2f}, "
            f"{fused / medians['AdaMomentum foreach']:.2f} (fused is kept only while both are < 1)"
        )


if __name__ == "__main__":
    main()
