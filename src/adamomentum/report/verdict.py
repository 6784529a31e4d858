"""The verdict: each claim of the paper, read from runs over seeds, as the paper writes its update and as
its authors ran it.

Two readings of the paper's setting:

- **as written**: Table 1's values, the accumulator of AdaGrad and AdaMomentum starting at G_0 = 0 (Eq. 1);
- **the authors' start**: the same with G_0 = 0.1, the start of the C++ code of one of the paper's authors
  (github.com/zihangdai/DeepLSTM, src/sgd/adagrad.cpp: ``m_histSquareGrad[i] = 0.1f``).

SGD and Momentum have no accumulator: the same runs serve both readings.

A verdict word rests on 95% intervals over seeds, never on a point estimate:

- a number within 10% of the paper's: *reproduced* when the interval of the geometric mean lies inside the
  paper's number +-10%, *not reproduced* when it lies outside (or a seed diverged), *undecided at this n*
  when it straddles an edge or there is one seed;
- an ordering: each adjacent pair compared seed by seed (the interval of the ratio); *reproduced* when every
  pair is decided in the paper's direction, *not reproduced* when one is decided against it;
- an improvement of x%: *reproduced* when the ratio's interval lies below 1 and holds 1 - x, *not reproduced*
  when it lies above 1 - x.

- a bound (NER's "0.75+"): *reproduced* when the interval of the mean lies above it, *not reproduced* when
  it lies below;
- "outperforming the other methods" (NER): AdaMomentum minus each baseline, paired by seed, decided in
  AdaMomentum's favour for every baseline, or against it for one;
- "converges quickly and stably" (NER), made measurable per run from the test token F1 of each epoch (the
  curve of the paper's Figure 2): *quickly*, the epochs it takes to first reach 95% of the final F1;
  *stably*, the largest drop from one epoch to the next after that. Reproduced when, against every
  baseline and paired by seed, both intervals lie at or below 0 (no slower, no larger drop); not reproduced
  when one lies above 0.

A claim not reproduced as written but reproduced with the authors' start is *reproduced only with the
authors' start*. The NER verdict may be read on a stand-in corpus (MSRA): its section says so.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from adamomentum.report.measures import Task, fmt
from adamomentum.report.runs import Run
from adamomentum.report.settings import (
    PAPER_SETTING,
    TABLE1_VALUES,
    Setting,
    comparable_with_paper,
    flat_config,
    ner_corpora,
    optimizer_name,
)
from adamomentum.report.statistics import Paired, final_value, paired, spread
from adamomentum.report.tables import markdown_table

REPRODUCED = "reproduced"
NOT_REPRODUCED = "not reproduced"
UNDECIDED = "undecided at this n"
ONLY_WITH_AUTHORS_START = "reproduced only with the authors' start"

AUTHORS_START = 0.1
ADAPTIVE = ("adagrad", "adamomentum")
# The paper's ordering of final test perplexity, best first, and its improvement of AdaMomentum over SGD.
PAPER_ORDER = ("adamomentum", "momentum", "sgd", "adagrad")
PAPER_IMPROVEMENT = 0.07


@dataclass(frozen=True)
class Reading:
    title: str
    start: float


READINGS = (Reading("as written (G_0 = 0)", 0.0), Reading(f"with the authors' start (G_0 = {AUTHORS_START:g})",
                                                              AUTHORS_START))  # fmt: skip


def _is_reading(setting: Setting, start: float) -> bool:
    """Whether every run of ``setting`` has Table 1's values and the rest of the paper's setting (a run that
    differs, an ablation such as the per-token NER loss of results/ner-msra, belongs to neither reading) and,
    for the adaptive methods, ``start`` as G_0."""
    expected = TABLE1_VALUES.get(setting.optimizer)
    if expected is None:
        return False
    for run in setting.runs:
        config = flat_config(run)
        if any(config.get(key) != value for key, value in expected.items()):
            return False
        if any(config.get(key, value) != value for key, value in PAPER_SETTING.items()):
            return False
        if setting.optimizer in ADAPTIVE and (config.get("optimizer.initial_accumulator_value") or 0.0) != start:
            return False
    return True


def reading_settings(groups: list[Setting], reading: Reading) -> dict[str, Setting]:
    """Each optimizer's setting for ``reading``, where its runs have one."""
    found: dict[str, Setting] = {}
    for setting in groups:
        if setting.optimizer not in found and _is_reading(setting, reading.start):
            found[setting.optimizer] = setting
    return found


def full_scale(run: Run) -> bool:
    """The paper's scale: every epoch, all the training data, no batch limit (NER: on any corpus)."""
    config = flat_config(run)
    if run.task == "ner":
        return (config.get("study.scale", "full") == "full" and config.get("task.train_fraction", 1.0) == 1.0
                and config.get("task.max_batches") is None)  # fmt: skip
    return comparable_with_paper(run)


def applies(groups: list[Setting]) -> bool:
    """A verdict needs the paper's setting at full scale for all four optimizers as written, and more than one
    seed somewhere: one seed decides nothing."""
    written = reading_settings(groups, READINGS[0])
    return (set(written) == set(TABLE1_VALUES)
            and all(full_scale(r) for s in written.values() for r in s.runs)
            and any(len(s.runs) > 1 for s in groups))  # fmt: skip


@dataclass(frozen=True)
class Finding:
    """Our numbers for a claim under one reading, and what they say of it."""

    text: str
    word: str


def _counts(setting: Setting) -> str:
    statuses = [r.summary["status"] for r in setting.runs]
    diverged = statuses.count("diverged")
    unfinished = len(statuses) - diverged - statuses.count("completed")
    parts = [f"{diverged} diverged"] * bool(diverged) + [f"{unfinished} unfinished"] * bool(unfinished)
    return f" ({', '.join(parts)})" if parts else ""


def within_ten_percent(setting: Setting | None, task: Task) -> Finding:
    """The setting's final headline against the paper's number +-10%."""
    if setting is None:
        return Finding("no runs", UNDECIDED)
    paper = task.paper[setting.optimizer]
    finals = [v for r in setting.runs if (v := final_value(r, task.headline.key)) is not None and math.isfinite(v)]
    diverged = any(r.summary["status"] == "diverged" for r in setting.runs)
    if not finals:
        return Finding(f"no final value{_counts(setting)}", NOT_REPRODUCED if diverged else UNDECIDED)
    s = spread(finals, task.headline.log_scale)
    measure = task.headline
    interval = "" if s.n < 2 else f" [{measure.fmt(s.low)}, {measure.fmt(s.high)}]"
    text = f"{measure.fmt(s.centre)}{interval}, n = {s.n}{_counts(setting)}"
    low, high = 0.9 * paper, 1.1 * paper
    if diverged or (s.n >= 2 and (s.high < low or s.low > high)):
        return Finding(text, NOT_REPRODUCED)
    if s.n >= 2 and low <= s.low and s.high <= high:
        return Finding(text, REPRODUCED)
    return Finding(text, UNDECIDED)


def _by_seed(setting: Setting, key: str) -> dict[object, float]:
    return {r.summary.get("seed"): v for r in setting.runs if (v := final_value(r, key)) is not None}


def _compare(ours: Setting, theirs: Setting, task: Task) -> Paired:
    key = task.headline.key
    return paired(_by_seed(ours, key), _by_seed(theirs, key), task.headline.log_scale, task.headline.lower_is_better)


def _ratio_text(result: Paired) -> str:
    if result.n == 0:
        return "no paired seeds"
    interval = "" if math.isnan(result.low) else f" [{fmt(result.low, 3)}, {fmt(result.high, 3)}]"
    return f"{fmt(result.centre, 3)}{interval}, {result.wins} of {result.n} seeds"


def ordering(found: dict[str, Setting], task: Task) -> Finding:
    """The paper's order of final headline numbers, pair by adjacent pair, each paired by seed."""
    if any(o not in found for o in PAPER_ORDER):
        return Finding("not every optimizer has runs", UNDECIDED)
    parts, decided = [], []
    for better, worse in zip(PAPER_ORDER, PAPER_ORDER[1:]):
        result = _compare(found[better], found[worse], task)
        parts.append(f"{optimizer_name(better)} / {optimizer_name(worse)} {_ratio_text(result)}")
        decided.append(result.decided)
    word = REPRODUCED if all(d == "ours" for d in decided) else NOT_REPRODUCED if "theirs" in decided else UNDECIDED
    return Finding("; ".join(parts), word)


def improvement(found: dict[str, Setting], task: Task) -> Finding:
    """AdaMomentum's final headline over SGD's, paired by seed, against the paper's 7% improvement."""
    if "adamomentum" not in found or "sgd" not in found:
        return Finding("no runs", UNDECIDED)
    result = _compare(found["adamomentum"], found["sgd"], task)
    target = 1 - PAPER_IMPROVEMENT
    text = f"AdaMomentum / SGD {_ratio_text(result)}"
    if result.n < 2:
        return Finding(text, UNDECIDED)
    if result.low > target:
        return Finding(text, NOT_REPRODUCED)
    if result.high < 1 and result.low <= target:
        return Finding(text, REPRODUCED)
    return Finding(text, UNDECIDED)


def overall(as_written: Finding, authors: Finding) -> str:
    if as_written.word == REPRODUCED:
        return REPRODUCED
    if authors.word == REPRODUCED:
        return ONLY_WITH_AUTHORS_START if as_written.word == NOT_REPRODUCED else UNDECIDED
    if as_written.word == NOT_REPRODUCED and authors.word == NOT_REPRODUCED:
        return NOT_REPRODUCED
    return UNDECIDED


@dataclass(frozen=True)
class Claim:
    text: str
    paper: str
    judge: Callable[[dict[str, Setting], Task], Finding]
    # Whether the readings can differ: a claim about SGD or Momentum alone reads the same runs in both.
    depends_on_start: bool


def ptb_claims(task: Task) -> list[Claim]:
    paper = task.paper
    claims = [
        Claim(f"{optimizer_name(o)} ends within 10% of the paper's final test perplexity", f"{paper[o]:.0f}",
              lambda found, t, o=o: within_ten_percent(found.get(o), t), o in ADAPTIVE)
        for o in ("sgd", "momentum", "adagrad", "adamomentum")
    ]  # fmt: skip
    order = " < ".join(optimizer_name(o) for o in PAPER_ORDER)
    claims.append(Claim(f"final test perplexity: {order}", " < ".join(f"{paper[o]:.0f}" for o in PAPER_ORDER),
                        ordering, True))  # fmt: skip
    claims.append(Claim(f"AdaMomentum improves on SGD by {100 * PAPER_IMPROVEMENT:.0f}%",
                        f"106 / 115 = {paper['adamomentum'] / paper['sgd']:.3f}", improvement, True))  # fmt: skip
    return claims


BASELINES = ("sgd", "momentum", "adagrad")
# NER: the bound on AdaMomentum's test token F1 (Section 4: "0.75+"), and the share of the final F1 that
# counts as converged.
CONVERGED_SHARE = 0.95


def _effect_text(result: Paired, digits: int) -> str:
    if result.n == 0:
        return "no paired seeds"
    interval = "" if math.isnan(result.low) else f" [{fmt(result.low, digits)}, {fmt(result.high, digits)}]"
    return f"{result.centre:+.{digits}f}{interval}, better in {result.wins} of {result.n}"


def above_bound(found: dict[str, Setting], task: Task) -> Finding:
    """AdaMomentum's mean final headline over seeds against the paper's lower bound."""
    setting = found.get("adamomentum")
    if setting is None:
        return Finding("no runs", UNDECIDED)
    bound, measure = task.paper["adamomentum"], task.headline
    finals = [v for r in setting.runs if (v := final_value(r, measure.key)) is not None and math.isfinite(v)]
    if not finals:
        return Finding(f"no final value{_counts(setting)}", UNDECIDED)
    s = spread(finals, measure.log_scale)
    interval = "" if s.n < 2 else f" [{measure.fmt(s.low)}, {measure.fmt(s.high)}]"
    text = f"{measure.fmt(s.centre)}{interval}, n = {s.n}{_counts(setting)}"
    if s.n >= 2 and s.low > bound:
        return Finding(text, REPRODUCED)
    if s.n >= 2 and s.high < bound:
        return Finding(text, NOT_REPRODUCED)
    return Finding(text, UNDECIDED)


def _against_each(results: list[Paired]) -> str:
    decided = [r.decided for r in results]
    if len(results) == len(BASELINES) and all(d == "ours" for d in decided):
        return REPRODUCED
    return NOT_REPRODUCED if "theirs" in decided else UNDECIDED


def outperforms(found: dict[str, Setting], task: Task) -> Finding:
    """AdaMomentum minus each baseline, final headline, paired by seed."""
    if "adamomentum" not in found:
        return Finding("no runs", UNDECIDED)
    pairs = [(b, _compare(found["adamomentum"], found[b], task)) for b in BASELINES if b in found]
    text = "; ".join(f"AdaMomentum - {optimizer_name(b)} {_effect_text(r, task.headline.digits)}" for b, r in pairs)
    return Finding(text, _against_each([r for _, r in pairs]))


def epochs_to_converge(run: Run, key: str) -> float | None:
    """The first epoch whose ``key`` reaches ``CONVERGED_SHARE`` of the final value (higher is better)."""
    final = final_value(run, key)
    if final is None:
        return None
    return float(next(m["epoch"] for m in run.metrics if m[key] >= CONVERGED_SHARE * final))


def largest_later_drop(run: Run, key: str) -> float | None:
    """The largest fall of ``key`` from one epoch to the next once it has converged (0 when it never falls)."""
    reached = epochs_to_converge(run, key)
    if reached is None:
        return None
    values = [m[key] for m in run.metrics if m["epoch"] >= reached]
    return max([0.0, *(a - b for a, b in zip(values, values[1:]))])


def _by_seed_of(setting: Setting, measure: Callable[[Run, str], float | None], key: str) -> dict[object, float]:
    return {r.summary.get("seed"): v for r in setting.runs if (v := measure(r, key)) is not None}


def converges(found: dict[str, Setting], task: Task) -> Finding:
    """Quickly: epochs to reach 95% of the final F1; stably: the largest drop after that. AdaMomentum minus
    each baseline, paired by seed, lower is better for both."""
    if "adamomentum" not in found:
        return Finding("no runs", UNDECIDED)
    key, parts, results = task.headline.key, [], []
    for what, measure, digits in (("epochs to 95% of the final", epochs_to_converge, 1),
                                  ("largest drop after that", largest_later_drop, 3)):  # fmt: skip
        ours = _by_seed_of(found["adamomentum"], measure, key)
        means = [f"AdaMomentum {fmt(sum(ours.values()) / len(ours), digits)}" if ours else "AdaMomentum -"]
        for b in (b for b in BASELINES if b in found):
            theirs = _by_seed_of(found[b], measure, key)
            result = paired(ours, theirs, log=False, lower_is_better=True)
            results.append(result)
            means.append(f"{optimizer_name(b)} {fmt(sum(theirs.values()) / len(theirs), digits) if theirs else '-'}")
        parts.append(f"{what} (mean): {', '.join(means)}")
    decided = [r.decided for r in results]
    no_worse = len(results) == 2 * len(BASELINES) and all(r.n >= 2 and r.high <= 0 for r in results)
    word = REPRODUCED if no_worse else NOT_REPRODUCED if "theirs" in decided else UNDECIDED
    return Finding("; ".join(parts), word)


def ner_claims(task: Task) -> list[Claim]:
    bound = task.paper_format.format(task.paper["adamomentum"])
    return [
        Claim(f"AdaMomentum's final {task.headline.label} is {bound}", bound, above_bound, True),
        Claim("AdaMomentum outperforms SGD, Momentum and AdaGrad", "AdaMomentum highest (Figure 2)", outperforms,
              True),
        Claim("AdaMomentum converges quickly and stably", "Section 4, Figure 2", converges, True),
    ]  # fmt: skip


CLAIMS: dict[str, Callable[[Task], list[Claim]]] = {"ptb": ptb_claims, "ner": ner_claims}


def verdict_table(groups: list[Setting], task: Task) -> str:
    """One row per claim: the paper's number, ours under each reading with its own word, and the verdict."""
    found = [reading_settings(groups, reading) for reading in READINGS]
    rows = []
    for claim in CLAIMS[task.name](task):
        written = claim.judge(found[0], task)
        authors = claim.judge(found[1], task) if claim.depends_on_start else written
        rows.append([claim.text, claim.paper, f"{written.text}: {written.word}",
                     f"{authors.text}: {authors.word}" if claim.depends_on_start else "the same runs (no accumulator)",
                     f"**{overall(written, authors)}**"])  # fmt: skip
    headers = ["claim", "paper", f"ours, {READINGS[0].title}", f"ours, {READINGS[1].title}", "verdict"]
    return markdown_table(headers, rows)


READING_NOTE = (
    "Each claim is read twice: Table 1's values as the paper writes its update (G_0 = 0), and with the "
    f"accumulator start of the authors' code (G_0 = {AUTHORS_START:g}, github.com/zihangdai/DeepLSTM, "
    "src/sgd/adagrad.cpp)."
)
HOW_TO_READ = {
    "ptb": "Numbers are the final test perplexity: the geometric mean over seeds with its 95% t-interval on log "
           "perplexity, or a ratio of two optimizers paired by seed (below 1: the first is better) with its interval "
           "and the seeds the first wins. Within 10%: the interval lies inside the paper's number +-10% "
           "(reproduced), outside it or a seed diverged (not reproduced), or across an edge (undecided). An "
           "ordering or an improvement holds when every interval lies on the paper's side.",
    "ner": "Numbers are the final test token F1: the mean over seeds with its 95% t-interval, or AdaMomentum minus "
           "a baseline paired by seed with its interval and the seeds AdaMomentum wins. Convergence is read from "
           f"each run's test token F1 per epoch (Figure 2): the first epoch at {100 * CONVERGED_SHARE:.0f}% of its "
           "final value, and the largest fall from one epoch to the next after it; AdaMomentum converges quickly "
           "and stably when, against every baseline, neither is decidedly worse (interval at or below 0).",
}  # fmt: skip


def verdict_section(groups: list[Setting], task: Task) -> list[str]:
    """results.md's verdict: how to read it, and the table; nothing where no verdict applies."""
    if task.name not in CLAIMS or not applies(groups):
        return []
    title = task.title
    if task.name == "ner":
        corpora = ner_corpora([r for s in groups for r in s.runs])
        if corpora != ["OntoNotes"]:
            title += f" on {', '.join(corpora)}, a stand-in for the paper's OntoNotes"
    return [f"## Verdict: {title}", "", f"{READING_NOTE} {HOW_TO_READ[task.name]}", "", verdict_table(groups, task), ""]
