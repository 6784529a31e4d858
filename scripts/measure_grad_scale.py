"""How large are each task's gradients, and how much does an accumulator start G_0 shrink the first steps?

    python scripts/measure_grad_scale.py --ptb-dir /work/shared/data/ptb --msra-dir /work/shared/data/msra \\
        --out results/ner-loss-scale/grad_scale

For each setting (the Penn Treebank language model and the MSRA NER tagger, each under both loss
reductions) the script builds the model, data and optimizer exactly as ``python -m adamomentum.train``
does at Table 1's values, trains ``--batches`` batches of epoch 1 through the trainer (then its end-of-run
evaluations), and records:

- per batch, the global gradient norm before clipping (and whether clipping cut it);
- at a few steps t, over every parameter element and per parameter tensor: quantiles of g_t^2 (the
  clipped gradient the optimizer sees) and of S_t = sum of g_k^2 over steps k <= t, the accumulator
  an AdaGrad-type optimizer holds with G_0 = 0; the share of elements with S_t < G_0; and the shrink
  a start G_0 puts on the step, sqrt(S_t) / sqrt(G_0 + S_t), as the median over the elements with
  S_t > 0 and as the ratio of the norms of the whole step g_t / sqrt(G_0 + S_t) to g_t / sqrt(S_t).

The trajectory is the one of ``--optimizer`` (AdaGrad by default, G_0 = 0); the shrink is computed
against the same gradients, i.e. what G_0 would change in that run's first steps. It writes one JSON
file per setting and ``grad_scale.md``, the tables of every setting measured into ``--out``.
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import torch
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf
from torch import Tensor
from torch.optim import Optimizer

from adamomentum.config import CONFIG_DIR
from adamomentum.run import set_up_trainer
from adamomentum.trainer import Task

ROOT = Path(__file__).resolve().parents[1]
RECORD_AT = (1, 2, 5, 10, 20, 50, 100, 200)
QUANTILES = (0.1, 0.5, 0.9)


def settings(ptb_dir: str, msra_dir: str) -> dict[str, list[str]]:
    """Each setting's overrides; the NER ones are the MSRA stand-in's (train capped at 14,700)."""
    ner = ["task=ner", "data.source=columns", f"data.data_dir={msra_dir}", "data.max_train_sentences=14700"]
    return {
        "ptb-sum_over_time": ["task=ptb", f"data.data_dir={ptb_dir}", "task.loss_reduction=sum_over_time"],
        "ptb-mean": ["task=ptb", f"data.data_dir={ptb_dir}", "task.loss_reduction=mean"],
        "ner-mean": [*ner, "task.loss_reduction=mean"],
        "ner-sum_over_time": [*ner, "task.loss_reduction=sum_over_time"],
    }


def quantiles(values: torch.Tensor) -> list[float]:
    # torch.quantile refuses more than 2^24 elements; every tensor here is smaller.
    return [float(q) for q in torch.quantile(values.double(), torch.tensor(QUANTILES, dtype=torch.float64))]


def element_stats(grad: torch.Tensor, accumulated: torch.Tensor, g0: float) -> dict[str, Any]:
    """Statistics of one tensor (or all of them flattened) at one step; see the module docstring."""
    touched = accumulated > 0
    step_without = grad[touched] / accumulated[touched].sqrt()
    step_with = grad[touched] / (g0 + accumulated[touched]).sqrt()
    shrink = (accumulated[touched] / (g0 + accumulated[touched])).sqrt()
    return {
        "elements": grad.numel(),
        "g2_quantiles": quantiles(grad.square()),
        "g2_nonzero_share": float((grad != 0).double().mean()),
        "g2_nonzero_quantiles": quantiles(grad[grad != 0].square()) if bool((grad != 0).any()) else None,
        "S_quantiles": quantiles(accumulated),
        "S_touched_quantiles": quantiles(accumulated[touched]) if bool(touched.any()) else None,
        "touched_share": float(touched.double().mean()),
        "share_S_below_g0": float((accumulated[touched] < g0).double().mean()) if bool(touched.any()) else None,
        "shrink_median": float(shrink.median()) if bool(touched.any()) else None,
        "step_norm_ratio": float(step_with.norm() / step_without.norm()) if bool(touched.any()) else None,
    }


class GradientRecorder:
    """A step callback (``Trainer.step_callbacks``): each batch's gradient norm before clipping, and at the
    steps of ``RECORD_AT`` (and the last) the statistics of ``element_stats`` for every parameter tensor.

    It reads the gradients after the optimizer's step, which leaves them as clipping left them.
    """

    def __init__(self, names: list[str], params: list[torch.Tensor], batches: int, g0: float) -> None:
        self.names, self.params, self.batches, self.g0 = names, params, batches, g0
        self.accumulated = [torch.zeros_like(p) for p in params]
        self.norms: list[float] = []
        self.token_counts: list[int] = []
        self.records: list[dict[str, Any]] = []

    def __call__(
        self, step: int, loss: Tensor, nll: Tensor, tokens: int, grad_norm: Tensor, task: Task, optimizer: Optimizer
    ) -> None:
        self.norms.append(float(grad_norm))
        self.token_counts.append(tokens)
        grads = [p.grad if p.grad is not None else torch.zeros_like(p) for p in self.params]
        for total, grad in zip(self.accumulated, grads):
            total.add_(grad.square())
        if step in RECORD_AT or step == self.batches:
            flat_grad = torch.cat([g.reshape(-1) for g in grads])
            flat_total = torch.cat([s.reshape(-1) for s in self.accumulated])
            per_tensor = zip(self.names, grads, self.accumulated)
            self.records.append(
                {
                    "step": step,
                    "all": element_stats(flat_grad, flat_total, self.g0),
                    "per_tensor": {n: element_stats(g, s, self.g0) for n, g, s in per_tensor},
                }
            )


def measure(overrides: list[str], optimizer: str, batches: int, g0: float, threads: int) -> dict[str, Any]:
    """The first ``batches`` batches of epoch 1 through the trainer, as ``python -m adamomentum.train`` trains
    them, with a ``GradientRecorder`` watching."""
    with initialize_config_dir(str(CONFIG_DIR), version_base=None):
        cfg = compose(
            "config",
            overrides=[
                *overrides,
                f"optimizer={optimizer}",
                f"threads={threads}",
                "device=cpu",
                "progress=false",
                f"trainer.max_batches={batches}",
                "trainer.eval_interval=null",
                "checkpoint_interval=null",
            ],
        )
    with tempfile.TemporaryDirectory() as run_dir:
        trainer = set_up_trainer(cfg, Path(run_dir))
        names = [name for name, p in trainer.task.model.named_parameters() if p.requires_grad]
        recorder = GradientRecorder(names, trainer.params, batches, g0)
        trainer.step_callbacks.append(recorder)
        result = trainer.fit()
    norms = recorder.norms
    max_norm = cfg.trainer.clip_grad_norm if cfg.trainer.clip_grad_norm is not None else math.inf
    return {
        "overrides": overrides,
        "optimizer": optimizer,
        "optimizer_config": OmegaConf.to_container(cfg.optimizer),
        "loss_reduction": cfg.task.loss_reduction,
        "clip_grad_norm": cfg.trainer.clip_grad_norm,
        "g0": g0,
        "batches": len(norms),
        "batch_size": cfg.data.batch_size,
        "mean_tokens_per_batch": sum(recorder.token_counts) / len(recorder.token_counts),
        "grad_norm_before_clipping": {
            "first": norms[0],
            "quantiles": quantiles(torch.tensor(sorted(norms))),
            "clipped_share": sum(n > max_norm for n in norms) / len(norms),
            "per_batch": norms,
        },
        "records": recorder.records,
        "seconds": round(result.train_time_s, 1),
    }


def markdown(results: dict[str, dict[str, Any]], g0: float) -> str:
    lines = [
        f"# Gradient scale per task, and what G_0 = {g0} does to the first steps",
        "",
        "g^2: the clipped gradient the optimizer sees, squared, per element; S_t: the sum of g^2 over "
        "steps 1..t (AdaGrad's accumulator with G_0 = 0). Shrink: sqrt(S_t / (G_0 + S_t)), the factor "
        f"G_0 = {g0} puts on an element's step (median over the elements with S_t > 0); step-norm ratio: "
        "the norm of the whole step g_t / sqrt(G_0 + S_t) over that of g_t / sqrt(S_t).",
        "",
        "## Global gradient norm before clipping",
        "",
        "| setting | loss reduction | tokens per batch | batches | first | p10 / median / p90 | share clipped at 5 |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, r in results.items():
        q = r["grad_norm_before_clipping"]["quantiles"]
        lines.append(
            f"| {name} | {r['loss_reduction']} | {r['mean_tokens_per_batch']:.0f} | {r['batches']} | "
            f"{r['grad_norm_before_clipping']['first']:.3g} | {q[0]:.3g} / {q[1]:.3g} / {q[2]:.3g} | "
            f"{r['grad_norm_before_clipping']['clipped_share']:.2f} |"
        )
    lines += [
        "",
        "## All parameters, by step",
        "",
        "| setting | step | median g^2 (nonzero) | p90 g^2 (nonzero) | median S_t (touched) | p90 S_t (touched) "
        f"| share S_t < {g0} | median shrink | step-norm ratio |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, r in results.items():
        for rec in r["records"]:
            a = rec["all"]
            lines.append(
                f"| {name} | {rec['step']} | {a['g2_nonzero_quantiles'][1]:.2e} | {a['g2_nonzero_quantiles'][2]:.2e} "
                f"| {a['S_touched_quantiles'][1]:.2e} | {a['S_touched_quantiles'][2]:.2e} "
                f"| {a['share_S_below_g0']:.3f} | {a['shrink_median']:.2g} | {a['step_norm_ratio']:.2g} |"
            )
    lines += [
        "",
        "## Per parameter tensor, at the last recorded step",
        "",
        "| setting | tensor | elements | share touched | median S_t (touched) | p90 S_t (touched) "
        f"| share S_t < {g0} | median shrink | step-norm ratio |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, r in results.items():
        last = r["records"][-1]
        for tensor, s in last["per_tensor"].items():
            if s["S_touched_quantiles"] is None:
                continue
            lines.append(
                f"| {name} (step {last['step']}) | {tensor} | {s['elements']} | {s['touched_share']:.3f} "
                f"| {s['S_touched_quantiles'][1]:.2e} | {s['S_touched_quantiles'][2]:.2e} "
                f"| {s['share_S_below_g0']:.3f} | {s['shrink_median']:.2g} | {s['step_norm_ratio']:.2g} |"
            )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ptb-dir", required=True)
    parser.add_argument("--msra-dir", required=True)
    parser.add_argument("--out", type=Path, required=True, help="folder for the JSON files and grad_scale.md")
    parser.add_argument("--optimizer", default="adagrad", help="whose trajectory (Table 1's values)")
    parser.add_argument("--batches", type=int, default=200)
    parser.add_argument("--g0", type=float, default=0.1)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--only", default=None, help="comma-separated setting names (default: all)")
    parser.add_argument("--tables-only", action="store_true", help="rebuild grad_scale.md from the JSON files in --out")
    args = parser.parse_args()

    chosen = settings(args.ptb_dir, args.msra_dir)
    if args.only:
        unknown = sorted(set(args.only.split(",")) - set(chosen))
        if unknown:
            parser.error(f"--only {','.join(unknown)}: not a setting; choose from {', '.join(chosen)}")
        chosen = {k: v for k, v in chosen.items() if k in args.only.split(",")}
    args.out.mkdir(parents=True, exist_ok=True)
    commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    for name, overrides in ({} if args.tables_only else chosen).items():
        result = measure(overrides, args.optimizer, args.batches, args.g0, args.threads)
        result.update(
            setting=name,
            commit=commit,
            machine=platform.processor() or platform.machine(),
            command=" ".join(["python", *sys.argv]),
        )
        (args.out / f"{name}.json").write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
        print(f"{name}: {result['batches']} batches in {result['seconds']} s", flush=True)
    # The tables cover every setting measured into --out so far, so settings can be run one at a time.
    written = {name: args.out / f"{name}.json" for name in settings(args.ptb_dir, args.msra_dir)}
    results = {name: json.loads(path.read_text()) for name, path in written.items() if path.exists()}
    (args.out / "grad_scale.md").write_text(markdown(results, args.g0), encoding="utf-8")


if __name__ == "__main__":
    main()
