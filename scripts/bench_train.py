"""The training benchmarks of the speed targets, each a comparison inside one run (``make bench``).

    make bench                                          # every part: about 20 minutes on a 2-core CPU
    python scripts/bench_train.py --parts loop,bf16 --repeats 5

Every measurement is a fresh process. Candidates that are compared alternate
(A B A B ...), or run side by side with one thread each where a measurement is
too long to repeat, so that machine drift hits both alike; each part prints
min / median / max over its repeats and the ratio of the medians.

Parts:
  loop        the trainer (``make reproduce-ptb``'s code path and defaults, with SGD) against a plain
              loop written the way pytorch/examples' word_language_model is, in the default
              environment and in the trainer's (threads, flush-to-zero, keep_freed_memory); and the
              trainer with ``keep_freed_memory=false``. ms per batch, minor page faults per batch,
              peak resident memory.
  eval        one evaluation (whole valid and test splits, batch 20) against the 500 training
              batches between two evaluations.
  memory      peak resident memory of a real PTB run (``python -m adamomentum.train``, evaluations on).
  bf16        the trainer with ``precision=bf16`` against float32: ms per batch, side by side in one table
              (not measured, with the reason, on a CPU without bf16 instructions, where training refuses
              bf16). Overrides after the options reach both: ``--parts bf16 threads=1``.
  bf16-epoch  one full PTB epoch at float32 and at bf16, side by side: valid perplexity after it.
  subnormal   AdaMomentum in the trainer with ``flush_denormal`` on and off, side by side: ms per batch
              in each window of 100 batches, and valid perplexity at the end.
  ner         the NER task (MSRA column files capped at 14,700 sentences, as ``make reproduce-ner-msra``):
              sentences per second and the share of padding in the batches.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
PARTS = ("loop", "eval", "memory", "bf16", "bf16-epoch", "subnormal", "ner")
# The trainer's settings for the PTB comparisons: make reproduce-ptb's, without evaluation.
PTB = ["task=ptb", "optimizer=sgd", "device=cpu"]


# -- workers: one measurement each, run in a fresh process, one JSON line on stdout ------------------
def trainer_worker(overrides: list[str], batches: int, evaluate: bool) -> dict[str, Any]:
    """The repository's trainer, built as ``python -m adamomentum.train`` builds it; batches=0: no limit."""
    import torch
    from hydra import compose, initialize_config_dir
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from adamomentum.config import CONFIG_DIR
    from adamomentum.run import set_up_trainer

    limit = [f"trainer.max_batches={batches}"] if batches else []
    with initialize_config_dir(str(CONFIG_DIR), version_base=None):
        cfg = compose(
            "config",
            overrides=[
                *overrides,
                *limit,
                "trainer.eval_interval=null",
                "checkpoint_interval=null",
                "progress=false",
            ],
        )
    with tempfile.TemporaryDirectory() as run_dir:
        trainer = set_up_trainer(cfg, Path(run_dir))
        if not evaluate:
            trainer.task.evaluate = dict
        trainer.task.final_evaluation = dict
        result = trainer.fit()
        acc = EventAccumulator(run_dir, size_guidance={"scalars": 0})
        acc.Reload()
        tag = "throughput/tokens_per_s"  # logged every log_interval batches
        window_tokens_per_s = [e.value for e in acc.Scalars(tag)] if tag in acc.Tags()["scalars"] else []
    task = trainer.task
    out = {
        "ms_per_batch": 1e3 * result.train_time_s / result.steps,
        "minor_faults_per_batch": result.minor_faults_per_batch,
        "peak_rss_mb": result.peak_rss_mb,
        "threads": torch.get_num_threads(),
        "log_interval": cfg.trainer.log_interval,
        "steps": result.steps,
    }
    if cfg.task.name == "ptb":
        tokens_per_batch = cfg.data.batch_size * cfg.data.bptt
        out["window_ms_per_batch"] = [1e3 * tokens_per_batch / t for t in window_tokens_per_s]
    if evaluate and result.history:
        out["valid_ppl"] = result.history[-1].get("valid_ppl")
        out["eval_s"] = result.eval_time_s
        if cfg.task.name == "ptb":
            eval_tokens = sum(split.numel() - split.shape[1] for split in (task.valid_data, task.test_data))
            out["eval_tokens_per_s"] = eval_tokens / result.eval_time_s
    if cfg.task.name == "ner":
        stats = task.padding_stats
        out["sentences_per_s"] = result.steps * cfg.data.batch_size / result.train_time_s
        out["padding_percent"] = 100 * (1 - stats["real_tokens"] / stats["padded_tokens"])
    return out


def plain_worker(data_dir: str, batches: int, environment: str) -> dict[str, Any]:
    """A training loop written the way pytorch/examples' word_language_model is, run as it runs.

    Same model (2x256 LSTM, embedding 256, 10k vocabulary), batch 20, bptt 20 and
    SGD step as the trainer's SGD: mean NLL with lr 20 and clipping at 0.25 is the
    same step as the trainer's time-summed loss with lr 1 and clipping at 5.
    environment "default": torch's default threads, no flush-to-zero, glibc's malloc as it is;
    "trainer": the process settings ``python -m adamomentum.train`` applies by default.
    """
    import torch
    import torch.nn.functional as F
    from torch import nn

    from adamomentum.resources import resource_usage

    if environment == "trainer":
        from hydra import compose, initialize_config_dir

        from adamomentum.config import CONFIG_DIR
        from adamomentum.process import configure_process

        with initialize_config_dir(str(CONFIG_DIR), version_base=None):
            configure_process(compose("config", overrides=PTB), torch.device("cpu"))

    ids: list[int] = []
    vocab: dict[str, int] = {}
    for line in Path(data_dir, "ptb.train.txt").read_text(encoding="utf-8").splitlines():
        for word in line.split() + ["<eos>"]:
            ids.append(vocab.setdefault(word, len(vocab)))
    bsz, bptt, lr, clip = 20, 20, 20.0, 0.25
    data = torch.tensor(ids)
    data = data[: len(data) // bsz * bsz].view(bsz, -1).t().contiguous()

    class RNNModel(nn.Module):
        def __init__(self, ntoken: int, ninp: int = 256, nhid: int = 256, nlayers: int = 2) -> None:
            super().__init__()
            self.encoder = nn.Embedding(ntoken, ninp)
            self.rnn = nn.LSTM(ninp, nhid, nlayers)
            self.decoder = nn.Linear(nhid, ntoken)
            for p in self.parameters():
                nn.init.uniform_(p, -0.1, 0.1)

        def forward(self, x: torch.Tensor, hidden: tuple[torch.Tensor, torch.Tensor]):
            output, hidden = self.rnn(self.encoder(x), hidden)
            return F.log_softmax(self.decoder(output).view(-1, self.decoder.out_features), dim=1), hidden

    torch.manual_seed(0)
    model = RNNModel(len(vocab))
    criterion = nn.NLLLoss()
    hidden = (torch.zeros(2, bsz, 256), torch.zeros(2, bsz, 256))
    model.train()
    total_loss = 0.0
    faults_before = resource_usage()[0]
    began = time.perf_counter()
    for batch in range(batches):
        i = batch * bptt
        inputs, targets = data[i : i + bptt], data[i + 1 : i + 1 + bptt].reshape(-1)
        model.zero_grad()
        hidden = tuple(h.detach() for h in hidden)
        output, hidden = model(inputs, hidden)
        loss = criterion(output, targets)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
        for p in model.parameters():
            p.data.add_(p.grad, alpha=-lr)
        total_loss += loss.item()
    elapsed = time.perf_counter() - began
    faults, peak_rss_mb = resource_usage()
    return {
        "ms_per_batch": 1e3 * elapsed / batches,
        "minor_faults_per_batch": (faults - faults_before) / batches,
        "peak_rss_mb": peak_rss_mb,
        "threads": torch.get_num_threads(),
    }


# -- the driver ------------------------------------------------------------------------------------
def spawn(args: list[str]) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, __file__, *args], stdout=subprocess.PIPE, text=True, cwd=ROOT)


def collect(proc: subprocess.Popen, what: str) -> dict[str, Any]:
    out, _ = proc.communicate()
    if proc.returncode != 0:
        sys.exit(f"error: the benchmark worker for {what} failed (exit {proc.returncode}); its log is above.")
    return json.loads(out.strip().splitlines()[-1])


def measure(args: list[str], what: str) -> dict[str, Any]:
    return collect(spawn(args), what)


def alternate(candidates: dict[str, list[str]], repeats: int) -> dict[str, list[dict[str, Any]]]:
    """Each candidate once per round, in turn, ``repeats`` rounds."""
    results: dict[str, list[dict[str, Any]]] = {name: [] for name in candidates}
    for r in range(repeats):
        for name, args in candidates.items():
            results[name].append(measure(args, name))
            print(f"  round {r + 1}/{repeats} {name}: {results[name][-1]['ms_per_batch']:.1f} ms/batch", flush=True)
    return results


def spread(values: list[float]) -> str:
    return f"{min(values):9.1f} {statistics.median(values):9.1f} {max(values):9.1f}"


def table(results: dict[str, list[dict[str, Any]]], keys: list[str]) -> None:
    print(f"  {'candidate':34s} {'quantity':22s} {'min':>9s} {'median':>9s} {'max':>9s}")
    for name, runs in results.items():
        for key in keys:
            values = [r[key] for r in runs if r.get(key) is not None]
            if values:
                print(f"  {name:34s} {key:22s} {spread(values)}")


def median(results: dict[str, list[dict[str, Any]]], name: str, key: str) -> float:
    return statistics.median(r[key] for r in results[name])


def part_loop(a: argparse.Namespace) -> None:
    batches = str(a.batches)
    plain = ["--worker", "plain", "--batches", batches, "--data-dir", a.data_dir]
    results = alternate(
        {
            "plain loop (pytorch/examples)": plain,
            "plain loop, trainer's environment": [*plain, "--environment", "trainer"],
            "trainer": ["--worker", "trainer", "--batches", batches, "--", *PTB, f"data.data_dir={a.data_dir}"],
            "trainer, keep_freed_memory=false": [
                "--worker",
                "trainer",
                "--batches",
                batches,
                "--",
                *PTB,
                f"data.data_dir={a.data_dir}",
                "keep_freed_memory=false",
            ],
        },
        a.repeats,
    )
    table(results, ["ms_per_batch", "minor_faults_per_batch", "peak_rss_mb"])
    plain = median(results, "plain loop (pytorch/examples)", "ms_per_batch")
    bare = median(results, "plain loop, trainer's environment", "ms_per_batch")
    trainer = median(results, "trainer", "ms_per_batch")
    no_keep = median(results, "trainer, keep_freed_memory=false", "ms_per_batch")
    faults = median(results, "trainer", "minor_faults_per_batch")
    print(f"  trainer / plain loop, median ms per batch: {trainer / plain:.3f} (target <= 0.80)")
    print(
        f"  trainer / plain loop in the trainer's environment: {trainer / bare:.3f} (the trainer's own overhead; "
        "target <= 1.05)"
    )
    print(f"  trainer with / without keep_freed_memory: {trainer / no_keep:.3f}")
    print(f"  trainer minor page faults per batch: {faults:.0f} (target <= 1000)")


def part_eval(a: argparse.Namespace) -> None:
    args = ["--worker", "trainer", "--batches", str(a.batches), "--evaluate", "--", *PTB, f"data.data_dir={a.data_dir}"]
    results = alternate({"trainer, evaluation at the end": args}, a.repeats)
    for r in results["trainer, evaluation at the end"]:
        r["eval_share_percent"] = 100 * r["eval_s"] / (500 * r["ms_per_batch"] / 1e3)
    table(results, ["ms_per_batch", "eval_s", "eval_tokens_per_s", "eval_share_percent"])
    share = median(results, "trainer, evaluation at the end", "eval_share_percent")
    print(f"  one evaluation / 500 training batches: {share:.0f}% (target < 30%)")


def part_memory(a: argparse.Namespace) -> None:
    from adamomentum.summary import RunSummary

    with tempfile.TemporaryDirectory() as run_dir:
        command = [
            sys.executable,
            "-m",
            "adamomentum.train",
            *PTB,
            f"data.data_dir={a.data_dir}",
            f"trainer.max_batches={a.batches * 2}",
            f"trainer.eval_interval={a.batches}",
            "progress=false",
            f"hydra.run.dir={run_dir}",
        ]
        subprocess.run(command, check=True, cwd=ROOT, stdout=subprocess.DEVNULL)
        summary = RunSummary.read(Path(run_dir))
    print(f"  {' '.join(command[1:-1])}")
    print(
        f"  peak resident memory: {summary.peak_rss_mb:.0f} MiB (target < 2048), with "
        f"{summary.minor_faults_per_batch:.0f} minor page faults per batch, evaluations included"
    )


def bf16_refused() -> bool:
    """Say why bf16 is not measured on a CPU without bf16 instructions (where training refuses it)."""
    import torch

    from adamomentum.process import bf16_refusal

    refusal = bf16_refusal(torch.device("cpu"))
    if refusal:
        print(f"  bf16 not measured: {refusal}")
    return refusal is not None


def part_bf16(a: argparse.Namespace) -> None:
    if bf16_refused():
        return
    base = ["--worker", "trainer", "--batches", str(a.batches), "--", *PTB, f"data.data_dir={a.data_dir}", *a.overrides]
    results = alternate({"float32": base, "bf16": [*base, "precision=bf16"]}, a.repeats)
    table(results, ["ms_per_batch"])
    ratio = median(results, "bf16", "ms_per_batch") / median(results, "float32", "ms_per_batch")
    print(f"  bf16 / float32, median ms per batch: {ratio:.3f}")


def side_by_side(candidates: dict[str, list[str]]) -> dict[str, dict[str, Any]]:
    procs = {name: spawn(args) for name, args in candidates.items()}
    return {name: collect(proc, name) for name, proc in procs.items()}


def part_bf16_epoch(a: argparse.Namespace) -> None:
    if bf16_refused():
        return
    base = [
        "--worker",
        "trainer",
        "--batches",
        "0",
        "--evaluate",
        "--",
        *PTB,
        f"data.data_dir={a.data_dir}",
        "trainer.epochs=1",
        "threads=1",
    ]
    results = side_by_side({"float32": base, "bf16": [*base, "precision=bf16"]})
    for name, r in results.items():
        print(
            f"  {name:8s} valid perplexity after one epoch: {r['valid_ppl']:.2f} ({r['ms_per_batch']:.1f} ms/batch, "
            f"1 thread, side by side)"
        )
    change = results["bf16"]["valid_ppl"] / results["float32"]["valid_ppl"] - 1
    verdict = "under" if abs(change) < 0.01 else "not under"
    print(
        f"  bf16 changes it by {100 * change:+.2f}% ({verdict} 1%; a full run's rule: results/README.md, "
        "the campaign, section 1)"
    )


def part_subnormal(a: argparse.Namespace) -> None:
    base = [
        "--worker",
        "trainer",
        "--batches",
        str(a.subnormal_batches),
        "--evaluate",
        "--",
        "task=ptb",
        "optimizer=adamomentum",
        "device=cpu",
        f"data.data_dir={a.data_dir}",
        "threads=1",
    ]
    results = side_by_side({"flush_denormal=true": base, "flush_denormal=false": [*base, "flush_denormal=false"]})
    on, off = results["flush_denormal=true"], results["flush_denormal=false"]
    window = on["log_interval"]
    print(f"  ms per batch in each window of {window} batches (AdaMomentum, 1 thread each, side by side):")
    print(f"  {'batches':>13s} {'flush on':>9s} {'flush off':>9s} {'off / on':>9s}")
    for i, (ms_on, ms_off) in enumerate(zip(on["window_ms_per_batch"], off["window_ms_per_batch"])):
        print(f"  {i * window + 1:6d}-{(i + 1) * window:6d} {ms_on:9.1f} {ms_off:9.1f} {ms_off / ms_on:9.2f}")
    print(
        f"  whole run: {on['ms_per_batch']:.1f} (on) vs {off['ms_per_batch']:.1f} (off) ms per batch, "
        f"ratio {off['ms_per_batch'] / on['ms_per_batch']:.2f}"
    )
    print(f"  valid perplexity after {on['steps']} batches: {on['valid_ppl']:.3f} (on) vs {off['valid_ppl']:.3f} (off)")


def part_ner(a: argparse.Namespace) -> None:
    if not Path(a.msra_dir, "msra_train.txt").exists() and not Path(a.msra_dir, "train.txt").exists():
        print(f"  skipped: no MSRA corpus in {a.msra_dir} (pass --msra-dir; see data/README.md)")
        return
    args = [
        "--worker",
        "trainer",
        "--batches",
        str(a.ner_batches),
        "--",
        "task=ner",
        "optimizer=adamomentum",
        "device=cpu",
        "data.source=columns",
        f"data.data_dir={a.msra_dir}",
        "data.max_train_sentences=14700",
    ]
    results = alternate({"NER trainer": args}, a.repeats)
    table(results, ["ms_per_batch", "sentences_per_s", "padding_percent"])
    print(
        f"  padding: {median(results, 'NER trainer', 'padding_percent'):.1f}% of the tokens in the batches "
        "(target < 10%)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--parts", default=",".join(PARTS), help=f"comma-separated, of: {', '.join(PARTS)}")
    parser.add_argument("--data-dir", default="data/ptb", help="the Penn Treebank files")
    parser.add_argument("--msra-dir", default=os.environ.get("MSRA_DIR", "data/msra"))
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batches", type=int, default=200, help="PTB batches per measurement")
    parser.add_argument("--subnormal-batches", type=int, default=1500)
    parser.add_argument("--ner-batches", type=int, default=60)
    parser.add_argument("--worker", choices=("trainer", "plain"), help=argparse.SUPPRESS)
    parser.add_argument("--evaluate", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--environment", choices=("default", "trainer"), default="default", help=argparse.SUPPRESS)
    parser.add_argument("overrides", nargs="*", help=argparse.SUPPRESS)
    a = parser.parse_args()
    if a.worker == "plain":
        print(json.dumps(plain_worker(a.data_dir, a.batches, a.environment)))
        return
    if a.worker == "trainer":
        print(json.dumps(trainer_worker(a.overrides, a.batches, a.evaluate)))
        return
    import torch

    parts: dict[str, Callable[[argparse.Namespace], None]] = {
        "loop": part_loop,
        "eval": part_eval,
        "memory": part_memory,
        "bf16": part_bf16,
        "bf16-epoch": part_bf16_epoch,
        "subnormal": part_subnormal,
        "ner": part_ner,
    }
    chosen = [p.strip() for p in a.parts.split(",") if p.strip()]
    unknown = sorted(set(chosen) - set(parts))
    if unknown:
        sys.exit(f"error: --parts {','.join(unknown)}: no such part; choose from {', '.join(PARTS)}.")
    print(
        f"torch {torch.__version__}, {os.cpu_count()} CPUs, {torch.get_num_threads()} threads by default, "
        f"CUDA: {torch.cuda.get_device_name(0) if torch.cuda.is_available() else 'none'}"
    )
    for name in chosen:
        began = time.perf_counter()
        print(f"\n== {name}", flush=True)
        parts[name](a)
        print(f"  ({time.perf_counter() - began:.0f} s)", flush=True)


if __name__ == "__main__":
    main()
