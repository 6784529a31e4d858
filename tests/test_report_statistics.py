"""Statistics over seeds: geometric means and intervals on log perplexity, paired ratios and differences,
wins and the exact sign test. Expected values come from scipy's own interval and the binomial formula."""

from __future__ import annotations

import json
import math
import statistics
from pathlib import Path

import pytest
import scipy.stats

from adamomentum.report.measures import TASKS
from adamomentum.report.runs import find_runs
from adamomentum.report.statistics import best_evaluation, mean_ci, paired, select_best_valid, sign_test, spread
from report_runs import ptb_metrics, write_run


def t_interval(values: list[float]) -> tuple[float, float]:
    n = len(values)
    return scipy.stats.t.interval(0.95, n - 1, loc=statistics.fmean(values), scale=statistics.stdev(values) / n**0.5)


def test_perplexity_spread_is_geometric_with_its_interval_on_log_perplexity() -> None:
    values = [110.0, 480.0, 95_000.0]  # one seed blown up, as in the small seed study
    result = spread(values, log=True)
    logs = [math.log(v) for v in values]
    low, high = t_interval(logs)
    assert result.n == 3
    assert result.centre == pytest.approx(math.exp(statistics.fmean(logs)))
    assert (result.low, result.high) == pytest.approx((math.exp(low), math.exp(high)))
    assert (result.minimum, result.maximum) == (110.0, 95_000.0)
    # On raw perplexity the same three seeds give an interval reaching below zero.
    assert mean_ci(values)[3] < 0 < result.low


def test_f1_spread_stays_linear() -> None:
    values = [0.8045, 0.8135, 0.8201]
    result = spread(values, log=False)
    assert result.centre == pytest.approx(statistics.fmean(values))
    assert (result.low, result.high) == pytest.approx(t_interval(values))


def test_one_seed_has_no_interval_and_non_finite_values_are_refused() -> None:
    one = spread([120.5], log=True)
    assert one.centre == pytest.approx(120.5) and math.isnan(one.low) and math.isnan(one.high)
    with pytest.raises(ValueError, match="finite positive"):
        spread([120.5, math.inf], log=True)
    with pytest.raises(ValueError, match="finite"):
        spread([0.8, math.nan], log=False)


def test_sign_test_is_the_exact_two_sided_binomial() -> None:
    for wins, losses in [(5, 0), (0, 5), (4, 1), (3, 3), (9, 2)]:
        n = wins + losses
        tail = sum(math.comb(n, k) for k in range(min(wins, losses) + 1)) / 2**n
        assert sign_test(wins, losses) == pytest.approx(min(1.0, 2 * tail))
    assert sign_test(0, 0) == 1.0


def test_paired_perplexity_is_a_ratio_paired_by_seed() -> None:
    ours = {0: 85_000.0, 1: 3_000.0, 2: 1_200.0, 3: 5_500.0, 4: 60_000.0, 9: 100.0}
    theirs = {0: 600.0, 1: 580.0, 2: 610.0, 3: 590.0, 4: 700.0, 5: 100.0}
    result = paired(ours, theirs, log=True, lower_is_better=True)
    assert result.seeds == (0, 1, 2, 3, 4)  # seeds 5 and 9 have no partner
    logs = [math.log(ours[s] / theirs[s]) for s in result.seeds]
    low, high = t_interval(logs)
    assert result.centre == pytest.approx(math.exp(statistics.fmean(logs)))
    assert (result.low, result.high) == pytest.approx((math.exp(low), math.exp(high)))
    assert (result.wins, result.losses, result.ties) == (0, 5, 0)
    assert result.p_value == pytest.approx(2 / 2**5)
    assert result.null == 1.0 and result.decided == "theirs"


def test_paired_f1_is_a_difference_and_higher_is_better() -> None:
    ours = {0: 0.80, 1: 0.83, 2: 0.82}
    theirs = {0: 0.82, 1: 0.82, 2: 0.82}
    result = paired(ours, theirs, log=False, lower_is_better=False)
    differences = [ours[s] - theirs[s] for s in (0, 1, 2)]
    assert result.centre == pytest.approx(statistics.fmean(differences))
    assert (result.low, result.high) == pytest.approx(t_interval(differences))
    assert (result.wins, result.losses, result.ties) == (1, 1, 1)
    assert result.p_value == 1.0 and result.null == 0.0 and result.decided is None


def test_a_diverged_seed_is_left_out_of_the_pairs_and_one_pair_decides_nothing() -> None:
    result = paired({0: 100.0, 1: math.inf}, {0: 120.0, 1: 110.0}, log=True, lower_is_better=True)
    assert result.seeds == (0,) and result.wins == 1 and result.decided is None
    assert result.centre == pytest.approx(100.0 / 120.0) and math.isnan(result.low)


def test_the_best_evaluation_is_chosen_on_valid_among_the_steps_given_the_first_on_a_tie(tmp_path: Path) -> None:
    """The whole evaluation comes back: what is read at the best validation step is read from that row, and a
    row without a validation score (none is written today) is no candidate."""
    metrics = ptb_metrics([120.0, 110.0, 110.0, 105.0], [118.0, 108.0, 107.0, 103.0])
    directory = write_run(tmp_path / "run", "ptb", "sgd", metrics)
    metrics.insert(0, {"step": 50, "epoch": 0, "test_ppl": 1.0})
    del metrics[2]["test_ppl"]
    (directory / "metrics.jsonl").write_text("".join(json.dumps(m) + "\n" for m in metrics))
    (run,) = find_runs([tmp_path])
    selection = TASKS["ptb"].selection
    assert best_evaluation(run, {50, 100, 200, 300}, selection) == metrics[2]
    assert best_evaluation(run, {300}, selection)["test_ppl"] == 107.0
    assert best_evaluation(run, {50}, selection) is None
    assert best_evaluation(run, set(), selection) is None
    select_best_valid([run], selection)
    assert run.best_valid == metrics[4]
