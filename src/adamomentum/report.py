"""Tables and figures from run directories: ``python -m adamomentum.report --out DIR RUNS...``.

Reads every ``summary.json`` (and the ``metrics.jsonl`` beside it) under the
given folders, writes ``results.md`` with the paper's numbers beside ours, the
paper's figure redrawn as PNG, and a copy of each run's summary and metrics
under ``runs/`` so that the report can be rebuilt from ``results/`` alone.
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import statistics
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import matplotlib
import scipy.stats
from omegaconf import OmegaConf

from adamomentum.config import flatten

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

# Table 1 and Section 4 of the paper.
PAPER_PTB_TEST_PPL = {"sgd": 115.0, "momentum": 108.0, "adagrad": 140.0, "adamomentum": 106.0}
PAPER_NER_TOKEN_F1 = {"adamomentum": 0.75}
OPTIMIZER_ORDER = ["sgd", "momentum", "adagrad", "adamomentum"]


@dataclass
class Run:
    path: Path
    summary: dict[str, Any]
    metrics: list[dict[str, Any]]
    # Where the run was found: its copy in runs/ keeps the path below this root.
    root: Path

    @property
    def optimizer(self) -> str:
        return self.summary["optimizer"]

    @property
    def task(self) -> str:
        return self.summary["task"]


# metrics.jsonl key that picks the best evaluation, and whether lower is better (as the tasks do).
SELECTION = {"ptb": ("valid_ppl", True), "ner": ("valid_token_f1", False)}


def _read_metrics(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def _unfinished_summary(run_dir: Path, metrics: list[dict[str, Any]]) -> dict[str, Any]:
    """What a run still training (or stopped without a summary) has shown so far."""
    cfg = OmegaConf.load(run_dir / ".hydra" / "config.yaml")
    task = cfg.task.name
    key, lower = SELECTION[task]
    best = (min if lower else max)(metrics, key=lambda m: m[key])
    last = metrics[-1]
    return {
        "task": task,
        "optimizer": cfg.optimizer.name,
        "seed": cfg.seed,
        "status": f"unfinished (step {last['step']}, epoch {last['epoch']})",
        "final": last,
        "best_valid": best,
        "command": "python -m adamomentum.train " + " ".join(OmegaConf.load(run_dir / ".hydra" / "overrides.yaml")),
        "config": OmegaConf.to_container(cfg),
    }


def find_runs(roots: list[Path]) -> list[Run]:
    """Runs under ``roots``: finished ones by their summary.json, unfinished ones by their metrics so far."""
    runs = []
    for root in roots:
        if not root.exists():
            raise SystemExit(f"error: {root} does not exist; pass run directories or folders that hold them.")
        for metrics_path in sorted({*root.rglob("summary.json"), *root.rglob("metrics.jsonl")}):
            run_dir = metrics_path.parent
            if metrics_path.name == "metrics.jsonl" and (run_dir / "summary.json").exists():
                continue
            metrics = _read_metrics(run_dir / "metrics.jsonl")
            if (run_dir / "summary.json").exists():
                summary = json.loads((run_dir / "summary.json").read_text(encoding="utf-8"))
            elif metrics and (run_dir / ".hydra" / "config.yaml").exists():
                summary = _unfinished_summary(run_dir, metrics)
            else:
                continue
            runs.append(Run(run_dir, summary, metrics, root))
    return runs


def _order(runs: list[Run]) -> list[Run]:
    rank = {name: i for i, name in enumerate(OPTIMIZER_ORDER)}
    return sorted(runs, key=lambda r: (rank.get(r.optimizer, len(rank)), r.optimizer, r.summary.get("seed", 0)))


def _optimizers(runs: list[Run]) -> list[str]:
    """The optimizers of ``runs``, the paper's four in its order first, any others after them by name."""
    present = {r.optimizer for r in runs}
    return [o for o in OPTIMIZER_ORDER if o in present] + sorted(present - set(OPTIMIZER_ORDER))


def _fmt(value: Any, digits: int = 1) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if isinstance(value, float) and math.isinf(value):
        return "inf"
    return f"{value:.{digits}f}"


# NER sources that hold OntoNotes, the paper's corpus; column files may hold any corpus (MSRA, say).
ONTONOTES_SOURCES = ("hub", "conll2012")


def comparable_with_paper(run: Run) -> bool:
    """Whether a run trained on the paper's data at its scale: not a small study run, a share of the data,
    a batch limit, or (NER) a corpus other than OntoNotes."""
    config = _flat_config(run)
    return (
        config.get("study.scale", "full") == "full"
        and config.get("task.train_fraction", 1.0) == 1.0
        and config.get("task.max_batches") is None
        and (run.task != "ner" or config.get("task.source", "hub") in ONTONOTES_SOURCES)
    )


def _paper(run: Run, numbers: dict[str, float]) -> float | None:
    return numbers.get(run.optimizer) if comparable_with_paper(run) else None


def _gap(ours: float | None, paper: float | None) -> str:
    if ours is None or paper is None or not math.isfinite(ours):
        return "-"
    return f"{100 * (ours - paper) / paper:+.1f}%"


def ptb_table(runs: list[Run]) -> str:
    lines = [
        "| optimizer | seed | status | test ppl (final, batch 20) | test ppl (final, one stream) "
        "| best valid ppl | test ppl at best valid | paper test ppl | final vs paper | steps | setting |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    label = _setting_labels(runs)
    for run in _order(runs):
        s = run.summary
        final, best = s.get("final", {}), s.get("best_valid", {})
        paper = _paper(run, PAPER_PTB_TEST_PPL)
        lines.append(
            f"| {run.optimizer} | {s.get('seed')} | {s['status']} | {_fmt(final.get('test_ppl'))} "
            f"| {_fmt(s.get('test_ppl_stream') if s.get('test_ppl_stream_batch_size') == 1 else None)} "
            f"| {_fmt(best.get('valid_ppl'))} | {_fmt(best.get('test_ppl'))} "
            f"| {_fmt(paper, 0)} | {_gap(final.get('test_ppl'), paper) if s['status'] == 'completed' else '-'} "
            f"| {final.get('step', '-')} | {label[id(run)]} |"
        )
    return "\n".join(lines)


def ner_table(runs: list[Run]) -> str:
    lines = [
        "| optimizer | seed | status | test token F1 (final) | best test token F1 | test token F1 at best valid "
        "| test entity F1 (final) | paper | steps | setting |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    label = _setting_labels(runs)
    for run in _order(runs):
        s = run.summary
        final, best = s.get("final", {}), s.get("best_valid", {})
        best_test = max((m["test_token_f1"] for m in run.metrics), default=None)
        paper = _paper(run, PAPER_NER_TOKEN_F1)
        lines.append(
            f"| {run.optimizer} | {s.get('seed')} | {s['status']} | {_fmt(final.get('test_token_f1'), 4)} "
            f"| {_fmt(best_test, 4)} | {_fmt(best.get('test_token_f1'), 4)} | {_fmt(final.get('test_entity_f1'), 4)} "
            f"| {'%.2f+' % paper if paper else '-'} | {final.get('step', '-')} | {label[id(run)]} |"
        )
    return "\n".join(lines)


# Keys that say where or how a run ran, not what it computed: never part of a "setting".
ENVIRONMENT_KEYS = {"seed", "device", "threads", "keep_freed_memory", "progress", "resume", "log_interval",
                    "checkpoint_interval", "task.data_dir", "task.download", "deterministic"}
# Per task: the metric the seed statistics compare, its label, and whether lower is better.
HEADLINE = {"ptb": ("test_ppl", "final test perplexity", True), "ner": ("test_token_f1", "final test token F1", False)}


def _flat_config(run: Run) -> dict[str, Any]:
    return flatten(run.summary.get("config", {}))


def settings(runs: list[Run]) -> dict[tuple[str, str], list[Run]]:
    """Runs grouped by optimizer and by the config values that vary between that optimizer's runs."""
    by_optimizer: dict[str, list[Run]] = {}
    for run in runs:
        by_optimizer.setdefault(run.optimizer, []).append(run)
    groups: dict[tuple[str, str], list[Run]] = {}
    for optimizer, members in by_optimizer.items():
        configs = [_flat_config(r) for r in members]
        keys = sorted({k for c in configs for k in c} - ENVIRONMENT_KEYS)
        # A key that older runs lack came with a later version, whose default keeps the old behaviour:
        # only the runs that record it can differ in it.
        varying = [k for k in keys if len({repr(c[k]) for c in configs if k in c}) > 1]
        for run, config in zip(members, configs):
            label = ", ".join(f"{k}={config.get(k)}" for k in varying) or "Table 1"
            groups.setdefault((optimizer, label), []).append(run)
    return groups


def _setting_labels(runs: list[Run]) -> dict[int, str]:
    return {id(run): setting for (_, setting), members in settings(runs).items() for run in members}


def mean_ci(values: list[float], confidence: float = 0.95) -> tuple[int, float, float, float, float]:
    """n, mean, sample standard deviation and the Student-t confidence interval of the mean."""
    n = len(values)
    if n == 0:
        return 0, math.nan, math.nan, math.nan, math.nan
    mean = statistics.fmean(values)
    if n == 1:
        return 1, mean, math.nan, math.nan, math.nan
    std = statistics.stdev(values)
    half = scipy.stats.t.ppf(0.5 + confidence / 2, n - 1) * std / math.sqrt(n)
    return n, mean, std, mean - half, mean + half


def _final(run: Run, key: str) -> float | None:
    return run.summary.get("final", {}).get(key) if run.summary["status"] == "completed" else None


def seed_statistics(runs: list[Run], task: str) -> str:
    """Mean, spread and 95% interval over seeds per setting, and AdaMomentum against each baseline."""
    key, label, lower_is_better = HEADLINE[task]
    digits = 2 if task == "ptb" else 4
    paper = PAPER_PTB_TEST_PPL if task == "ptb" else {}
    lines = [
        f"| optimizer | setting | completed | diverged or unfinished | mean {label} | std | 95% CI | paper "
        "| mean vs paper |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    groups = settings(runs)
    rank = {name: i for i, name in enumerate(OPTIMIZER_ORDER)}
    within, outside = [], []
    for (optimizer, setting), members in sorted(groups.items(), key=lambda g: (rank.get(g[0][0], 99), g[0])):
        values = [v for v in (_final(r, key) for r in members) if v is not None]
        n, mean, std, lo, hi = mean_ci(values)
        target = paper.get(optimizer) if all(comparable_with_paper(r) for r in members) else None
        lines.append(
            f"| {optimizer} | {setting} | {n} | {len(members) - n} | {_fmt(mean, digits)} | {_fmt(std, digits)} "
            f"| [{_fmt(lo, digits)}, {_fmt(hi, digits)}] | {_fmt(target, 0)} | {_gap(mean, target)} |"
        )
        if target is not None and n:
            (within if abs(mean - target) <= 0.1 * target else outside).append(f"{optimizer} ({setting})")
    lines += ["", *paired_comparisons(groups, key, label, lower_is_better, digits)]
    if within or outside:
        lines += [
            "",
            f"- Within 10% of the paper's number: {', '.join(within) or 'none of these settings'}.",
            f"- Further than 10% from it: {', '.join(outside) or 'none of these settings'}.",
        ]
    return "\n".join(lines)


def paired_comparisons(
    groups: dict[tuple[str, str], list[Run]], key: str, label: str, lower_is_better: bool, digits: int
) -> list[str]:
    """AdaMomentum minus each baseline, paired by seed, where each optimizer has one setting."""
    settings_per_optimizer = Counter(optimizer for optimizer, _ in groups)
    single = {o: members for (o, _), members in groups.items() if settings_per_optimizer[o] == 1}
    ours = single.get("adamomentum")
    if not ours:
        return []
    ours_by_seed = {r.summary.get("seed"): _final(r, key) for r in ours}
    sentences = []
    for baseline in [o for o in OPTIMIZER_ORDER if o != "adamomentum" and single.get(o)]:
        theirs = {r.summary.get("seed"): _final(r, key) for r in single[baseline]}
        diffs = [ours_by_seed[s] - theirs[s] for s in sorted(set(ours_by_seed) & set(theirs), key=str)
                 if ours_by_seed[s] is not None and theirs[s] is not None]
        n, mean, _, lo, hi = mean_ci(diffs)
        ours_better = sum((d < 0) == lower_is_better and d != 0 for d in diffs)
        if n < 2:
            verdict = "too few paired seeds to decide"
        elif lo <= 0 <= hi:
            verdict = "the interval includes 0: the ordering is not decided at this n"
        elif (hi < 0) == lower_is_better:
            verdict = "AdaMomentum is better: the paper's ordering holds at this n"
        else:
            verdict = f"{baseline} is better: the paper's ordering does not hold at this n"
        sentences.append(
            f"- AdaMomentum minus {baseline}, {label}, paired by seed: {_fmt(mean, digits)} "
            f"(95% CI [{_fmt(lo, digits)}, {_fmt(hi, digits)}], n = {n}); {verdict}. AdaMomentum is better "
            f"in {ours_better} of the {n} seeds."
        )
    return sentences


def plot_against(
    runs: list[Run], task: str, x_of: Any, is_table1: Any, xlabel: str, path: Path, log_x: bool
) -> None:
    """Mean headline metric (error bars: standard deviation over seeds) against a swept value, per optimizer.

    Points at Table 1's own value of the swept quantity (``is_table1`` of the flat config) are ringed.
    """
    key, label, _ = HEADLINE[task]
    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    for optimizer in _optimizers(runs):
        by_x: dict[float, list[float]] = {}
        table1: set[float] = set()
        for run in (r for r in runs if r.optimizer == optimizer):
            config, value = _flat_config(run), _final(run, key)
            x = x_of(config)
            if value is not None and math.isfinite(value):
                by_x.setdefault(x, []).append(value)
            if is_table1(config):
                table1.add(x)
        xs = sorted(by_x)
        if not xs:
            continue
        stats = [mean_ci(by_x[x]) for x in xs]
        line = ax.errorbar(xs, [st[1] for st in stats], yerr=[0 if math.isnan(st[2]) else st[2] for st in stats],
                           marker="o", capsize=3, label=optimizer)
        marked = [x for x in xs if x in table1]
        ax.scatter(marked, [stats[xs.index(x)][1] for x in marked], s=160, facecolors="none",
                   edgecolors=line[0].get_color())
    if log_x:
        ax.set_xscale("log")
    if task == "ptb":
        ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(label)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


LINESTYLES = ["-", "--", ":", "-.", (0, (3, 1, 1, 1, 1, 1))]


def curve_styles(runs: list[Run]) -> dict[int, dict[str, Any]]:
    """Per run: a colour per optimizer, a line style per setting of it, and a legend label naming both.

    The label names the setting only where an optimizer has more than one (the decayed and the
    constant lr of SGD, say), so that a figure of Table 1 alone keeps the plain optimizer names.
    """
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    optimizers = _optimizers(runs)
    groups = settings(runs)
    styles = {}
    for (optimizer, setting), members in groups.items():
        own = sorted(s for o, s in groups if o == optimizer)
        for run in members:
            status = run.summary["status"]
            label = optimizer if len(own) == 1 else f"{optimizer}, {setting}"
            styles[id(run)] = {
                "color": colours[optimizers.index(optimizer) % len(colours)],
                "linestyle": LINESTYLES[own.index(setting) % len(LINESTYLES)],
                "label": label + ("" if status == "completed" else f": {status}"),
            }
    return styles


def plot_ptb(runs: list[Run], path: Path) -> None:
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.8), sharey=True, layout="constrained")
    styles = curve_styles(runs)
    for split, ax in zip(("valid", "test"), axes):
        for run in _order(runs):
            points = [(m["step"], m[f"{split}_ppl"]) for m in run.metrics if math.isfinite(m[f"{split}_ppl"])]
            if points:
                ax.plot(*zip(*points), **styles[id(run)], marker="o" if len(points) == 1 else None)
        ax.set_title(f"{split} perplexity")
        ax.set_xlabel("training batches")
        ax.set_yscale("log")
        ax.grid(True, which="both", alpha=0.3)
    axes[0].set_ylabel("perplexity")
    handles, labels = legend_entries(axes[1])
    fig.legend(handles, labels, loc="outside lower center", ncols=2 if len(labels) <= 8 else 3)
    fig.suptitle(figure_title(runs, "ptb"))
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_ner(runs: list[Run], path: Path) -> None:
    fig, ax = plt.subplots(figsize=(6.5, 4))
    styles = curve_styles(runs)
    for run in _order(runs):
        points = [(m["epoch"], m["test_token_f1"]) for m in run.metrics]
        if points:
            ax.plot(*zip(*points), marker=".", **styles[id(run)])
    ax.set_xlabel("epoch")
    ax.set_ylabel("test token F1")
    ax.grid(True, alpha=0.3)
    ax.legend(*legend_entries(ax))
    ax.set_title(figure_title(runs, "ner"), fontsize="medium")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def legend_entries(ax: plt.Axes) -> tuple[list[Any], list[str]]:
    """One legend entry per label: the seeds of a setting share their label and style."""
    first: dict[str, Any] = {}
    for handle, label in zip(*ax.get_legend_handles_labels()):
        first.setdefault(label, handle)
    return list(first.values()), list(first)


def figure_title(runs: list[Run], task: str) -> str:
    """The title names the corpus and says whether the curves redraw the paper's figure: a PNG is often
    seen without results.md."""
    if task == "ptb":
        what, figure = "Penn Treebank, 2x256 LSTM", "Figure 1"
    else:
        what, figure = f"Chinese NER on {', '.join(_ner_corpora(runs))}, 2-layer BiLSTM", "Figure 2"
    if all(comparable_with_paper(r) for r in runs):
        return f"{what}\n({figure} of the paper, redrawn)"
    return f"{what}\n(not the paper's setting: not comparable with its {figure})"


def _ner_corpora(runs: list[Run]) -> list[str]:
    def corpus(run: Run) -> str:
        config = _flat_config(run)
        if config.get("task.source", "hub") in ONTONOTES_SOURCES:
            return "OntoNotes"
        return Path(str(config.get("task.data_dir"))).name or str(config.get("task.data_dir"))

    return sorted({corpus(r) for r in runs})


def provenance(runs: list[Run]) -> str:
    lines = ["| optimizer | seed | setting | command | git commit | device | wall time |",
             "|---|---|---|---|---|---|---|"]
    label = _setting_labels(runs)
    for run in _order(runs):
        s = run.summary
        minutes = s.get("wall_time_s", 0) / 60
        lines.append(
            f"| {run.optimizer} | {s.get('seed')} | {label[id(run)]} | `{s.get('command')}` "
            f"| `{s.get('git_commit', '-')}` "
            f"| {s.get('device', '-')} | {minutes:.1f} min |"
        )
    return "\n".join(lines)


def copy_runs(runs: list[Run], out: Path) -> None:
    for run in runs:
        relative = run.path.relative_to(run.root) if run.path != run.root else Path(run.path.name)
        dest = out / "runs" / relative
        if dest.resolve() == run.path.resolve():
            continue
        dest.mkdir(parents=True, exist_ok=True)
        for name in ("summary.json", "metrics.jsonl"):
            if (run.path / name).exists():
                shutil.copyfile(run.path / name, dest / name)


def write_report(runs: list[Run], out: Path, task: str | None = None) -> Path:
    if task is not None:
        runs = [r for r in runs if r.task == task]
    if not runs:
        raise SystemExit(f"error: no run directories with a summary.json{' for task ' + task if task else ''} found.")
    out.mkdir(parents=True, exist_ok=True)
    copy_runs(runs, out)
    sections = []
    if not all(comparable_with_paper(r) for r in runs):
        sections += ["Runs at `study.scale=small`, on a share of the training data, with a batch limit, or (NER) on "
                     "another corpus than OntoNotes are not comparable with the paper: its numbers are left out "
                     "beside them.", ""]
    ptb = [r for r in runs if r.task == "ptb"]
    ner = [r for r in runs if r.task == "ner"]
    if ptb:
        plot_ptb(ptb, out / "figure1_ptb.png")
        sections += ["## Penn Treebank (Table 1)", ptb_table(ptb), "", "![Figure 1](figure1_ptb.png)", ""]
    if ner:
        plot_ner(ner, out / "figure2_ner.png")
        sections += ["## Chinese NER (Figure 2)", ner_table(ner), "", "![Figure 2](figure2_ner.png)", ""]
    for name, task_runs in (("Penn Treebank", ptb), ("Chinese NER", ner)):
        if not any(len(members) > 1 for members in settings(task_runs).values()):
            continue
        task = task_runs[0].task
        sections += [f"## Over seeds: {name}", seed_statistics(task_runs, task), ""]
        configs = [_flat_config(r) for r in task_runs]
        if len({c.get("study.lr_factor", 1.0) for c in configs}) > 1:
            plot_against(task_runs, task, lambda c: c["optimizer.lr"] * c.get("study.lr_factor", 1.0),
                         lambda c: c.get("study.lr_factor", 1.0) == 1.0, "learning rate (log)",
                         out / f"lr_sensitivity_{task}.png", log_x=True)
            sections += [f"![Learning-rate sensitivity](lr_sensitivity_{task}.png)", ""]
        if len({c.get("task.train_fraction", 1.0) for c in configs}) > 1:
            plot_against(task_runs, task, lambda c: c.get("task.train_fraction", 1.0),
                         lambda c: c.get("task.train_fraction", 1.0) == 1.0, "fraction of the training set",
                         out / f"data_scale_{task}.png", log_x=True)
            sections += [f"![Data scale](data_scale_{task}.png)", ""]
    sections += ["## Provenance", provenance(runs), ""]
    report = out / "results.md"
    report.write_text("\n".join(["# Results", "", *sections]), encoding="utf-8")
    return report


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", nargs="+", type=Path, help="run directories, or folders holding them")
    parser.add_argument("--out", type=Path, required=True, help="where results.md and the figures go")
    parser.add_argument("--task", choices=["ptb", "ner"], help="only runs of this task")
    args = parser.parse_args(argv)
    report = write_report(find_runs(args.runs), args.out, args.task)
    print(f"wrote {report}", file=sys.stderr)


if __name__ == "__main__":
    main()
