"""Why AdaMomentum at Table 1's values blows up early on the Penn Treebank, whether it does on NER, and what the
authors' start changes.

    python scripts/diagnose_blowup.py --data-dir ../shared/data/ptb --out results/ptb-blowup
    python scripts/diagnose_blowup.py --task ner --data-dir ../shared/data/msra --out results/ner-blowup
    python scripts/diagnose_blowup.py --rebuild --out results/ptb-blowup     # table and figure from the logs

Trains the first ``--batches`` (2,000) batches of AdaMomentum, seed 0, at Table 1's values (G_0 = 0) and
with the accumulator start of the authors' C++ code (G_0 = 0.1), each built exactly as
``python -m adamomentum.train task=ptb optimizer=adamomentum`` builds it (the trainer, Zaremba's loss,
clipping at global norm 5), or for ``--task ner`` as the NER verdict's runs on MSRA (``experiment=ner_verdict``:
two-column files, train capped at 14,700 sentences, the loss summed over each sentence), and records every
``--every`` (10) batches:

- over the window: the training loss (mean NLL per token), how many batches clipping cut (pre-clip global
  gradient norm above 5) and the largest pre-clip norm, and the largest |logit| of any training batch;
- at the window's last batch: the RMS of the update per parameter tensor (AdaMomentum's velocity v, as
  theta_t = theta_{t-1} - v_t) and quantiles of the accumulator G over all elements.

Observing does not change training: the run's evaluations are written beside the records and equal the
full run's logged ones at the same steps (``metrics.jsonl`` of the committed runs).
Writes ``<setting>.jsonl`` (one record per window, then one ``{"evaluation": ...}`` line per evaluation),
``runs.json``, ``diagnosis.md`` and ``blowup_<task>.png``; ``--rebuild`` (with the same ``--task``) redraws
the last two from the ``.jsonl`` files.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import matplotlib
import torch
from hydra import compose, initialize_config_dir
from torch import Tensor

from adamomentum.config import CONFIG_DIR
from adamomentum.process import git_commit
from adamomentum.run import set_up_trainer
from adamomentum.trainer import Trainer

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

SETTINGS = {
    "table1": ("Table 1 (G_0 = 0)", []),
    "authors_start": ("the authors' start (G_0 = 0.1)", ["optimizer.initial_accumulator_value=0.1"]),
}
QUANTILES = (0.01, 0.5, 0.99)
TABLE_STEPS = (10, 50, 100, 200, 500, 1000, 2000)


@dataclass(frozen=True)
class Setup:
    """What differs between the two tasks: the config, where the logits come from, the tensors the figure
    draws and what an evaluation reports."""

    corpus: str
    overrides: tuple[str, ...]
    output_layer: str
    shown: dict[str, str]  # parameter tensor -> its name in the table
    evaluation: tuple[str, ...]
    after: str  # how diagnosis.md reports the last evaluation
    # Where each panel's legend has room: (x, y, loc) in axes fractions, as legend's bbox_to_anchor and loc.
    legends: tuple[tuple[float, float, str], ...]


TASKS = {
    "ptb": Setup(
        "the Penn Treebank",
        ("task=ptb", "trainer.eval_interval=null", "data.final_test_batch_size=20"),
        "decoder",
        {"embedding.weight": "embedding", "lstm.weight_hh_l0": "LSTM W_hh layer 1", "decoder.weight": "decoder"},
        ("valid_ppl", "test_ppl"),
        "valid perplexity {valid_ppl:.1f} at batch {step}",
        # The update RMS of the G_0 = 0 run falls through the lower left and settles near the bottom.
        (
            (1, 1, "upper right"),
            (1, 0, "lower right"),
            (1, 0, "lower right"),
            (1, 0.13, "lower right"),
            (1, 0.5, "center right"),
        ),
    ),
    "ner": Setup(
        "MSRA (Chinese NER)",
        ("task=ner", "data.source=columns", "data.max_train_sentences=14700", "task.loss_reduction=sum_over_time"),
        "classifier",
        {
            "embedding.weight": "embedding",
            "forward_layers.0.weight_hh_l0": "forward LSTM W_hh layer 1",
            "classifier.weight": "classifier",
        },
        ("epoch", "valid_token_f1", "test_token_f1"),
        "valid token F1 {valid_token_f1:.4f} (test {test_token_f1:.4f}) at batch {step}",
        # Below the curves, right of the G_0 = 0.1 run's first dip in update RMS.
        (
            (1, 1, "upper right"),
            (1, 0, "lower right"),
            (1, 0, "lower right"),
            (1, 0, "lower right"),
            (1, 0, "lower right"),
        ),
    ),
}


class Recorder:
    """A step callback (``Trainer.step_callbacks``) and a forward hook on the model's output layer
    (``attach``) that summarise each window of ``every`` batches; reads tensors only, so the run is the one
    the trainer would make alone."""

    def __init__(self, every: int, clip: float) -> None:
        self.every, self.clip = every, clip
        self.records: list[dict[str, Any]] = []
        self._reset()

    def _reset(self) -> None:
        self.nll, self.tokens = 0.0, 0
        self.norms: list[float] = []
        self.max_logit = 0.0

    def observe_logits(self, module: torch.nn.Module, inputs: Any, logits: Tensor) -> None:
        if module.training:
            self.max_logit = max(self.max_logit, float(logits.detach().abs().max()))

    def __call__(
        self, step: int, loss: Tensor, nll: Tensor, tokens: int, grad_norm: Tensor, task: Any, optimizer: Any
    ) -> None:
        self.nll += float(nll)
        self.tokens += tokens
        self.norms.append(float(grad_norm))
        if step % self.every:
            return
        names = {id(p): n for n, p in task.model.named_parameters()}
        update_rms, sums = {}, []
        for group in optimizer.param_groups:
            for p in group["params"]:
                state = optimizer.state[p]
                update_rms[names[id(p)]] = float(state["velocity"].pow(2).mean().sqrt())
                sums.append(state["sum"].flatten())
        everything = torch.cat(sums).double()
        self.records.append(
            {
                "step": step,
                "loss": self.nll / self.tokens,
                "clipped": sum(n > self.clip for n in self.norms),
                "batches": len(self.norms),
                "max_grad_norm": max(self.norms),
                "max_abs_logit": self.max_logit,
                "update_rms": update_rms,
                "G_quantiles": dict(
                    zip(
                        (str(q) for q in QUANTILES),
                        (float(v) for v in torch.quantile(everything, torch.tensor(QUANTILES, dtype=torch.float64))),
                    )
                ),
                "G_max": float(everything.max()),
            }
        )
        self._reset()


def attach(trainer: Trainer, setup: Setup, every: int, clip: float) -> Recorder:
    """A recorder observing ``trainer``'s run from its next step on."""
    recorder = Recorder(every, clip)
    trainer.step_callbacks.append(recorder)
    getattr(trainer.task.model, setup.output_layer).register_forward_hook(recorder.observe_logits)
    return recorder


def diagnose(
    task: str, name: str, overrides: list[str], data_dir: str, batches: int, every: int, out: Path
) -> dict[str, Any]:
    setup = TASKS[task]
    with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base=None):
        cfg = compose(
            "config",
            overrides=[
                *setup.overrides,
                "optimizer=adamomentum",
                "seed=0",
                "threads=1",
                "progress=false",
                "checkpoint_interval=null",
                f"data.data_dir={data_dir}",
                f"trainer.max_batches={batches}",
                *overrides,
            ],
        )
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as run_dir:
        trainer = set_up_trainer(cfg, Path(run_dir), git_commit())
        recorder = attach(trainer, setup, every, cfg.trainer.clip_grad_norm)
        result = trainer.fit()
    evaluations = [{k: v for k, v in r.items() if k in ("step", *setup.evaluation)} for r in result.history]
    lines = [json.dumps(r) for r in recorder.records] + [json.dumps({"evaluation": e}) for e in evaluations]
    (out / f"{name}.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return {
        "setting": name,
        "task": task,
        "wall_time_s": round(time.perf_counter() - started, 1),
        "status": result.status,
        "commit": git_commit(),
        "device": str(trainer.device),
        "evaluation": evaluations[-1],
    }


def read(out: Path) -> dict[str, tuple[list[dict[str, Any]], dict[str, Any]]]:
    """Per setting, its records and its last evaluation."""
    logs = {}
    for name in SETTINGS:
        lines = [json.loads(line) for line in (out / f"{name}.jsonl").read_text(encoding="utf-8").splitlines()]
        logs[name] = ([r for r in lines if "step" in r], [r["evaluation"] for r in lines if "evaluation" in r][-1])
    return logs


def fmt(value: float) -> str:
    return f"{value:.3g}" if value != 0 else "0"


def table(logs: dict[str, tuple[list[dict[str, Any]], dict[str, Any]]], setup: Setup) -> str:
    rows = [
        "| setting | batch | loss (nats/token) | clipped / batches | largest pre-clip norm | largest abs(logit) "
        f"| update RMS: {' / '.join(setup.shown.values())} | G: 1% / median / 99% / max |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, (records, _) in logs.items():
        for r in (r for r in records if r["step"] in TABLE_STEPS):
            rms = " / ".join(fmt(r["update_rms"][t]) for t in setup.shown)
            g = " / ".join(fmt(r["G_quantiles"][str(q)]) for q in QUANTILES) + f" / {fmt(r['G_max'])}"
            rows.append(
                f"| {SETTINGS[name][0]} | {r['step']} | {r['loss']:.2f} | {r['clipped']} / {r['batches']} | "
                f"{r['max_grad_norm']:.3g} | {r['max_abs_logit']:.3g} | {rms} | {g} |"
            )
    after = ", ".join(f"{SETTINGS[n][0]}: {setup.after.format(**e)}" for n, (_, e) in logs.items())
    return "\n".join(
        [
            f"# AdaMomentum's first batches on {setup.corpus}",
            "",
            "Each row summarises the 10 batches up to the one named (update RMS and G: at that batch).",
            "",
            *rows,
            "",
            f"After the last batch: {after}.",
            "",
        ]
    )


def figure(logs: dict[str, tuple[list[dict[str, Any]], dict[str, Any]]], setup: Setup) -> plt.Figure:
    fig, axes = plt.subplots(5, 1, figsize=(8.5, 13), sharex=True, layout="constrained")
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    styles = dict(zip(setup.shown, (":", "-", "--")))
    for colour, (name, (records, _)) in zip(colours, logs.items()):
        label = SETTINGS[name][0]
        steps = [r["step"] for r in records]
        axes[0].plot(steps, [r["loss"] for r in records], color=colour, label=label)
        axes[1].plot(steps, [r["clipped"] / r["batches"] for r in records], color=colour, label=label)
        axes[2].plot(steps, [r["max_abs_logit"] for r in records], color=colour, label=label)
        for tensor, style in styles.items():
            axes[3].plot(
                steps,
                [r["update_rms"][tensor] for r in records],
                color=colour,
                linestyle=style,
                label=f"{label}: {tensor}",
            )
        axes[4].plot(steps, [r["G_quantiles"]["0.5"] for r in records], color=colour, label=f"{label}: median")
        axes[4].plot(
            steps,
            [r["G_quantiles"]["0.99"] for r in records],
            color=colour,
            linestyle="--",
            label=f"{label}: 99th percentile",
        )
    titles = [
        "training loss (mean NLL per token, over 10 batches)",
        "share of batches clipped (pre-clip norm > 5)",
        "largest |logit| in a training batch",
        "RMS of the update v per parameter tensor",
        "accumulator G over all elements",
    ]
    for ax, title, (x, y, place) in zip(axes, titles, setup.legends):
        ax.set_title(title, fontsize="medium")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize="x-small", ncols=2, loc=place, bbox_to_anchor=(x, y))
    for ax in axes[2:]:
        ax.set_yscale("log")
    axes[-1].set_xlabel("training batch")
    batches = max(r["step"] for records, _ in logs.values() for r in records)
    fig.suptitle(f"AdaMomentum, lr 0.02, mu 0.9, on {setup.corpus}: the first {batches:,} batches, seed 0")
    return fig


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--task", choices=sorted(TASKS), default="ptb")
    parser.add_argument("--data-dir", help="the task's corpus: ptb.{train,valid,test}.txt, or MSRA's column files")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--batches", type=int, default=2000)
    parser.add_argument("--every", type=int, default=10)
    parser.add_argument("--rebuild", action="store_true", help="only redraw diagnosis.md and the figure")
    args = parser.parse_args()
    setup = TASKS[args.task]
    records = args.out / "runs.json"
    if args.rebuild:
        if not records.is_file():
            parser.error(
                f"{records} does not exist: --rebuild redraws a folder this script trained into; "
                f"train it first (drop --rebuild, pass --data-dir)"
            )
        made_for = {run.get("task", "ptb") for run in json.loads(records.read_text(encoding="utf-8"))}
        if made_for != {args.task}:
            parser.error(
                f"{args.out} holds the records of --task {' and '.join(sorted(made_for))} (its runs.json); "
                f"rebuild it with that --task"
            )
    else:
        if not args.data_dir:
            parser.error("--data-dir is needed to train (or pass --rebuild)")
        args.out.mkdir(parents=True, exist_ok=True)
        runs = [
            diagnose(args.task, name, overrides, args.data_dir, args.batches, args.every, args.out)
            for name, (_, overrides) in SETTINGS.items()
        ]
        records.write_text(json.dumps(runs, indent=2) + "\n", encoding="utf-8")
    logs = read(args.out)
    (args.out / "diagnosis.md").write_text(table(logs, setup), encoding="utf-8")
    png = args.out / f"blowup_{args.task}.png"
    figure(logs, setup).savefig(png, dpi=110)
    print(f"wrote {args.out / 'diagnosis.md'} and {png}")


if __name__ == "__main__":
    main()
