"""results.md's tables: per-run numbers beside the paper's, never selected on test; statistics over seeds on
log perplexity; AdaMomentum against each baseline paired by seed."""

from __future__ import annotations

import math
import statistics
from pathlib import Path

import pytest
import scipy.stats

from adamomentum.report import find_runs
from adamomentum.report.measures import TASKS
from adamomentum.report.tables import START
from adamomentum.report.write import report_markdown
from report_runs import ner_metrics, ptb_metrics, runs_root, seeded_runs, write_run


def section(text: str, heading: str) -> str:
    return text.split(f"## {heading}", 1)[1].split("\n## ", 1)[0]


def table(text: str, heading: str, first: int = 0) -> list[list[str]]:
    """The rows (cells) of the ``first``-th table in the section ``heading``, header first."""
    tables, current = [], []
    for line in section(text, heading).splitlines() + [""]:
        if line.startswith("|"):
            current.append([c.strip() for c in line.strip().strip("|").split("|")])
        elif current:
            tables.append([r for r in current if not set("".join(r)) <= set("-")])
            current = []
    return tables[first]


def rows_of(rows: list[list[str]], optimizer: str) -> list[dict[str, str]]:
    return [dict(zip(rows[0], r)) for r in rows[1:] if r[0] == optimizer]


def test_ptb_table_leads_with_final_and_best_valid_numbers_beside_the_papers(tmp_path: Path) -> None:
    text = report_markdown(find_runs([runs_root(tmp_path)]))
    rows = table(text, "Penn Treebank (Table 1)")
    assert [r[0] for r in rows[1:]] == ["SGD", "Momentum", "AdaGrad", "AdaMomentum"]  # Table 1's order
    [sgd] = rows_of(rows, "SGD")
    assert sgd == {
        "optimizer": "SGD",
        "setting": "Table 1",
        "seed": "0",
        "status": "completed",
        "test ppl, final (batch 20)": "126.5",
        "test ppl, final (one stream)": "121.3",
        "best valid ppl (at)": "130.3 (step 200)",
        "test ppl at best valid": "126.5",
        "paper": "115",
        "final vs paper": "+10.0%",
        "steps": "200",
    }
    [ours] = rows_of(rows, "AdaMomentum")
    # Best valid (108.5) was not the final evaluation: its test ppl is 103.2, the final one 104.2.
    assert (ours["test ppl, final (batch 20)"], ours["best valid ppl (at)"], ours["test ppl at best valid"]) == (
        "104.2",
        "108.5 (step 200)",
        "103.2",
    )
    assert [r["paper"] for r in (rows_of(rows, o)[0] for o in ("Momentum", "AdaGrad", "AdaMomentum"))] == [
        "108",
        "140",
        "106",
    ]
    # The diverged run is listed with its status, not dropped, and not compared with the paper.
    [adagrad] = rows_of(rows, "AdaGrad")
    assert (adagrad["status"], adagrad["test ppl, final (batch 20)"], adagrad["final vs paper"]) == (
        "diverged",
        "inf",
        "-",
    )
    assert adagrad["best valid ppl (at)"] == "150.5 (step 100)"


def test_ner_table_never_selects_an_epoch_by_its_test_score(tmp_path: Path) -> None:
    text = report_markdown(find_runs([runs_root(tmp_path)]))
    rows = table(text, "Chinese NER (Figure 2)")
    assert not any("best test" in header for header in rows[0])
    [sgd] = rows_of(rows, "SGD")
    # Valid peaks at epoch 2 (0.45) where test is 0.40; test peaks at the last epoch, shown only as the final.
    assert (sgd["test token F1, final"], sgd["best valid token F1 (at)"], sgd["test token F1 at best valid"]) == (
        "0.4268",
        "0.4500 (epoch 2)",
        "0.4000",
    )
    assert (sgd["test entity F1, final"], sgd["test entity F1 at best valid"], sgd["paper"]) == (
        "0.3333",
        "0.3000",
        "-",
    )
    [ours] = rows_of(rows, "AdaMomentum")
    assert (ours["test token F1 at best valid"], ours["paper"]) == ("0.7432", "0.75+")


def test_the_stream_column_holds_only_zarembas_batch_1_score(tmp_path: Path) -> None:
    write_run(
        tmp_path / "a",
        "ptb",
        "sgd",
        ptb_metrics([140.0], [135.0]),
        test_ppl_stream=133.0,
        test_ppl_stream_batch_size=20,
    )
    [sgd] = rows_of(table(report_markdown(find_runs([tmp_path])), "Penn Treebank (Table 1)"), "SGD")
    assert sgd["test ppl, final (one stream)"] == "-"


def test_ner_on_another_corpus_is_not_compared_with_the_paper(tmp_path: Path) -> None:
    """The MSRA stand-in (column files) is not OntoNotes: no 0.75+ beside it; OntoNotes runs are compared."""
    metrics = ner_metrics([0.80], [0.8125], [0.79])
    write_run(
        tmp_path / "msra",
        "ner",
        "adamomentum",
        metrics,
        config={"task": {"name": "ner", "loss_reduction": "sum_over_time"}, "data": {"source": "columns"}},
    )
    write_run(
        tmp_path / "onto",
        "ner",
        "adamomentum",
        metrics,
        seed=1,
        config={"task": {"name": "ner", "loss_reduction": "sum_over_time"}, "data": {"source": "hub"}},
    )
    text = report_markdown(find_runs([tmp_path]))
    assert "another corpus than OntoNotes are not comparable with the paper" in text
    rows = rows_of(table(text, "Chinese NER (Figure 2)"), "AdaMomentum")
    assert {r["setting"]: r["paper"] for r in rows} == {"column files": "-", "OntoNotes (hub)": "0.75+"}


def geometric_mean_and_interval(values: list[float]) -> tuple[float, float, float]:
    logs = [math.log(v) for v in values]
    n = len(logs)
    low, high = scipy.stats.t.interval(0.95, n - 1, loc=statistics.fmean(logs), scale=statistics.stdev(logs) / n**0.5)
    return math.exp(statistics.fmean(logs)), math.exp(low), math.exp(high)


# A blown-up optimizer over five seeds, as in the small seed study: it loses every seed by far.
BLOWN_UP = [85_000.0, 3_000.0, 1_200.0, 5_500.0, 60_000.0]
STEADY = [600.0, 580.0, 610.0, 590.0, 700.0]
MIXED = [70_000.0, 2_000.0, 1_500.0, 6_000.0, 50_000.0]


def test_seed_statistics_are_geometric_means_with_intervals_on_log_perplexity(tmp_path: Path) -> None:
    seeded_runs(tmp_path, "adamomentum", BLOWN_UP)
    seeded_runs(tmp_path, "sgd", STEADY)
    text = report_markdown(find_runs([tmp_path]))
    rows = table(text, "Over seeds: Penn Treebank")
    [ours] = rows_of(rows, "AdaMomentum")
    centre, low, high = geometric_mean_and_interval(BLOWN_UP)
    assert ours["final test perplexity: geometric mean [95% CI]"] == f"{centre:.1f} [{low:.1f}, {high:.1f}]"
    assert ours["min - max"] == f"{min(BLOWN_UP):.1f} - {max(BLOWN_UP):.1f}"
    assert (ours["completed"], ours["diverged or unfinished"]) == ("5", "0")
    assert low > 0, "an interval of perplexity stays positive"


def test_ner_seed_statistics_give_entity_f1_beside_token_f1(tmp_path: Path) -> None:
    # Per seed: valid peaks at epoch 1, so "at best valid" is epoch 1 and "final" epoch 2.
    entity = {0: ([0.50, 0.40], 0.70), 1: ([0.60, 0.44], 0.72), 2: ([0.55, 0.39], 0.74)}
    for seed, (entity_f1, token_f1) in entity.items():
        write_run(
            tmp_path / f"s{seed}",
            "ner",
            "adamomentum",
            ner_metrics([0.80, 0.70], [token_f1, token_f1 - 0.05], entity_f1),
            seed=seed,
        )
    [ours] = rows_of(table(report_markdown(find_runs([tmp_path])), "Over seeds: Chinese NER"), "AdaMomentum")

    def mean_and_interval(values: list[float]) -> str:
        n, mean = len(values), statistics.fmean(values)
        low, high = scipy.stats.t.interval(0.95, n - 1, loc=mean, scale=statistics.stdev(values) / n**0.5)
        return f"{mean:.4f} [{low:.4f}, {high:.4f}]"

    assert ours["final test entity F1: mean [95% CI]"] == mean_and_interval([0.40, 0.44, 0.39])
    assert ours["test entity F1 at best valid: mean [95% CI]"] == mean_and_interval([0.50, 0.60, 0.55])
    assert ours["final test token F1: mean [95% CI]"] == mean_and_interval([0.65, 0.67, 0.69])


def test_adamomentum_against_each_baseline_is_a_ratio_with_wins_and_the_sign_test(tmp_path: Path) -> None:
    seeded_runs(tmp_path, "adamomentum", BLOWN_UP)
    seeded_runs(tmp_path, "sgd", STEADY)
    seeded_runs(tmp_path, "momentum", MIXED)
    text = report_markdown(find_runs([tmp_path]))
    rows = table(text, "Over seeds: Penn Treebank", first=1)
    by_baseline = {r[1]: dict(zip(rows[0], r)) for r in rows[1:]}
    assert list(by_baseline) == ["SGD", "Momentum"]
    ratios = [a / b for a, b in zip(BLOWN_UP, STEADY)]
    centre, low, high = geometric_mean_and_interval(ratios)
    assert low > 1, "the data make SGD's lead certain"
    sgd = by_baseline["SGD"]
    assert sgd["measure"] == "test perplexity, final"  # one evaluation per run: no separate at-best-valid row
    assert sgd["AdaMomentum / baseline, geometric mean [95% CI]"] == f"{centre:.3f} [{low:.3f}, {high:.3f}]"
    assert (sgd["paired seeds"], sgd["AdaMomentum better in"]) == ("5", "0 of 5")
    assert sgd["sign test p"] == f"{2 * 0.5**5:.3g}"
    assert sgd["at this n"] == "SGD better"
    momentum = by_baseline["Momentum"]
    assert momentum["AdaMomentum better in"] == "2 of 5" and momentum["at this n"] == "not decided"


def test_full_length_runs_are_compared_at_the_end_and_at_best_valid(tmp_path: Path) -> None:
    for seed in range(2):
        write_run(tmp_path / f"a{seed}", "ptb", "adamomentum", ptb_metrics([120.0, 118.0], [115.0, 117.0]), seed=seed)
        write_run(tmp_path / f"s{seed}", "ptb", "sgd", ptb_metrics([125.0, 127.0], [121.0, 124.0]), seed=seed)
    rows = table(report_markdown(find_runs([tmp_path])), "Over seeds: Penn Treebank", first=1)
    assert [r[2] for r in rows[1:]] == ["test perplexity, final", "test perplexity, at best valid"]
    # At best valid: AdaMomentum's second evaluation (test 117), SGD's first (test 121).
    assert rows[2][4].startswith(f"{117.0 / 121.0:.3f}")


def test_settings_within_ten_percent_of_the_paper_are_named(tmp_path: Path) -> None:
    seeded_runs(tmp_path, "sgd", [120.0, 122.0], **{"study.lr_factor": 1.0})  # +5.2% from 115
    seeded_runs(tmp_path, "sgd", [150.0, 160.0], **{"study.lr_factor": 0.5})  # +34.8%
    seeded_runs(tmp_path, "momentum", [110.0, 111.0], **{"study.lr_factor": 1.0})  # +2.3% from 108
    text = report_markdown(find_runs([tmp_path]))
    [half, table1] = rows_of(table(text, "Over seeds: Penn Treebank"), "SGD")
    assert (half["setting"], table1["setting"]) == ("lr x 0.5", "lr x 1")
    paper = TASKS["ptb"].paper["sgd"]
    assert half["final vs paper"] == f"{100 * (math.sqrt(150.0 * 160.0) - paper) / paper:+.1f}%"
    assert "Within 10% of the paper's number: SGD, lr x 1; Momentum." in text
    assert "Further than 10% from it: SGD, lr x 0.5." in text
    assert "](lr_sensitivity_ptb.png)" in text


def test_small_scale_runs_are_not_compared_with_the_paper(tmp_path: Path) -> None:
    seeded_runs(tmp_path, "sgd", [800.0, 820.0], scale="small")
    text = report_markdown(find_runs([tmp_path]))
    assert "not comparable with the paper" in text
    assert {r["paper"] for r in rows_of(table(text, "Penn Treebank (Table 1)"), "SGD")} == {"-"}
    [sgd] = rows_of(table(text, "Over seeds: Penn Treebank"), "SGD")
    assert (sgd["paper"], sgd["final vs paper"]) == ("-", "-")
    assert "of the paper's number" not in text and "Further than 10%" not in text


def test_provenance_names_every_commit_a_run_loaded_and_the_batches_it_resumed_at(tmp_path: Path) -> None:
    """A run stopped and resumed at another commit shows both commits and where it resumed, read from its
    train.log; a run whose log was not kept says so instead of claiming it never stopped."""
    root = tmp_path / "runs"
    moved = write_run(root / "sgd/seed=0", "ptb", "sgd", ptb_metrics([130.0], [125.0]), git_commits=["aaa", "bbb"])
    (moved / "train.log").write_text(
        "[2026-12-06 09:00:00,000][adamomentum.run][INFO] - epoch 3 step 7600/30199: loss 4.9\n"
        "[2026-12-06 09:53:00,000][adamomentum.run][INFO] - resuming /q/sgd/seed=0 at epoch 3, step 7691\n"
        "[2026-12-06 14:38:39,246][adamomentum.run][INFO] - resuming /q/sgd/seed=0 at epoch 8, step 17000\n"
    )
    steady = write_run(root / "sgd/seed=1", "ptb", "sgd", ptb_metrics([131.0], [126.0]), seed=1)
    (steady / "train.log").write_text("resume: null\n")
    write_run(root / "sgd/seed=2", "ptb", "sgd", ptb_metrics([132.0], [127.0]), seed=2)
    rows = {r["seed"]: r for r in rows_of(table(report_markdown(find_runs([root])), "Provenance"), "SGD")}
    assert rows["0"]["git commit"] == "`aaa` then `bbb`"
    assert rows["0"]["resumed at batch"] == "7,691 then 17,000"
    assert rows["1"]["git commit"] == "`abc123`"
    assert rows["1"]["resumed at batch"] == "-"
    assert rows["2"]["resumed at batch"] == "no train.log"


@pytest.mark.parametrize("recorded", [{"precision": "fp32"}, {}], ids=["recorded", "made before the key"])
def test_a_key_only_adamomentum_varies_in_is_held_against_the_value_the_baselines_share(
    tmp_path: Path, recorded: dict[str, str]
) -> None:
    """A bf16 run of AdaMomentum alone (the campaign's section 1) leaves its float32 runs paired with AdaGrad's at
    the same start, and pairs with no AdaGrad in float32 itself; AdaGrad's runs made before ``precision``
    existed trained in float32."""
    seeded_runs(tmp_path, "adamomentum", [300.0, 250.0, 280.0], precision="fp32")
    seeded_runs(tmp_path, "adamomentum", [301.0, 251.0], precision="bf16")
    seeded_runs(tmp_path, "adagrad", [140.0, 141.0, 142.0], **recorded)
    seeded_runs(tmp_path, "adagrad", [240.0, 241.0, 242.0], **recorded, **{START: 0.1})
    rows = table(report_markdown(find_runs([tmp_path])), "Over seeds: Penn Treebank", first=1)
    assert [(r[0], r[1], r[3]) for r in rows[1:]] == [("AdaMomentum", "AdaGrad, G_0 = 0", "3")]


def test_an_optimizer_hyperparameter_only_adamomentum_varies_in_pairs_it_with_no_baseline_setting(
    tmp_path: Path,
) -> None:
    """An AdaMomentum at mu = 0.6 is not Momentum's setting though Momentum's mu is 0.6: an optimizer's
    hyperparameter means something else for another optimizer."""
    seeded_runs(tmp_path, "adamomentum", [300.0, 250.0], **{"optimizer.momentum": 0.9, "study.lr_factor": 1.0})
    seeded_runs(tmp_path, "adamomentum", [200.0, 210.0], **{"optimizer.momentum": 0.6, "study.lr_factor": 1.0})
    seeded_runs(tmp_path, "momentum", [114.0, 115.0], **{"optimizer.momentum": 0.6, "study.lr_factor": 1.0})
    seeded_runs(tmp_path, "momentum", [130.0, 131.0], **{"optimizer.momentum": 0.6, "study.lr_factor": 0.5})
    text = report_markdown(find_runs([tmp_path]))
    assert "Paired by seed" not in text
