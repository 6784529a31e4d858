"""The campaign of issue 34: this repository's own measures, fixed in results/README.md ("The campaign (issue 34)")
before its runs, of what the paper's tables leave open, all on the Penn Treebank:

- the same schedule (section 2): Table 1 gives SGD and Momentum Zaremba's lr decay and AdaMomentum a constant lr.
  Does AdaMomentum with the authors' start (G_0 = 0.1) beat them with the decay too? A question of this
  repository's own, not a claim of the paper: a row of the verdict table (``same_schedule``), judged by its rules;
- the abstract's claims (sections 4 and 5), over the settings ``CAMPAIGN`` names: ``data_scale`` and
  ``lr_tuning``, each a section of results.md with a figure.

Adam (``optimizer=adam``) is a reference outside all of them: no reading takes an optimizer outside Table 1.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from adamomentum.report.measures import TaskDescription
from adamomentum.report.paper import AS_WRITTEN, AUTHORS, AUTHORS_START, TABLE1_VALUES, Reading, optimizer_name
from adamomentum.report.runs import Run
from adamomentum.report.settings import Setting, flat_config, in_paper_setting, reading_settings, runs_of
from adamomentum.report.statistics import final_value, finals, spread, with_interval
from adamomentum.report.verdict import Finding, Question, compare, pairs_word, ratio_text, sign_count, status_counts

# The config keys the campaign varies, and their values in the paper's setting.
DECAY = "trainer.lr_decay"
FRACTION = "data.train_fraction"
LR_FACTOR = "study.lr_factor"
PAPER_VALUES = {FRACTION: 1.0, LR_FACTOR: 1.0}
# The values each claim is judged over, fixed in results/README.md before the runs: the shares of the training
# text of section 4 (all of it: the verdict's runs), and the lr factors of section 5 (x 1: seed 0 of section 4 at
# the same share) with the share it runs them on. A claim is decided only over all of them, never over the ones
# whose runs have landed, and runs at other values (a study's) take no part in it.
FRACTIONS = (0.1, 0.25, 0.5, 1.0)
LR_FACTORS = (0.25, 0.5, 1.0, 2.0, 4.0)
LR_TUNING_FRACTION = 0.25
# The task the campaign ran.
TASK = "ptb"


@dataclass(frozen=True, eq=False)
class Entry:
    """One of the campaign's settings: an optimizer under a reading of the paper, by name (each is itself only)."""

    name: str
    optimizer: str
    reading: Reading


# Sections 4 and 5 compare these five: the baselines that reproduce the paper's numbers, and AdaMomentum under
# each reading, as written first (each judged against the baselines, never against the other).
BASELINES = (
    Entry("SGD", "sgd", AS_WRITTEN),
    Entry("Momentum", "momentum", AS_WRITTEN),
    Entry("AdaGrad as written", "adagrad", AS_WRITTEN),
)
OURS = (
    Entry("AdaMomentum as written", "adamomentum", AS_WRITTEN),
    Entry(f"AdaMomentum with G_0 = {AUTHORS_START:g}", "adamomentum", AUTHORS),
)
CAMPAIGN = (*BASELINES, *OURS)


def campaign_settings(groups: list[Setting], at: dict[str, Any]) -> dict[Entry, Setting]:
    """Each entry of ``CAMPAIGN``'s setting with the config values ``at`` instead of the paper's, where its runs
    have one."""
    found = {}
    for entry in CAMPAIGN:
        setting = reading_settings(groups, entry.reading, at).get(entry.optimizer)
        if setting is not None:
            found[entry] = setting
    return found


def values_of(groups: list[Setting], key: str) -> list[float]:
    """The values of ``key`` in the runs of ``groups``, the paper's where a run lacks it, smallest first."""
    return sorted({flat_config(r).get(key, PAPER_VALUES[key]) for r in runs_of(groups)})


def campaign_by(
    groups: list[Setting], task: TaskDescription, key: str, at: dict[str, Any] | None = None
) -> dict[float, dict[Entry, Setting]]:
    """The campaign's settings at each value of ``key`` in the runs (and the values ``at``), where it has runs,
    smallest first; nothing for a task the campaign did not run."""
    if task.name != TASK:
        return {}
    found = {value: campaign_settings(groups, {**(at or {}), key: value}) for value in values_of(groups, key)}
    return {value: settings for value, settings in found.items() if settings}


def share(fraction: float) -> str:
    """0.25 -> "25% of the training text"."""
    return f"{100 * fraction:g}% of the training text"


def diverged(run: Run, key: str) -> bool:
    """Whether ``run`` diverged, or completed with a final ``key`` that is not finite (an evaluation whose loss
    overflowed): either counts as infinite. Not the early blow-up of ``report.blowup``, which a run can meet and
    then finish at a finite perplexity."""
    value = final_value(run, key)
    return run.summary.status == "diverged" or (value is not None and not math.isfinite(value))


# Section 2: the same schedule.

SAME_SCHEDULE = "AdaMomentum beats the baselines under the same schedule"
NOT_A_CLAIM = "- (not a claim of the paper)"
# Asked of AdaMomentum with the authors' start (the secondary reading's column), against the optimizers Table 1
# gives the decay (SGD and Momentum).
DECAYED = tuple(o for o, values in TABLE1_VALUES.items() if values[DECAY])
ANSWERS = ("holds", "does not hold")


def same_schedule(groups: list[Setting], task: TaskDescription) -> Question | None:
    """AdaMomentum with G_0 = 0.1 and Zaremba's decay over SGD and over Momentum (Table 1's, with the decay),
    final test perplexity paired by seed, judged as the verdict judges an ordering; AdaGrad as written with the
    decay beside it, not judged. None where there are no runs of AdaMomentum with the decay."""
    decayed = reading_settings(groups, AUTHORS, {DECAY: True}) if task.name == TASK else {}
    if "adamomentum" not in decayed:
        return None
    ours = decayed["adamomentum"]
    pairs = [(b, compare(ours, decayed[b], task)) for b in DECAYED if b in decayed]
    results = [r for _, r in pairs]
    text = "; ".join(f"AdaMomentum with the decay / {optimizer_name(b)} {ratio_text(r)}" for b, r in pairs)
    finding = Finding(
        text or "no runs of SGD or Momentum",
        pairs_word(results, len(pairs) == len(DECAYED)),
        [sign_count(r) for r in results],
        min((r.n for r in results), default=0),
        len(results),
        answers=ANSWERS,
    )
    start = f"G_0 = {AUTHORS_START:g}"
    cells = (
        f"{SAME_SCHEDULE} (this repository's question)",
        NOT_A_CLAIM,
        f"not asked (asked of AdaMomentum with {start})",
        finding.cell(),
        f"**{finding.label}** (AdaMomentum with {start}; not a verdict on the paper)",
    )
    names = " and ".join(optimizer_name(b) for b in DECAYED)
    note = (
        f'The row "{SAME_SCHEDULE}" is this repository\'s question, not a claim of the paper: Table 1 gives '
        f"{names} Zaremba's lr decay and AdaMomentum a constant lr; here AdaMomentum with {start} has the decay "
        f"too, and its final test perplexity is paired by seed with {names}'s (below 1: AdaMomentum better), "
        f"judged as the ordering is: it {ANSWERS[0]} when every ratio is decided below 1, {ANSWERS[1]} when one "
        "is decided above."
    )
    below = ""
    if "adagrad" in decayed:
        below = (
            f"Beside it, not judged: AdaMomentum with {start} and the decay / AdaGrad as written with the decay "
            f"{ratio_text(compare(ours, decayed['adagrad'], task))}."
        )
    return Question(cells, len(results), note, below)


# A modern reference: Adam with the baselines' schedule, outside every claim.

REFERENCE = "adam"
REFERENCE_ROW = f"{optimizer_name(REFERENCE)}, a modern reference (not in the paper): final test perplexity"


def reference_row(groups: list[Setting], task: TaskDescription) -> tuple[str, ...] | None:
    """The README verdict's row for Adam in the paper's setting (``in_paper_setting``) with the baselines' decay:
    its final headline over seeds, shown and never judged; None where the folder has no such runs."""
    if task.name != TASK:
        return None
    found = [
        s
        for s in groups
        if s.optimizer == REFERENCE and all(in_paper_setting(r) and flat_config(r).get(DECAY) for r in s.runs)
    ]
    values = finals(found[0].runs, task.headline.key) if found else []
    if not values:
        return None
    s = spread(values, log=task.headline.log_scale)
    number = f"{with_interval(task.headline, s)}, n = {s.n}{status_counts(found[0])}"
    return (REFERENCE_ROW, "- (not in the paper)", number, "the same runs", "shown, not judged")
