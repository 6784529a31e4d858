"""The campaign of issue 34 in results.md, on synthetic runs: the same schedule as a question of this repository's
own in the verdict table, six seeds of AdaMomentum as written, the abstract's claims (robust against the scale of
data, minimal tuning effort) with their figures, and Adam as a reference outside every reading."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import matplotlib.pyplot as plt
import pytest
from matplotlib.collections import FillBetweenPolyCollection
from omegaconf import OmegaConf

from adamomentum.config import CONFIG_DIR
from adamomentum.report import find_runs
from adamomentum.report.campaign import (
    FRACTION,
    FRACTIONS,
    LR_FACTOR,
    LR_FACTORS,
    LR_TUNING_FRACTION,
    SAME_SCHEDULE,
)
from adamomentum.report.figures import grouped_curves_figure, optimizer_colour
from adamomentum.report.headline import verdict_block
from adamomentum.report.measures import TASKS
from adamomentum.report.paper import AS_WRITTEN, AUTHORS, SENSITIVITY
from adamomentum.report.settings import reading_settings, settings
from adamomentum.report.statistics import select_best_valid
from adamomentum.report.verdict import NOT_REPRODUCED, REPRODUCED, UNDECIDED
from adamomentum.report.write import plan, report_markdown
from report_runs import write_paper_runs
from test_report_figures import legend_texts
from test_report_verdict import FINALS, NER_CURVES, verdict_rows, write_ner_runs

PTB = TASKS["ptb"]
DECAY = {"trainer.lr_decay": True}
QUESTION = f"{SAME_SCHEDULE} (this repository's question)"
T_ONLY = "(t-interval only: no sign test decides at n = 3)"
T_ONLY_2 = "(t-interval only: no sign test decides at n = 2)"


def section(text: str, heading: str) -> str:
    """The part of ``text`` under ``heading``, to the next heading of its level or above."""
    level = len(heading.split(" ", 1)[0])
    lines = text.split(heading, 1)[1].splitlines()
    end = next(
        (i for i, line in enumerate(lines) if line.startswith("#") and len(line.split(" ", 1)[0]) <= level), len(lines)
    )
    return "\n".join(lines[:end])


def table_rows(text: str) -> dict[str, list[str]]:
    """A markdown table's rows by their first cell."""
    rows = [
        [c.strip() for c in line.strip().strip("|").split("|")]
        for line in text.splitlines()
        if line.startswith("| ") and not line.startswith(("| claim", "| setting"))
    ]
    return {row[0]: row[1:] for row in rows}


# Section 2: AdaMomentum with G_0 = 0.1 given Zaremba's decay, and AdaGrad as written with it.


@pytest.mark.parametrize(
    ("ours", "answer", "ratios"),
    [
        ([100.0, 101.0, 99.0], f"holds {T_ONLY}", ("SGD 0.868 [", "Momentum 0.926 [")),
        ([120.0, 121.0, 119.5], f"does not hold {T_ONLY}", ("SGD 1.043 [", "Momentum 1.112 [")),
        (
            [110.0, 106.0, 109.0],
            f"{UNDECIDED} (a sign test decides with 6 more seeds, n = 9)",
            ("SGD 0.941 [", "Momentum 1.003 ["),
        ),
    ],
)
def test_the_same_schedule_is_a_row_of_this_repositorys_own_under_the_papers_claims(
    tmp_path: Path, ours: list[float], answer: str, ratios: tuple[str, ...]
) -> None:
    root = write_paper_runs(tmp_path / "runs", FINALS)
    write_paper_runs(root, {("adamomentum", 0.1): ours, ("adagrad", None): [130.0, 131.0, 129.0]}, **DECAY)
    text = report_markdown(find_runs([root]))
    rows = verdict_rows(text)
    paper, written, authors, verdict = rows[QUESTION]
    assert paper == "- (not a claim of the paper)"
    assert written == "not asked (asked of AdaMomentum with G_0 = 0.1)"
    assert authors.startswith("AdaMomentum with the decay / SGD ") and authors.endswith(f": {answer}")
    assert all(f"AdaMomentum with the decay / {ratio}" in authors for ratio in ratios)
    assert verdict == f"**{answer.split(' (')[0]}** (AdaMomentum with G_0 = 0.1; not a verdict on the paper)"
    # The paper's claims read the runs they read without the decay runs: AdaMomentum with G_0 = 0.1 and a
    # constant lr, AdaGrad as written with a constant lr.
    assert rows["AdaMomentum ends within 10% of the paper's final test perplexity"][2].startswith("105.2 [")
    assert "SGD / AdaGrad 0.823 [" in rows["final test perplexity: AdaMomentum < Momentum < SGD < AdaGrad"][2]
    verdict_section = section(text, "## Verdict: Penn Treebank")
    beside = "Beside it, not judged: AdaMomentum with G_0 = 0.1 and the decay / AdaGrad as written with the decay "
    assert beside in verdict_section
    assert f'The row "{SAME_SCHEDULE}" is this repository\'s question, not a claim of the paper' in verdict_section
    assert "The table rests on 15 tests (both readings)." in verdict_section  # 13 and the question's two pairs


def test_without_runs_with_the_decay_the_verdict_has_no_such_row(tmp_path: Path) -> None:
    text = report_markdown(find_runs([write_paper_runs(tmp_path / "runs", FINALS)]))
    assert SAME_SCHEDULE not in text and "Beside it, not judged" not in text
    assert "The table rests on 13 tests (both readings)." in text


def test_the_decay_runs_belong_to_no_reading(tmp_path: Path) -> None:
    root = write_paper_runs(tmp_path / "runs", FINALS)
    write_paper_runs(root, {("adamomentum", 0.1): [100.0, 101.0, 99.0], ("adagrad", None): [130.0] * 3}, **DECAY)
    groups = settings(find_runs([root]))
    for reading in (AS_WRITTEN, AUTHORS, SENSITIVITY):
        found = reading_settings(groups, reading)
        assert found["adamomentum"].values["trainer.lr_decay"] is False
        assert found["adagrad"].values["trainer.lr_decay"] is False
    decayed = reading_settings(groups, AUTHORS, DECAY)
    assert decayed["adamomentum"].label == "G_0 = 0.1, Zaremba's decay"
    assert decayed["adagrad"].label == "G_0 = 0, Zaremba's decay"
    assert decayed["sgd"] is reading_settings(groups, AS_WRITTEN)["sgd"]


# Section 3: seeds 3-5 of AdaMomentum as written join seeds 0-2.

CHAOTIC = [120.0, 118.0, 125.0]  # seeds 3-5, above 1.1 x 106 = 116.6 as seeds 0-2 (420, 431, 415) are


def write_six_seeds(root: Path) -> Path:
    write_paper_runs(root, FINALS)
    write_paper_runs(root, {("adamomentum", None): CHAOTIC}, first_seed=3)
    for seed, peak in enumerate([15.3, 7.05, 9.5, 8.0, 12.0, 6.0]):
        (root / "adamomentum" / f"seed={seed}" / "g0=None" / "train.log").write_text(
            f"[t][adamomentum.trainer][INFO] - epoch 1 step 100/30199: loss {peak:.4f}, 3300 tokens/s\n"
        )
    return root


def test_six_seeds_all_above_the_papers_number_are_decided_by_the_sign_test(tmp_path: Path) -> None:
    rows = verdict_rows(report_markdown(find_runs([write_six_seeds(tmp_path / "runs")])))
    ours = rows["AdaMomentum ends within 10% of the paper's final test perplexity"]
    # The t-interval on log perplexity reaches below 116.6; every seed is above it (p = 0.031).
    assert ours[1] == f"225.9 [110.1, 463.5], n = 6, 0 of 6 within: {NOT_REPRODUCED} (sign test only)"
    assert ours[3] == f"**{NOT_REPRODUCED}**"
    # Paired with SGD and Momentum, AdaMomentum's seeds 3-5 have no partner: n stays 3.
    assert "AdaMomentum / Momentum 3.906 [" in rows["final test perplexity: AdaMomentum < Momentum < SGD < AdaGrad"][1]


def test_the_readmes_verdict_reads_six_seeds_and_shows_the_question_below_the_claims(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    ptb = write_six_seeds(root / "results" / "ptb-verdict")
    write_paper_runs(ptb, {("adamomentum", 0.1): [100.0, 101.0, 99.0]}, **DECAY)
    write_ner_runs(root / "results" / "ner-verdict", NER_CURVES)
    block = verdict_block(root)
    row = next(line for line in block.splitlines() if line.startswith("| Penn Treebank: AdaMomentum ends within 10%"))
    assert row.startswith(
        "| Penn Treebank: AdaMomentum ends within 10% of the paper's final test perplexity | 106 | "
        f"225.9 [110.1, 463.5]: {NOT_REPRODUCED} | 105.2 ["
    )
    assert row.endswith(f"| **{NOT_REPRODUCED}** | [results/ptb-verdict](results/ptb-verdict/results.md) |")
    assert "in Penn Treebank: 3 of 6 seeds;" in block  # peaks above ln 10,000 = 9.21: seeds 0, 2 and 4
    rows = [line for line in block.splitlines() if line.startswith("| Penn Treebank:")]
    assert rows[-1].startswith(f"| Penn Treebank: {SAME_SCHEDULE} (this repository's question) | - (not a claim")
    assert "; not a verdict on the paper) | [results/ptb-verdict]" in rows[-1]


# Section 4: "robust against different scales of data".

SHARES = {0.1: 2.0, 0.25: 1.6, 0.5: 1.3}  # each share's perplexities over the full data's


def write_shares(root: Path, ours: list[float], shares: dict[float, float] = SHARES) -> Path:
    """Seeds 0-1 of the five settings at each share; AdaMomentum as written ends at ``ours`` x the share's factor,
    with G_0 = 0.1 just below Momentum, the best baseline."""
    for fraction, k in shares.items():
        finals = {
            ("sgd", None): [115 * k, 116 * k],
            ("momentum", None): [108 * k, 109 * k],
            ("adagrad", None): [140 * k, 141 * k],
            ("adamomentum", None): [v * k for v in ours],
            ("adamomentum", 0.1): [104 * k, 105 * k],
        }
        write_paper_runs(root, finals, **{"data.train_fraction": fraction})
    return root


def test_robust_against_the_scale_of_data_ranks_and_pairs_with_the_best_baseline_at_each_share(tmp_path: Path) -> None:
    root = write_shares(write_paper_runs(tmp_path / "runs", FINALS), ours=[400.0, 300.0])
    text = report_markdown(find_runs([root]))
    part = section(text, "## The abstract's claim: robust against different scales of data (Penn Treebank)")
    written, authors = table_rows(part)['AdaMomentum is "robust against different scales of data"'][1:3]
    assert written == f"R's interval below 1 at 0 of 4 shares, above 1 at 1: {NOT_REPRODUCED} {T_ONLY_2}"
    assert authors == f"R's interval below 1 at 4 of 4 shares, above 1 at 0: {REPRODUCED} {T_ONLY_2}"
    assert f"| **{NOT_REPRODUCED}** |" in part
    assert [line for line in part.splitlines() if line.startswith("### ")] == [
        "### On 10% of the training text",
        "### On 25% of the training text",
        "### On 50% of the training text",
        "### On 100% of the training text",
    ]
    tenth = table_rows(section(part, "### On 10% of the training text"))
    # Valid perplexity 1.04 x test; Momentum (108 x 2, 109 x 2) is the best baseline.
    assert tenth["Momentum"] == ["2", "225.7", "2 of 5", "217.0", "best baseline", "-"]
    # (104 / 108 x 105 / 109)^(1/2) = 0.963, below 1 on both seeds; two seeds give the sign test p = 0.5 at best.
    assert tenth["AdaMomentum with G_0 = 0.1"] == [
        "2",
        "217.4",
        "1 of 5",
        "209.0",
        "0.963 [0.961, 0.965], 2 of 2 seeds",
        "0.5",
    ]
    assert tenth["AdaMomentum as written"][:3] == ["2", "720.5", "5 of 5"]
    full = table_rows(section(part, "### On 100% of the training text"))
    assert full["AdaMomentum as written"][4] == "3.906 [3.761, 4.056], 0 of 3 seeds"  # the verdict's runs
    # The verdict still reads the runs on all the training text.
    assert verdict_rows(text)["SGD ends within 10% of the paper's final test perplexity"][1].startswith("115.2 [")
    # The section's figure replaces the generic one of the data-scale study.
    assert "](data_scale_claim_ptb.png)" in part and "data_scale_ptb.png" not in text


def test_a_diverged_seed_counts_against_robustness_and_a_missing_full_share_leaves_it_undecided(tmp_path: Path) -> None:
    root = write_shares(tmp_path / "runs", ours=[103.0, 104.0], shares={0.1: 2.0, 0.25: 1.6})
    text = report_markdown(find_runs([root]))
    part = section(text, "## The abstract's claim: robust against different scales of data")
    written = table_rows(part)['AdaMomentum is "robust against different scales of data"'][1]
    # Below Momentum, the best baseline, at both shares; without runs on the other shares it is not reproduced.
    assert written == (
        "R's interval below 1 at 2 of 4 shares, above 1 at 0 (runs missing on 50% and 100% of the training text): "
        f"{UNDECIDED} (a sign test decides with 4 more seeds, n = 6)"
    )
    write_paper_runs(root / "more", {("adamomentum", None): [math.inf]}, first_seed=2, **{"data.train_fraction": 0.1})
    write_paper_runs(root / "more", {("momentum", None): [216.0]}, first_seed=2, **{"data.train_fraction": 0.1})
    part = section(report_markdown(find_runs([root])), "## The abstract's claim: robust against different scales")
    assert table_rows(part)['AdaMomentum is "robust against different scales of data"'][1].startswith(
        "R's interval below 1 at 1 of 4 shares, above 1 at 1 (runs missing on 50% and 100% of the training text): "
        f"{NOT_REPRODUCED}"
    )
    tenth = table_rows(section(part, "### On 10% of the training text"))
    assert tenth["AdaMomentum as written"][:4] == ["3 (1 diverged)", "inf", "5 of 5", "inf"]
    assert tenth["AdaMomentum as written"][4].endswith("2 of 2 seeds, 1 diverged")


def robustness(root: Path, column: int = 1) -> str:
    """The claim's cell for AdaMomentum as written (column 1) or with G_0 = 0.1 (column 2)."""
    part = section(report_markdown(find_runs([root])), "## The abstract's claim: robust against different scales")
    return table_rows(part)['AdaMomentum is "robust against different scales of data"'][column]


def test_robustness_is_judged_over_every_planned_share_never_over_those_that_have_landed(tmp_path: Path) -> None:
    """Two lanes fill the shares one by one: R below 1 on 10% and on all the text is not yet the claim."""
    root = write_shares(write_paper_runs(tmp_path / "runs", FINALS), ours=[103.0, 104.0], shares={0.1: 2.0})
    authors = robustness(root, column=2)
    assert authors.startswith(
        "R's interval below 1 at 2 of 4 shares, above 1 at 0 (runs missing on 25% and 50% of the training text)"
    )
    assert f": {UNDECIDED}" in authors


def test_a_share_is_judged_only_once_all_three_baselines_have_landed(tmp_path: Path) -> None:
    """Without Momentum's runs AdaMomentum (103, 104) beats SGD (115, 116), the best of those landed; Momentum
    (108, 109 at the share) is the best baseline, and the share waits for it."""
    root = write_shares(tmp_path / "runs", ours=[103.0, 104.0], shares={0.1: 2.0, 0.25: 1.6})
    for run in (root / "momentum").rglob("summary.json"):
        if "data.train_fraction=0.1" in str(run):
            run.unlink()
    assert robustness(root).startswith(
        "R's interval below 1 at 1 of 4 shares, above 1 at 0 (runs missing on 10%, 50% and 100% of the training text)"
    )


def rewrite_final(root: Path, optimizer: str, **final: float) -> None:
    """Set final evaluations of every run of ``optimizer`` under ``root`` (valid_ppl=..., test_ppl=...)."""
    for path in (root / optimizer).rglob("summary.json"):
        summary = json.loads(path.read_text())
        summary["final"].update(final)
        path.write_text(json.dumps(summary))


def test_the_best_baseline_is_chosen_on_valid_never_on_test(tmp_path: Path) -> None:
    root = write_shares(tmp_path / "runs", ours=[400.0, 300.0], shares={0.1: 2.0, 0.25: 1.6})
    # At every share SGD now has the lowest final test perplexity, and Momentum still the lowest valid.
    rewrite_final(root, "sgd", test_ppl=150.0)
    part = section(report_markdown(find_runs([root])), "### On 10% of the training text")
    assert table_rows(part)["Momentum"][4] == "best baseline"
    assert table_rows(part)["SGD"][4] == "-"


def test_a_run_that_completed_at_an_infinite_perplexity_counts_as_diverged(tmp_path: Path) -> None:
    """An evaluation whose loss overflows gives an infinite perplexity in a run that completed; dropping it from
    the pairs would leave AdaMomentum's other seed to decide."""
    root = write_shares(tmp_path / "runs", ours=[103.0, 104.0], shares={0.1: 2.0, 0.25: 1.6})
    for path in (root / "adamomentum").rglob("summary.json"):
        summary = json.loads(path.read_text())
        if summary["seed"] == 1 and "g0=None" in str(path) and "data.train_fraction=0.1" in str(path):
            summary["final"].update(valid_ppl=math.inf, test_ppl=math.inf)
            path.write_text(json.dumps(summary))
    assert robustness(root).startswith("R's interval below 1 at 1 of 4 shares, above 1 at 1 ")
    assert f": {NOT_REPRODUCED}" in robustness(root)


def planned(experiment: str, key: str) -> set[float]:
    """The values of ``key`` in the run list of conf/experiment/<experiment>.yaml."""
    runs = OmegaConf.load(CONFIG_DIR / "experiment" / f"{experiment}.yaml").hydra.sweeper.runs
    return {float(part.split("=", 1)[1]) for run in runs for part in run.split() if part.startswith(f"{key}=")}


def test_the_claims_are_judged_over_the_values_the_campaign_runs() -> None:
    """The shares and lr factors the report waits for are those the experiment configs train (x 1 and all the
    text: runs of other configs), so that the claims are decided once the queue is done, and never before."""
    assert planned("ptb_data_scale_claim", FRACTION) | {1.0} == set(FRACTIONS)
    assert planned("ptb_lr_tuning", LR_FACTOR) | {1.0} == set(LR_FACTORS)
    assert planned("ptb_lr_tuning", FRACTION) == {LR_TUNING_FRACTION}
    assert LR_TUNING_FRACTION in FRACTIONS


def test_one_share_of_the_data_has_no_section(tmp_path: Path) -> None:
    root = write_shares(tmp_path / "runs", ours=[400.0, 300.0], shares={0.25: 1.6})
    assert "robust against different scales" not in report_markdown(find_runs([root]))


def test_the_data_scale_figure_draws_each_setting_against_the_share_on_log_axes(tmp_path: Path) -> None:
    root = write_shares(write_paper_runs(tmp_path / "runs", FINALS), ours=[400.0, 300.0])
    runs = find_runs([root])
    select_best_valid(runs, PTB.selection)
    fig = plan(runs)[1]["data_scale_claim_ptb.png"]()
    try:
        [ax] = fig.axes
        assert (ax.get_xscale(), ax.get_yscale()) == ("log", "log")
        assert [t.get_text() for t in ax.get_legend().get_texts()] == [
            "SGD",
            "Momentum",
            "AdaGrad as written",
            "AdaMomentum as written",
            "AdaMomentum with G_0 = 0.1",
        ]
        assert [list(line.get_xdata()) for line in ax.get_lines()] == [[0.1, 0.25, 0.5, 1.0]] * 5
        momentum = ax.get_lines()[1]
        assert momentum.get_ydata()[-1] == pytest.approx(108.0, abs=0.05)  # geometric mean of 108, 108.5, 107.6
        assert len([c for c in ax.collections if isinstance(c, FillBetweenPolyCollection)]) == 5  # seed bands
        assert [t.get_text() for t in ax.get_xticklabels()] == ["10%", "25%", "50%", "100%"]
    finally:
        plt.close(fig)


def test_a_setting_without_runs_at_a_share_has_a_gap_there_not_a_line_across_it(tmp_path: Path) -> None:
    root = write_shares(write_paper_runs(tmp_path / "runs", FINALS), ours=[400.0, 300.0])
    for run in (root / "adagrad").glob("seed=*/*data.train_fraction=0.5"):
        shutil.rmtree(run)  # AdaGrad's runs on 50% of the text have not landed
    runs = find_runs([root])
    select_best_valid(runs, PTB.selection)
    fig = plan(runs)[1]["data_scale_claim_ptb.png"]()
    try:
        [ax] = fig.axes
        sgd, adagrad = ax.get_lines()[0], ax.get_lines()[2]
        assert list(adagrad.get_xdata()) == [0.1, 0.25, 0.5, 1.0]
        assert [math.isnan(y) for y in adagrad.get_ydata()] == [False, False, True, False]
        assert not any(math.isnan(y) for y in sgd.get_ydata())
    finally:
        plt.close(fig)


# Section 5: "requires minimal tuning effort".

FACTORS = (0.25, 0.5, 2.0, 4.0)


def write_lr_grid(root: Path, diverged: bool = True, skip: tuple[str, float] | None = None) -> Path:
    """Seed 0 at each lr factor on 25% of the text, around the x1 runs of the data-scale study (seeds 0-1):
    each setting's valid perplexity rises with the distance of log2 of the factor from 0, AdaMomentum with
    G_0 = 0.1's least; AdaMomentum as written diverges at lr x 4."""
    write_shares(root, ours=[400.0, 300.0], shares={0.25: 1.6})
    rise = {"sgd": 0.1, "momentum": 0.1, "adagrad": 0.2, "adamomentum": 0.5}
    for factor in FACTORS:
        d = abs(math.log2(factor))
        finals = {
            (o, None): [x1 * (1 + rise[o] * d)]
            for o, x1 in (("sgd", 184.0), ("momentum", 172.8), ("adagrad", 224.0), ("adamomentum", 640.0))
        }
        finals[("adamomentum", 0.1)] = [166.4 * (1 + 0.02 * d)]
        if diverged and factor == 4.0:
            finals[("adamomentum", None)] = [math.inf]
        if skip and skip[1] == factor:
            del finals[(skip[0], None)]
        write_paper_runs(root, finals, **{"data.train_fraction": 0.25, "study.lr_factor": factor})
    return root


def test_minimal_tuning_effort_is_the_spread_over_the_lr_values_and_the_count_near_the_best(tmp_path: Path) -> None:
    text = report_markdown(find_runs([write_lr_grid(tmp_path / "runs")]))
    part = section(text, "## The abstract's claim: minimal tuning effort (Penn Treebank)")
    assert "on 25% of the training text" in part.split("\n\n")[1]  # the note says where it was measured
    claim = 'AdaMomentum "requires minimal tuning effort", on 25% of the training text'
    written, authors, verdict = table_rows(part)[claim][1:]
    baselines = "the baselines' smallest spread 1.20, largest count 1"
    assert written == f"spread inf, 1 of 5 within 5% of its best; {baselines}: {NOT_REPRODUCED}"
    assert authors == f"spread 1.04, 5 of 5 within 5% of its best; {baselines}: {REPRODUCED}"
    assert verdict == f"**{NOT_REPRODUCED}**"
    grid = section(part, "### On 25% of the training text, seed 0")
    columns = "| Table 1 lr | lr x 0.25 | lr x 0.5 | lr x 1 | lr x 2 | lr x 4 | spread (largest / smallest) |"
    assert f"| setting {columns}" in grid
    rows = table_rows(grid)
    # x1 is seed 0 of the data-scale runs (115 x 1.6 x 1.04 = 191.4), not the mean with seed 1.
    assert rows["SGD"] == ["1", "229.6", "210.5", "191.4", "210.5", "229.6", "1.20", "1 of 5"]
    assert rows["AdaMomentum as written"][1:] == ["1331.2", "998.4", "665.6", "998.4", "diverged", "inf", "1 of 5"]
    assert rows["AdaMomentum with G_0 = 0.1"][0] == "0.02"
    # The lr sweep's generic figure gives way to the section's.
    assert "](lr_tuning_ptb.png)" in part and "lr_sensitivity_ptb.png" not in text


def write_window(root: Path, optimizer: str, factor: float, loss: float, g0: str = "None") -> None:
    """A train.log for seed 0 of ``optimizer`` at ``factor`` whose first 100-batch window has ``loss``."""
    [run] = root.glob(f"{optimizer}/seed=0/g0={g0},*study.lr_factor={factor}")
    (run / "train.log").write_text(
        f"[t][adamomentum.trainer][INFO] - epoch 1 step 100/7540: loss {loss:.4f}, 3300 tokens/s\n"
    )


def tuning_legend(root: Path) -> list[str]:
    runs = find_runs([root])
    select_best_valid(runs, PTB.selection)
    fig = plan(runs)[1]["lr_tuning_ptb.png"]()
    try:
        return [line.get_label() for line in fig.axes[0].get_lines()]
    finally:
        plt.close(fig)


def test_a_run_that_blew_up_early_and_finished_counts_at_its_value_and_is_marked(tmp_path: Path) -> None:
    """The blow-up rule (a window's loss above ln |V| early on) is not the measure's divergence: SGD and Momentum
    at lr x 4 blew up and recovered, and count at their final values, marked so that the grid and the blow-up
    table agree. Counted as infinite, they would leave AdaGrad's spread, 1.40, the baselines' smallest."""
    root = write_lr_grid(tmp_path / "runs", diverged=False)
    write_window(root, "sgd", 4.0, 10.44)
    write_window(root, "momentum", 4.0, 25.49)
    part = section(report_markdown(find_runs([root])), "## The abstract's claim: minimal tuning effort")
    grid = table_rows(section(part, "### On 25% of the training text, seed 0"))
    assert grid["SGD"][1:] == ["229.6", "210.5", "191.4", "210.5", "229.6 (blew up early)", "1.20", "1 of 5"]
    assert grid["Momentum"][5:7] == ["215.7 (blew up early)", "1.20"]
    assert "Blew up early: the run's training loss over a log window rose above ln 10,000 = 9.21" in part
    claim = table_rows(part)['AdaMomentum "requires minimal tuning effort", on 25% of the training text']
    assert "the baselines' smallest spread 1.20" in claim[1]
    assert tuning_legend(root)[:2] == ["SGD (blew up early at lr x 4)", "Momentum (blew up early at lr x 4)"]


def test_a_run_that_blew_up_early_and_then_diverged_reads_diverged_unmarked(tmp_path: Path) -> None:
    root = write_lr_grid(tmp_path / "runs")
    write_window(root, "adamomentum", 4.0, 10.08)
    part = section(report_markdown(find_runs([root])), "## The abstract's claim: minimal tuning effort")
    assert table_rows(section(part, "### On 25% of the training text"))["AdaMomentum as written"][5] == "diverged"
    assert "blew up early" not in part.lower()
    assert tuning_legend(root)[3] == "AdaMomentum as written (diverged at lr x 4)"


def test_a_run_whose_early_loss_stays_below_a_uniform_guess_is_not_marked(tmp_path: Path) -> None:
    root = write_lr_grid(tmp_path / "runs")
    write_window(root, "sgd", 4.0, 9.0)
    part = section(report_markdown(find_runs([root])), "## The abstract's claim: minimal tuning")
    assert table_rows(section(part, "### On 25% of the training text"))["SGD"][5] == "229.6"
    assert "blew up early" not in part.lower() and tuning_legend(root)[0] == "SGD"


def test_a_tie_counts_for_adamomentum_and_a_missing_run_leaves_the_claim_undecided(tmp_path: Path) -> None:
    text = report_markdown(find_runs([write_lr_grid(tmp_path / "runs", diverged=False, skip=("sgd", 4.0))]))
    row = table_rows(section(text, "## The abstract's claim: minimal tuning effort"))
    written = row['AdaMomentum "requires minimal tuning effort", on 25% of the training text'][1]
    assert written.endswith(f"(1 of 20 runs missing): {UNDECIDED}")
    assert table_rows(section(text, "### On 25% of the training text, seed 0"))["SGD"][5] == "-"


def test_tuning_is_judged_over_every_planned_lr_factor_never_over_those_that_have_landed(tmp_path: Path) -> None:
    """With only x 0.25 beside x 1, AdaMomentum with G_0 = 0.1 leads on both: not yet the claim."""
    root = write_lr_grid(tmp_path / "runs")
    for run in root.rglob("summary.json"):
        if any(f"study.lr_factor={k}" in str(run) for k in (0.5, 2.0, 4.0)):
            run.unlink()
    row = table_rows(section(report_markdown(find_runs([root])), "## The abstract's claim: minimal tuning effort"))
    authors = row['AdaMomentum "requires minimal tuning effort", on 25% of the training text'][2]
    assert authors.endswith(f"(12 of 20 runs missing): {UNDECIDED}")


def test_an_lr_factor_outside_the_plan_takes_no_part_and_cannot_stand_in_for_a_missing_one(tmp_path: Path) -> None:
    root = write_lr_grid(tmp_path / "runs", diverged=False)
    for run in root.rglob("summary.json"):
        if "study.lr_factor=4.0" in str(run):
            run.unlink()
    finals = {(o, None): [300.0] for o in ("sgd", "momentum", "adagrad", "adamomentum")}
    write_paper_runs(
        root / "x8", {**finals, ("adamomentum", 0.1): [300.0]}, **{"data.train_fraction": 0.25, "study.lr_factor": 8.0}
    )
    text = report_markdown(find_runs([root]))
    row = table_rows(section(text, "## The abstract's claim: minimal tuning effort"))
    authors = row['AdaMomentum "requires minimal tuning effort", on 25% of the training text'][2]
    assert authors.endswith(f"(4 of 20 runs missing): {UNDECIDED}")
    assert "lr x 8" not in section(text, "### On 25% of the training text, seed 0")


def test_no_tuning_section_without_several_lr_factors(tmp_path: Path) -> None:
    root = write_shares(tmp_path / "runs", ours=[400.0, 300.0], shares={0.25: 1.6, 0.5: 1.3})
    assert "minimal tuning effort" not in report_markdown(find_runs([root]))


def test_the_tuning_figure_draws_each_setting_against_the_lr_factor(tmp_path: Path) -> None:
    runs = find_runs([write_lr_grid(tmp_path / "runs")])
    select_best_valid(runs, PTB.selection)
    fig = plan(runs)[1]["lr_tuning_ptb.png"]()
    try:
        [ax] = fig.axes
        assert ax.get_xscale() == "log"
        assert [t.get_text() for t in ax.get_legend().get_texts()] == [
            "SGD",
            "Momentum",
            "AdaGrad as written",
            "AdaMomentum as written (diverged at lr x 4)",
            "AdaMomentum with G_0 = 0.1",
        ]
        diverged_line = ax.get_lines()[3]
        assert list(diverged_line.get_xdata()) == [0.25, 0.5, 1.0, 2.0, 4.0]
        assert [math.isnan(y) for y in diverged_line.get_ydata()] == [False] * 4 + [True]  # no point where it diverged
        assert ax.get_lines()[0].get_ydata()[2] == pytest.approx(115 * 1.6 * 1.04)
        assert "on 25% of the training text" in ax.get_title()
    finally:
        plt.close(fig)


# Adam, a reference.

ADAM = {"optimizer.lr": 0.001, "trainer.lr_decay": True}


def test_adam_is_shown_beside_every_table_and_never_in_a_reading(tmp_path: Path) -> None:
    root = write_paper_runs(tmp_path / "runs", FINALS)
    write_paper_runs(root, {("adam", None): [112.0, 113.0, 111.0]}, **ADAM)
    runs = find_runs([root])
    text = report_markdown(runs)
    seeds = section(text, "## Over seeds: Penn Treebank")
    # Named by what it is, not "Table 1", with no paper number beside it.
    assert "| Adam | lr = 0.001, Zaremba's decay | 3 | 0 | 112.0 [" in seeds and seeds.count("| Adam |") == 1
    assert seeds.split("| Adam | lr = 0.001, Zaremba's decay |", 1)[1].splitlines()[0].endswith("| - | - |")
    paired = "| AdaMomentum, G_0 = 0.1 | Adam, lr = 0.001, Zaremba's decay | test perplexity, final | 3 | 0.939 ["
    assert paired in seeds
    groups = settings(runs)
    for reading in (AS_WRITTEN, AUTHORS, SENSITIVITY):
        for at in (None, DECAY, {"optimizer.lr": 0.001, "trainer.lr_decay": True}):
            assert "adam" not in reading_settings(groups, reading, at)
    assert "Adam" not in section(text, "## Verdict: Penn Treebank").split("| claim | paper |", 1)[1]
    fig = grouped_curves_figure(groups, PTB)
    try:
        assert "Adam, lr = 0.001, Zaremba's decay (3 seeds)" in legend_texts(fig)
        [adam] = [line for ax in fig.axes for line in ax.get_lines() if line.get_label().startswith("Adam,")][:1]
        colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
        assert adam.get_color() == optimizer_colour("adam", ["sgd", "adam"]) == colours[4]
    finally:
        plt.close(fig)


def test_adam_is_paired_only_with_runs_on_the_same_share_at_the_same_lr_factor(tmp_path: Path) -> None:
    root = write_paper_runs(tmp_path / "runs", FINALS)
    write_paper_runs(root, FINALS, **{"data.train_fraction": 0.25})
    write_paper_runs(root, {("adamomentum", 0.1): [200.0, 201.0]}, **{"study.lr_factor": 2.0})
    write_paper_runs(root, {("adam", None): [112.0, 113.0, 111.0]}, **ADAM)
    against_adam = [
        line.split(" | ")[0]
        for line in section(report_markdown(find_runs([root])), "## Over seeds: Penn Treebank").splitlines()
        if " | Adam, lr = 0.001, Zaremba's decay | test perplexity, final |" in line
    ]
    # Adam has one setting, so it meets every AdaMomentum setting trained as it was, and no other.
    assert against_adam == [
        "| AdaMomentum, G_0 = 0, lr x 1, 100% of the training set",
        "| AdaMomentum, G_0 = 0.1, lr x 1, 100% of the training set",
    ]


# Section 1: bf16 against float32.

BF16 = {"precision": "bf16"}


def write_bf16(root: Path, sgd: float = 116.5, adamomentum: float = 105.5) -> Path:
    """Seed 0 of the four settings of section 1 with bf16, beside the float32 seeds 0-2 of ``FINALS`` (which
    record their precision, as every run does)."""
    write_paper_runs(root, FINALS, precision="fp32")
    finals = {("sgd", None): [sgd], ("momentum", None): [108.2], ("adagrad", None): [140.5]}
    write_paper_runs(root / "bf16", {**finals, ("adamomentum", 0.1): [adamomentum]}, **BF16)
    return root


def text_of(root: Path) -> str:
    return report_markdown(find_runs([root]))


def bf16_rows(root: Path) -> tuple[str, dict[str, list[str]]]:
    part = section(text_of(root), "## bf16 against float32 (Penn Treebank)")
    return part, table_rows(part)


def test_bf16_is_equivalent_within_the_float32_seeds_range_widened_by_one_percent(tmp_path: Path) -> None:
    part, rows = bf16_rows(write_bf16(tmp_path / "runs"))
    assert "4 of 4 bf16 runs are equivalent to float32." in part
    # SGD's float32 seeds end at 115, 116 and 114.5: [114.5 x 0.99, 116 x 1.01]. Valid falls at every
    # evaluation, so the best validation step is the last and the test perplexity there the final one.
    assert rows["SGD"] == [
        "0",
        "116.5",
        "[113.4, 117.2]: in",
        "116.5",
        "[113.4, 117.2]: in",
        "**equivalent**",
    ]
    assert list(rows) == [
        "SGD",
        "Momentum",
        "AdaGrad, G_0 = 0",
        "AdaMomentum, G_0 = 0.1",
    ]
    # The runs table names bf16 and leaves the float32 runs' labels as they were.
    text = text_of(tmp_path / "runs")
    assert "| SGD | bf16 autocast | 0 | completed | 116.5 |" in text
    assert "| SGD | Table 1 | 0 | completed | 115.0 |" in text


def test_bf16_outside_the_range_or_diverged_is_not_equivalent(tmp_path: Path) -> None:
    part, rows = bf16_rows(write_bf16(tmp_path / "runs", sgd=117.5, adamomentum=math.inf))
    assert "2 of 4 bf16 runs are equivalent to float32." in part
    assert rows["SGD"][2] == "[113.4, 117.2]: out" and rows["SGD"][-1] == "**not equivalent**"
    assert rows["AdaMomentum, G_0 = 0.1"] == ["0", "-", "-", "-", "-", "**not equivalent**"]


def test_bf16_runs_belong_to_no_reading_and_waiting_float32_seeds_leave_it_pending(tmp_path: Path) -> None:
    root = write_bf16(tmp_path / "runs")
    text = report_markdown(find_runs([root]))
    assert verdict_rows(text)["SGD ends within 10% of the paper's final test perplexity"][1].startswith("115.2 [")
    for summary in (root / "sgd" / "seed=2").rglob("summary.json"):
        summary.unlink()
    part, rows = bf16_rows(root)
    assert rows["SGD"][-1] == "**pending**"
    assert "3 of 4 bf16 runs are equivalent to float32, 1 pending." in part


def test_bf16_is_held_against_each_of_seeds_0_to_2_never_a_diverged_or_repeated_one(tmp_path: Path) -> None:
    """A float32 seed that diverged would widen the range to infinity; three runs of seed 0 are not seeds 0-2."""
    root = write_bf16(tmp_path / "runs")
    write_paper_runs(root / "diverged", {("momentum", None): [math.inf]}, first_seed=1, precision="fp32")
    for summary in (root / "momentum" / "seed=1").rglob("summary.json"):
        summary.unlink()
    for seed in (1, 2):
        for summary in (root / "adagrad" / f"seed={seed}").rglob("summary.json"):
            if "g0=None" in str(summary):
                summary.unlink()
    write_paper_runs(root / "again", {("adagrad", None): [140.0]}, precision="fp32")
    write_paper_runs(root / "again2", {("adagrad", None): [140.0]}, precision="fp32")
    part, rows = bf16_rows(root)
    assert rows["Momentum"] == ["0", "-", "-", "-", "-", "**without a reference**"]
    assert rows["AdaGrad, G_0 = 0"][-1] == "**pending**"
    assert "2 of 4 bf16 runs are equivalent to float32, 1 pending, 1 without a reference." in part


def test_no_bf16_section_without_bf16_runs(tmp_path: Path) -> None:
    assert "bf16 against float32" not in report_markdown(find_runs([write_paper_runs(tmp_path / "runs", FINALS)]))


@pytest.mark.parametrize("figure", ["figure1_ptb.png", "verdict_ptb.png"])
def test_the_figures_draw_the_papers_scale_in_float32_and_leave_the_campaigns_other_runs_to_their_sections(
    tmp_path: Path, figure: str
) -> None:
    """Figure 1 and the verdict's figure draw the runs in the paper's setting and are titled as the paper's
    figure redrawn; their legends name what varies among those runs only, not the share or lr the others vary."""
    root = write_shares(write_bf16(tmp_path / "runs"), ours=[400.0, 300.0], shares={0.1: 2.0, 0.25: 1.6})
    runs = find_runs([root])
    lines, figures = plan(runs)
    assert "Figure 1 draws the settings at the paper's scale, at Table 1's lr and in float32;" in "\n".join(lines)
    select_best_valid(runs, PTB.selection)
    fig = figures[figure]()
    try:
        legend = legend_texts(fig) + [
            t.get_text() for ax in fig.axes if ax.get_legend() for t in ax.get_legend().get_texts()
        ]
        assert any(text.startswith("SGD (") for text in legend), legend
        assert not any(word in text for text in legend for word in ("% of", "lr x", "bf16")), legend
        assert "(Figure 1 of the paper, redrawn)" in fig.get_suptitle()
    finally:
        plt.close(fig)


def test_the_readmes_verdict_gains_the_abstracts_claims_where_the_verdict_folder_has_their_runs(
    tmp_path: Path,
) -> None:
    root = tmp_path / "repo"
    ptb = write_paper_runs(root / "results" / "ptb-verdict", FINALS)
    write_ner_runs(root / "results" / "ner-verdict", NER_CURVES)
    assert "scales of data" not in verdict_block(root)
    write_lr_grid(ptb / "tuning")
    write_shares(ptb / "shares", ours=[400.0, 300.0], shares={0.1: 2.0, 0.5: 1.3})
    rows = {
        line.split(" | ")[0]: line.split(" | ")[1:]
        for line in verdict_block(root).splitlines()
        if line.startswith("| Penn Treebank:")
    }
    robust = rows['| Penn Treebank: AdaMomentum is "robust against different scales of data"']
    assert robust[1].startswith("R's interval below 1 at 0 of 4 shares, above 1 at 1") and robust[1].endswith(
        NOT_REPRODUCED + " (t-interval only: no sign test decides at n = 2)"
    )
    assert robust[3] == f"**{NOT_REPRODUCED}**"
    tuning = rows['| Penn Treebank: AdaMomentum "requires minimal tuning effort", on 25% of the training text']
    assert tuning[1].endswith(f": {NOT_REPRODUCED}") and tuning[2].endswith(f": {REPRODUCED}")
    assert tuning[4] == "[results/ptb-verdict](results/ptb-verdict/results.md) |"


def test_the_readmes_verdict_shows_adam_as_a_reference_never_judged(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    ptb = write_paper_runs(root / "results" / "ptb-verdict", FINALS)
    write_ner_runs(root / "results" / "ner-verdict", NER_CURVES)
    assert "Adam," not in verdict_block(root)
    # Adam on a share of the text is not the reference, nor a part of its row.
    write_paper_runs(ptb / "tenth", {("adam", None): [300.0, 301.0]}, **ADAM, **{"data.train_fraction": 0.1})
    assert "Adam," not in verdict_block(root)
    write_paper_runs(ptb, {("adam", None): [112.0, 113.0, 111.0]}, **ADAM)
    [row] = [line for line in verdict_block(root).splitlines() if line.startswith("| Penn Treebank: Adam,")]
    assert row.startswith(
        "| Penn Treebank: Adam, a modern reference (not in the paper): final test perplexity | - (not in the paper) "
        "| 112.0 ["
    )
    assert row.endswith(
        "], n = 3 | the same runs | shown, not judged | [results/ptb-verdict](results/ptb-verdict/results.md) |"
    )
