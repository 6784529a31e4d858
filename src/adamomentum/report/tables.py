"""Markdown tables: one row per run, statistics over seeds, provenance."""

from __future__ import annotations

import math
from collections import Counter
from typing import Any

from adamomentum.report.measures import HEADLINE, PAPER_NER_TOKEN_F1, PAPER_PTB_TEST_PPL
from adamomentum.report.runs import OPTIMIZER_ORDER, Run, order_runs
from adamomentum.report.settings import comparable_with_paper, setting_labels, settings
from adamomentum.report.statistics import final_value, mean_ci


def fmt(value: Any, digits: int = 1) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if isinstance(value, float) and math.isinf(value):
        return "inf"
    return f"{value:.{digits}f}"


def paper_number(run: Run, numbers: dict[str, float]) -> float | None:
    """The paper's number for ``run``'s optimizer, where the run is comparable with the paper."""
    return numbers.get(run.optimizer) if comparable_with_paper(run) else None


def gap(ours: float | None, paper: float | None) -> str:
    if ours is None or paper is None or not math.isfinite(ours):
        return "-"
    return f"{100 * (ours - paper) / paper:+.1f}%"


def ptb_table(runs: list[Run]) -> str:
    lines = [
        "| optimizer | seed | status | test ppl (final, batch 20) | test ppl (final, one stream) "
        "| best valid ppl | test ppl at best valid | paper test ppl | final vs paper | steps | setting |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    label = setting_labels(runs)
    for run in order_runs(runs):
        s = run.summary
        final, best = s.get("final", {}), s.get("best_valid", {})
        paper = paper_number(run, PAPER_PTB_TEST_PPL)
        lines.append(
            f"| {run.optimizer} | {s.get('seed')} | {s['status']} | {fmt(final.get('test_ppl'))} "
            f"| {fmt(s.get('test_ppl_stream') if s.get('test_ppl_stream_batch_size') == 1 else None)} "
            f"| {fmt(best.get('valid_ppl'))} | {fmt(best.get('test_ppl'))} "
            f"| {fmt(paper, 0)} | {gap(final.get('test_ppl'), paper) if s['status'] == 'completed' else '-'} "
            f"| {final.get('step', '-')} | {label[id(run)]} |"
        )
    return "\n".join(lines)


def ner_table(runs: list[Run]) -> str:
    lines = [
        "| optimizer | seed | status | test token F1 (final) | best test token F1 | test token F1 at best valid "
        "| test entity F1 (final) | paper | steps | setting |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    label = setting_labels(runs)
    for run in order_runs(runs):
        s = run.summary
        final, best = s.get("final", {}), s.get("best_valid", {})
        best_test = max((m["test_token_f1"] for m in run.metrics), default=None)
        paper = paper_number(run, PAPER_NER_TOKEN_F1)
        lines.append(
            f"| {run.optimizer} | {s.get('seed')} | {s['status']} | {fmt(final.get('test_token_f1'), 4)} "
            f"| {fmt(best_test, 4)} | {fmt(best.get('test_token_f1'), 4)} | {fmt(final.get('test_entity_f1'), 4)} "
            f"| {'%.2f+' % paper if paper else '-'} | {final.get('step', '-')} | {label[id(run)]} |"
        )
    return "\n".join(lines)


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
        values = [v for v in (final_value(r, key) for r in members) if v is not None]
        n, mean, std, lo, hi = mean_ci(values)
        target = paper.get(optimizer) if all(comparable_with_paper(r) for r in members) else None
        lines.append(
            f"| {optimizer} | {setting} | {n} | {len(members) - n} | {fmt(mean, digits)} | {fmt(std, digits)} "
            f"| [{fmt(lo, digits)}, {fmt(hi, digits)}] | {fmt(target, 0)} | {gap(mean, target)} |"
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
    ours_by_seed = {r.summary.get("seed"): final_value(r, key) for r in ours}
    sentences = []
    for baseline in [o for o in OPTIMIZER_ORDER if o != "adamomentum" and single.get(o)]:
        theirs = {r.summary.get("seed"): final_value(r, key) for r in single[baseline]}
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
            f"- AdaMomentum minus {baseline}, {label}, paired by seed: {fmt(mean, digits)} "
            f"(95% CI [{fmt(lo, digits)}, {fmt(hi, digits)}], n = {n}); {verdict}. AdaMomentum is better "
            f"in {ours_better} of the {n} seeds."
        )
    return sentences


def provenance(runs: list[Run]) -> str:
    lines = ["| optimizer | seed | setting | command | git commit | device | wall time |",
             "|---|---|---|---|---|---|---|"]
    label = setting_labels(runs)
    for run in order_runs(runs):
        s = run.summary
        minutes = s.get("wall_time_s", 0) / 60
        lines.append(
            f"| {run.optimizer} | {s.get('seed')} | {label[id(run)]} | `{s.get('command')}` "
            f"| `{s.get('git_commit', '-')}` "
            f"| {s.get('device', '-')} | {minutes:.1f} min |"
        )
    return "\n".join(lines)
