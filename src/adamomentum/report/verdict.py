"""The verdict: each claim of the paper (``paper.CLAIMS``), read from runs over seeds, as the paper writes its
update (the primary reading) and as its authors ran it (a secondary reading, never merged into the first);
``paper`` says what each reading is.

Each claim is decided by two tests of the same per-seed outcomes, each at 95%:

- a 95% t-interval (on log perplexity; F1 linear), as before:
  - within 10% of the paper's number: *reproduced* when the interval of the geometric mean lies inside the
    paper's number +-10%, *not reproduced* when it lies outside (or a seed diverged);
  - an ordering, "outperforms", "converges": each pair compared seed by seed; *reproduced* when every pair is
    decided in the paper's direction, *not reproduced* when one is decided against it;
  - an improvement of x%: *reproduced* when the ratio's interval lies below 1 and holds 1 - x, *not
    reproduced* when it lies above 1 - x; a bound (NER's "0.75+"): the interval above or below it;
- an exact two-sided sign test on how the seeds fall, which assumes nothing about the outcome's
  distribution: a chaotic run (AdaMomentum as written ends at 215-751 on three seeds) makes a t-interval on
  log perplexity too wide to decide, while every seed falling on one side is evidence of its own. Each claim
  is a set of sign tests (within 10%: the seeds above 1.1x the paper's number, and those below 0.9x; an
  ordering: the wins of each pair; 7%: the seeds below 1, and those at or below 0.93), *reproduced* when
  every one is decided in the paper's favour, *not reproduced* when one is decided against it. Three seeds
  can never decide one (p >= 0.25); six on one side give p = 0.031.

A claim's word: the word both tests give; where one decides and the other cannot, that one's word, and the
table says which (a t-interval at n < 6 decides where no sign test could); where they disagree,
*undecided*. Where undecided, the table gives how many more seeds would let the sign test decide if each
fell as the majority has so far. The intervals and p-values are not adjusted for the number of comparisons:
the table states that number.

A question of this repository's own (``Question``: report/campaign.py's same schedule) may join the table below
the paper's claims, judged by the same rules and said in its own words; the README's verdict shows it below the
claims, marked as this repository's question, not a verdict on the paper.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial

from adamomentum.measures import fmt
from adamomentum.report.markdown import markdown_table
from adamomentum.report.measures import TaskDescription
from adamomentum.report.paper import (
    ABOVE_BOUND,
    AS_WRITTEN,
    AUTHORS,
    AUTHORS_START,
    BASELINES,
    CLAIMS,
    CONVERGES,
    IMPROVEMENT,
    ORDERING,
    OUTPERFORMS,
    PAPER_IMPROVEMENT,
    PAPER_ORDER,
    SENSITIVITY,
    TABLE1_VALUES,
    WITHIN_TEN_PERCENT,
    Claim,
    optimizer_name,
)
from adamomentum.report.runs import Run
from adamomentum.report.settings import Setting, ner_corpora, reading_settings, runs_of
from adamomentum.report.statistics import Paired, final_value, finals, paired, sign_test, spread, with_interval

REPRODUCED = "reproduced"
NOT_REPRODUCED = "not reproduced"
UNDECIDED = "undecided at this n"

# Both tests decide at 95%; the smallest n at which an exact two-sided sign test can (2 / 2^6 = 0.031).
ALPHA = 0.05
SIGN_TEST_MIN_N = next(n for n in range(1, 64) if sign_test(n, 0) < ALPHA)
# More seeds than this are not worth counting for a sign test: the claim is as good as undecidable.
MOST_SEEDS_COUNTED = 30


def applies(groups: list[Setting]) -> bool:
    """A verdict needs the paper's setting at full scale for all four optimizers as written (a reading is at the
    paper's scale), and more than one seed somewhere: one seed decides nothing."""
    written = reading_settings(groups, AS_WRITTEN)
    return set(written) == set(TABLE1_VALUES) and any(len(s.runs) > 1 for s in groups)


@dataclass(frozen=True)
class SignCount:
    """One sign test of a claim: the seeds on the paper's side of it, and those against."""

    favour: int
    against: int

    def decided(self, more: int = 0) -> str | None:
        """ "favour" or "against" where the test decides at ``ALPHA``, with ``more`` seeds falling as the
        majority has so far (a tie: in the paper's favour); None where it does not."""
        favour, against = self.favour, self.against
        if favour >= against:
            favour += more
        else:
            against += more
        if sign_test(favour, against) >= ALPHA:
            return None
        return "favour" if favour > against else "against"


def sign_word(counts: list[SignCount], more: int = 0) -> str:
    """Reproduced when every sign test decides in the paper's favour, not reproduced when one decides against."""
    if not counts:
        return UNDECIDED
    decided = [c.decided(more) for c in counts]
    if "against" in decided:
        return NOT_REPRODUCED
    return REPRODUCED if all(d == "favour" for d in decided) else UNDECIDED


@dataclass(frozen=True)
class Finding:
    """Our numbers for a claim under one reading, and what each test says of it."""

    text: str
    # The t-interval's word.
    interval_word: str
    signs: list[SignCount] = field(default_factory=list)
    # Seeds behind the numbers (the fewest of any comparison), and how many tests the claim rests on.
    n: int = 0
    tests: int = 1
    # Said with the word wherever it is shown ("every setting clears it": the claim tells no optimizer apart).
    qualifier: str = ""
    # The words shown for reproduced and not reproduced: a question of this repository's own has its answers.
    answers: tuple[str, str] = (REPRODUCED, NOT_REPRODUCED)

    @property
    def label(self) -> str:
        word = {REPRODUCED: self.answers[0], NOT_REPRODUCED: self.answers[1]}.get(self.word, self.word)
        return f"{word}; {self.qualifier}" if self.qualifier else word

    @property
    def word(self) -> str:
        by_sign = sign_word(self.signs)
        if by_sign == self.interval_word or by_sign == UNDECIDED:
            return self.interval_word
        return by_sign if self.interval_word == UNDECIDED else UNDECIDED

    @property
    def decided_by(self) -> str:
        by_sign = sign_word(self.signs)
        if self.interval_word == UNDECIDED and by_sign == UNDECIDED:
            return ""
        if by_sign == self.interval_word:
            return "both tests"
        if by_sign == UNDECIDED:
            return (
                f"t-interval only: no sign test decides at n = {self.n}"
                if self.n < SIGN_TEST_MIN_N
                else "t-interval only"
            )
        return "sign test only" if self.interval_word == UNDECIDED else "the tests disagree"

    @property
    def seeds_to_decide(self) -> int | None:
        """Where undecided: the fewest more seeds that, falling as the majority has, let the sign test decide."""
        if self.word != UNDECIDED or not self.signs:
            return None
        return next((m for m in range(1, MOST_SEEDS_COUNTED + 1) if sign_word(self.signs, m) != UNDECIDED), None)

    def cell(self) -> str:
        """The numbers, the word, and which test decided it, or how many more seeds would."""
        if self.decided_by:
            return f"{self.text}: {self.label} ({self.decided_by})"
        if not self.signs:
            return f"{self.text}: {self.label}"
        more = self.seeds_to_decide
        needs = (
            f"a sign test decides with {more} more seeds, n = {self.n + more}"
            if more is not None
            else f"no sign test decides within {MOST_SEEDS_COUNTED} more seeds"
        )
        return f"{self.text}: {self.label} ({needs})"


NO_RUNS = Finding("no runs", UNDECIDED, tests=0)


def status_counts(setting: Setting) -> str:
    statuses = [r.summary.status for r in setting.runs]
    diverged = statuses.count("diverged")
    unfinished = len(statuses) - diverged - statuses.count("completed")
    parts = [f"{diverged} diverged"] * bool(diverged) + [f"{unfinished} unfinished"] * bool(unfinished)
    return f" ({', '.join(parts)})" if parts else ""


def within_ten_percent(setting: Setting | None, task: TaskDescription) -> Finding:
    """The setting's final headline against the paper's number +-10%."""
    if setting is None:
        return NO_RUNS
    paper = task.paper[setting.optimizer]
    values = finals(setting.runs, task.headline.key)
    diverged = any(r.summary.status == "diverged" for r in setting.runs)
    if not values:
        return Finding(f"no final value{status_counts(setting)}", NOT_REPRODUCED if diverged else UNDECIDED)
    s = spread(values, task.headline.log_scale)
    low, high = 0.9 * paper, 1.1 * paper
    above, below = sum(v > high for v in values), sum(v < low for v in values)
    within = s.n - above - below
    text = f"{with_interval(task.headline, s)}, n = {s.n}{status_counts(setting)}, {within} of {s.n} within"
    signs = [SignCount(s.n - above, above), SignCount(s.n - below, below)]
    if diverged or (s.n >= 2 and (s.high < low or s.low > high)):
        return Finding(text, NOT_REPRODUCED, signs, s.n)
    if s.n >= 2 and low <= s.low and s.high <= high:
        return Finding(text, REPRODUCED, signs, s.n)
    return Finding(text, UNDECIDED, signs, s.n)


def compare(ours: Setting, theirs: Setting, task: TaskDescription) -> Paired:
    key = task.headline.key
    return paired(
        ours.by_seed(final_value, key),
        theirs.by_seed(final_value, key),
        task.headline.log_scale,
        task.headline.lower_is_better,
    )


def ratio_text(result: Paired) -> str:
    if result.n == 0:
        return "no paired seeds"
    return f"{fmt(result.centre, 3)}{result.interval_text(3)}, {result.wins} of {result.n} seeds"


def pairs_word(results: list[Paired], complete: bool) -> str:
    """Every pair decided for ours (and ``complete``: every pair there): reproduced; one decided against: not."""
    decided = [r.decided for r in results]
    if "theirs" in decided:
        return NOT_REPRODUCED
    return REPRODUCED if complete and results and all(d == "ours" for d in decided) else UNDECIDED


def sign_count(result: Paired) -> SignCount:
    return SignCount(result.wins, result.losses)


def ordering(found: dict[str, Setting], task: TaskDescription) -> Finding:
    """The paper's order of final headline numbers, pair by adjacent pair, each paired by seed."""
    if any(o not in found for o in PAPER_ORDER):
        return Finding("not every optimizer has runs", UNDECIDED, tests=0)
    parts, results = [], []
    for better, worse in zip(PAPER_ORDER, PAPER_ORDER[1:]):
        result = compare(found[better], found[worse], task)
        parts.append(f"{optimizer_name(better)} / {optimizer_name(worse)} {ratio_text(result)}")
        results.append(result)
    return Finding(
        "; ".join(parts),
        pairs_word(results, True),
        [sign_count(r) for r in results],
        min(r.n for r in results),
        len(results),
    )


def improvement(found: dict[str, Setting], task: TaskDescription) -> Finding:
    """AdaMomentum's final headline over SGD's, paired by seed, against the paper's 7% improvement."""
    if "adamomentum" not in found or "sgd" not in found:
        return NO_RUNS
    ours, theirs = (found[o].by_seed(final_value, task.headline.key) for o in ("adamomentum", "sgd"))
    result = compare(found["adamomentum"], found["sgd"], task)
    target = 1 - PAPER_IMPROVEMENT
    ratios = [ours[s] / theirs[s] for s in result.seeds]
    signs = [
        SignCount(result.wins, result.losses),
        SignCount(sum(r <= target for r in ratios), sum(r > target for r in ratios)),
    ]
    text = f"AdaMomentum / SGD {ratio_text(result)}"
    if result.n < 2:
        word = UNDECIDED
    elif result.low > target:
        word = NOT_REPRODUCED
    elif result.high < 1 and result.low <= target:
        word = REPRODUCED
    else:
        word = UNDECIDED
    return Finding(text, word, signs, result.n)


# NER: the share of the final F1 that counts as converged.
CONVERGED_SHARE = 0.95


def _effect_text(result: Paired, digits: int) -> str:
    if result.n == 0:
        return "no paired seeds"
    return f"{result.centre:+.{digits}f}{result.interval_text(digits)}, better in {result.wins} of {result.n}"


def above_bound(found: dict[str, Setting], task: TaskDescription) -> Finding:
    """AdaMomentum's mean final headline over seeds against the paper's lower bound; whether every other
    setting of the reading clears it too is said beside it (then the bound tells the optimizers apart in
    nothing)."""
    setting = found.get("adamomentum")
    if setting is None:
        return NO_RUNS
    bound, measure = task.paper["adamomentum"], task.headline
    values = finals(setting.runs, measure.key)
    if not values:
        return Finding(f"no final value{status_counts(setting)}", UNDECIDED)
    s = spread(values, measure.log_scale)
    lowest = min(spread(f, measure.log_scale).centre for o in found if (f := finals(found[o].runs, measure.key)))
    everyone = "every setting clears it" if lowest > bound else ""
    lowest_text = f"; lowest mean of any setting {measure.fmt(lowest)}" if everyone else ""
    text = f"{with_interval(measure, s)}, n = {s.n}{status_counts(setting)}{lowest_text}"
    signs = [SignCount(sum(v > bound for v in values), sum(v <= bound for v in values))]
    if s.n >= 2 and s.low > bound:
        return Finding(text, REPRODUCED, signs, s.n, qualifier=everyone)
    if s.n >= 2 and s.high < bound:
        return Finding(text, NOT_REPRODUCED, signs, s.n)
    return Finding(text, UNDECIDED, signs, s.n, qualifier=everyone)


def outperforms(found: dict[str, Setting], task: TaskDescription) -> Finding:
    """AdaMomentum minus each baseline, final headline, paired by seed."""
    if "adamomentum" not in found:
        return NO_RUNS
    pairs = [(b, compare(found["adamomentum"], found[b], task)) for b in BASELINES if b in found]
    text = "; ".join(f"AdaMomentum - {optimizer_name(b)} {_effect_text(r, task.headline.digits)}" for b, r in pairs)
    results = [r for _, r in pairs]
    return Finding(
        text,
        pairs_word(results, len(results) == len(BASELINES)),
        [sign_count(r) for r in results],
        min((r.n for r in results), default=0),
        len(results),
    )


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


def converges(found: dict[str, Setting], task: TaskDescription) -> Finding:
    """Quickly: epochs to reach 95% of the final F1; stably: the largest drop after that. AdaMomentum minus
    each baseline, paired by seed, lower is better for both; reproduced when no interval lies above 0 (no
    slower, no larger drop), or when every sign test is in AdaMomentum's favour."""
    if "adamomentum" not in found:
        return NO_RUNS
    key, parts, results = task.headline.key, [], []
    for what, measure, digits in (
        ("epochs to 95% of the final", epochs_to_converge, 1),
        ("largest drop after that", largest_later_drop, 3),
    ):
        ours = found["adamomentum"].by_seed(measure, key)
        means = [f"AdaMomentum {fmt(sum(ours.values()) / len(ours), digits)}" if ours else "AdaMomentum -"]
        for b in (b for b in BASELINES if b in found):
            theirs = found[b].by_seed(measure, key)
            results.append(paired(ours, theirs, log=False, lower_is_better=True))
            means.append(f"{optimizer_name(b)} {fmt(sum(theirs.values()) / len(theirs), digits) if theirs else '-'}")
        parts.append(f"{what} (mean): {', '.join(means)}")
    decided = [r.decided for r in results]
    no_worse = len(results) == 2 * len(BASELINES) and all(r.n >= 2 and r.high <= 0 for r in results)
    word = REPRODUCED if no_worse else NOT_REPRODUCED if "theirs" in decided else UNDECIDED
    return Finding(
        "; ".join(parts), word, [sign_count(r) for r in results], min((r.n for r in results), default=0), len(results)
    )


Judge = Callable[[dict[str, Setting], TaskDescription], Finding]


def _within_ten_percent_of(optimizer: str, found: dict[str, Setting], task: TaskDescription) -> Finding:
    return within_ten_percent(found.get(optimizer), task)


# How each claim of the paper is judged, from each optimizer's setting under a reading.
JUDGES: dict[Claim, Judge] = {
    **{claim: partial(_within_ten_percent_of, o) for o, claim in WITHIN_TEN_PERCENT.items()},
    ORDERING: ordering,
    IMPROVEMENT: improvement,
    ABOVE_BOUND: above_bound,
    OUTPERFORMS: outperforms,
    CONVERGES: converges,
}


@dataclass(frozen=True)
class VerdictRow:
    """A claim judged under both readings; the primary reading's word is the verdict."""

    claim: Claim
    written: Finding
    # None where the claim reads the same runs under both readings.
    authors: Finding | None
    # AdaGrad with the authors' start too: shown, never a verdict; None where there are no such runs.
    sensitivity: Finding | None


def verdict_rows(groups: list[Setting], task: TaskDescription) -> list[VerdictRow]:
    written, authors, sensitivity = (reading_settings(groups, r) for r in (AS_WRITTEN, AUTHORS, SENSITIVITY))
    rows = []
    for claim in CLAIMS[task.name]:
        judge = JUDGES[claim]
        # A reading gets a finding of its own only where it reads other runs than the reading before it:
        # the authors' start where AdaMomentum takes part, the sensitivity row where AdaGrad does.
        as_written = judge(written, task)
        by_authors = judge(authors, task) if claim.reads_differently(AS_WRITTEN, AUTHORS) else None
        shown = claim.reads_differently(AUTHORS, SENSITIVITY) and "adagrad" in sensitivity
        rows.append(VerdictRow(claim, as_written, by_authors, judge(sensitivity, task) if shown else None))
    return rows


# The verdict table's columns, which the tables of the abstract's claims share.
CLAIM_HEADERS = ["claim", "paper", f"ours, {AS_WRITTEN.title}", f"ours, {AUTHORS.title}", "verdict (primary reading)"]


@dataclass(frozen=True)
class Question:
    """A question of this repository's own, not a claim of the paper (report/campaign.py): a row of the verdict
    table below the paper's claims, judged by the same rules; the README's verdict shows it below the claims."""

    # The row's cells, one per column of ``CLAIM_HEADERS``.
    cells: tuple[str, ...]
    # The tests its word rests on, what it measures (said above the table), and a line below the table.
    tests: int
    note: str
    below: str = ""


def verdict_table(groups: list[Setting], task: TaskDescription, questions: Sequence[Question] = ()) -> str:
    """One row per claim: the paper's number, ours under each reading with its own word and the test that
    decided it (or the seeds that would), and the verdict: the primary reading's word; then a row per question
    of this repository's own."""
    rows, sensitivity = [], []
    for row in verdict_rows(groups, task):
        authors = row.authors.cell() if row.authors else "the same runs (no accumulator)"
        rows.append([row.claim.text, row.claim.paper, row.written.cell(), authors, f"**{row.written.label}**"])
        if row.sensitivity:
            sensitivity.append([row.claim.text, row.sensitivity.cell()])
    table = markdown_table(CLAIM_HEADERS, rows + [list(q.cells) for q in questions])
    if sensitivity:
        table += "\n\n" + markdown_table(["claim", f"{SENSITIVITY.title} (not a verdict)"], sensitivity)
    return table + "".join(f"\n\n{q.below}" for q in questions if q.below)


def comparisons(groups: list[Setting], task: TaskDescription) -> int:
    """How many tests the verdict table's words rest on, both readings (each interval, each with its sign
    test): what an unadjusted 5% error rate multiplies with."""
    return sum(r.written.tests + (r.authors.tests if r.authors else 0) for r in verdict_rows(groups, task))


READING_NOTE = (
    "Each claim is read as the paper writes its update (Eq. 1: G_0 = 0), the primary reading, whose word is the "
    "verdict; and, in its own column, never merged into the verdict, with AdaMomentum at the accumulator start of "
    f"the authors' code (G_0 = {AUTHORS_START:g}, github.com/zihangdai/DeepLSTM, src/sgd/adagrad.cpp) against the "
    "same baselines. AdaGrad is as written in both: that is the AdaGrad whose numbers match the paper's; AdaGrad "
    f"with G_0 = {AUTHORS_START:g} is a sensitivity row below the table."
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
}
TESTS_NOTE = (
    "Each word rests on a 95% t-interval and an exact two-sided sign test on how the seeds fall (which assumes "
    "nothing about the distribution: a chaotic outcome's t-interval is too wide to decide, while every seed on "
    f"one side is evidence of its own; the sign test needs n >= {SIGN_TEST_MIN_N} to decide anything). In "
    "brackets: which test decided or, where neither did (or they disagree), how many more seeds would let the sign "
    "test decide, if each fell as the majority has so far."
)


def verdict_section(groups: list[Setting], task: TaskDescription, questions: Sequence[Question] = ()) -> list[str]:
    """results.md's verdict: how to read it, the table (with ``questions`` of this repository's own below the
    paper's claims), and the number of comparisons; nothing where no verdict applies."""
    if task.name not in CLAIMS or not applies(groups):
        return []
    title = task.title
    if task.name == "ner":
        corpora = ner_corpora(runs_of(groups))
        if corpora != ["OntoNotes"]:
            title += f" on {', '.join(corpora)}, a stand-in for the paper's OntoNotes"
    tests = comparisons(groups, task) + sum(q.tests for q in questions)
    count = (
        f"The table rests on {tests} tests (both readings). The intervals and p-values are "
        "not adjusted for that number: at 95%, about one test in twenty decides by chance where there is "
        "nothing to find."
    )
    notes = "".join(f" {q.note}" for q in questions)
    return [
        f"## Verdict: {title}",
        "",
        f"{READING_NOTE} {HOW_TO_READ[task.name]} {TESTS_NOTE}{notes}",
        "",
        verdict_table(groups, task, questions),
        "",
        count,
        "",
    ]
