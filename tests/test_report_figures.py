"""What the figures show, read through matplotlib's objects: axis labels, legend texts, lines and bands, the
paper's markers, the fitted ranges."""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib.pyplot as plt
import pytest
from matplotlib.axes import Axes
from matplotlib.collections import FillBetweenPolyCollection, PathCollection
from matplotlib.figure import Figure

from adamomentum.report import find_runs, write_report
from adamomentum.report.figures import curves_figure, figure_title, sweep_figure
from adamomentum.report.measures import TASKS
from report_runs import ner_metrics, ptb_metrics, runs_root, seeded_runs, write_run

PTB, NER = TASKS["ptb"], TASKS["ner"]
# The paper's NER loss is the language model's; the per-token mean of results/ner-msra is an ablation.
PAPER_NER = {"task": {"name": "ner", "loss_reduction": "sum_over_time"}}


@pytest.fixture
def figures() -> list[Figure]:
    """Figures a test made, closed after it."""
    made: list[Figure] = []
    yield made
    for fig in made:
        plt.close(fig)


def legend_texts(fig: Figure) -> list[str]:
    return [t.get_text() for legend in fig.legends for t in legend.get_texts()]


def panel(fig: Figure, title_start: str) -> Axes:
    [ax] = [ax for ax in fig.axes if ax.get_title().startswith(title_start)]
    return ax


def stars(ax: Axes) -> list[tuple[float, float]]:
    """The paper's markers: scatter points drawn with the star marker."""
    return [
        tuple(xy)
        for c in ax.collections
        if isinstance(c, PathCollection) and len(c.get_paths()) == 1 and len(c.get_paths()[0].vertices) == 11
        for xy in c.get_offsets()
    ]


def curve(valid: float, test: float, blown_up: float = 1.0) -> list[dict]:
    """Ten evaluations descending from 3x to the given final values."""
    scale = [3.0 - 2.0 * i / 9 for i in range(10)]
    return ptb_metrics([valid * s * blown_up for s in scale], [test * s * blown_up for s in scale], step=500)


def table1_runs(root: Path) -> Path:
    write_run(root / "sgd", "ptb", "sgd", curve(125.0, 120.5), config={"trainer": {"lr_decay": True}})
    write_run(root / "sgd-constant", "ptb", "sgd", curve(140.0, 136.4), config={"trainer": {"lr_decay": False}})
    write_run(root / "momentum", "ptb", "momentum", curve(118.0, 114.9))
    write_run(root / "adagrad", "ptb", "adagrad", curve(145.0, 140.9))
    write_run(root / "adamomentum", "ptb", "adamomentum", curve(460.0, 424.8, blown_up=4.0))
    return root


def test_figure_1_marks_the_papers_numbers_and_names_settings_in_words(tmp_path: Path, figures: list) -> None:
    fig = curves_figure(find_runs([table1_runs(tmp_path)]), PTB)
    figures.append(fig)
    valid, test = panel(fig, "valid perplexity"), panel(fig, "test perplexity")
    assert (valid.get_ylabel(), test.get_ylabel(), fig.axes[-1].get_xlabel()) == (
        "valid perplexity",
        "test perplexity",
        "training batches",
    )
    assert legend_texts(fig) == [
        "SGD, Zaremba's decay",
        "SGD, constant lr",
        "Momentum",
        "AdaGrad",
        "AdaMomentum",
        PTB.paper_label,
    ]
    assert len(test.get_lines()) == 5  # one line per setting
    assert sorted(y for _, y in stars(test)) == sorted(PTB.paper.values()) == [106.0, 108.0, 115.0, 140.0]
    assert not stars(valid), "the paper's numbers are test perplexities"
    # Beyond the curves' end, side by side, so that 106 and 108 do not hide each other.
    xs = [x for x, _ in stars(test)]
    assert min(xs) > 500 * 10 and len(set(xs)) == 4


def test_the_papers_star_is_grey_where_each_setting_of_its_optimizer_has_a_colour(
    tmp_path: Path, figures: list
) -> None:
    """One optimizer under two settings, a colour each (results/ptb-verdict-ablations): the star claims neither."""
    for start, final in ((0.0, 424.8), (0.1, 153.7)):
        write_run(
            tmp_path / str(start),
            "ptb",
            "adamomentum",
            curve(final, final),
            config={"optimizer": {"initial_accumulator_value": start}},
        )
    fig = curves_figure(find_runs([tmp_path]), PTB)
    figures.append(fig)
    test = panel(fig, "test perplexity")
    [star] = [c for c in test.collections if isinstance(c, PathCollection) and len(c.get_offsets()) == 1]
    assert tuple(star.get_facecolor()[0]) == pytest.approx((0.827, 0.827, 0.827, 1.0), abs=1e-3)  # lightgrey
    assert len({line.get_color() for line in test.get_lines()}) == 2


def test_an_optimizer_keeps_its_colour_whichever_others_a_figure_shows(tmp_path: Path, figures: list) -> None:
    """results/ner-verdict grows by one optimizer at a time: Momentum's curve must not change colour when SGD's
    joins it."""
    write_run(tmp_path / "few/momentum", "ptb", "momentum", curve(118.0, 114.9))
    write_run(tmp_path / "few/adamomentum", "ptb", "adamomentum", curve(160.0, 153.7))
    colours = {}
    for root in (tmp_path / "few", table1_runs(tmp_path / "all")):
        fig = curves_figure(find_runs([root]), PTB)
        figures.append(fig)
        test = panel(fig, "test perplexity")
        colours[root.name] = {line.get_label(): line.get_color() for line in test.get_lines()}
    assert colours["few"] == {k: colours["all"][k] for k in ("Momentum", "AdaMomentum")}
    assert len(set(colours["all"].values())) == 4  # SGD's two settings share a colour


def test_a_blown_up_curve_does_not_squeeze_the_others(tmp_path: Path, figures: list) -> None:
    fig = curves_figure(find_runs([table1_runs(tmp_path)]), PTB)
    figures.append(fig)
    test = panel(fig, "test perplexity")
    low, high = test.get_ylim()
    # The panel spans where the baselines settle and the paper's numbers, not AdaMomentum's thousands.
    assert low <= 106.0 and 140.9 * 1.2 <= high < 424.8
    assert "full range below" in test.get_title()
    [overview] = [ax for ax in fig.axes if ax.get_ylabel() == "full range (log)" and ax.get_yscale() == "log"][1:]
    assert max(max(line.get_ydata()) for line in overview.get_lines()) == pytest.approx(424.8 * 4 * 3)


def test_the_seeds_of_a_setting_are_one_mean_line_in_a_min_max_band(tmp_path: Path, figures: list) -> None:
    finals = [100.0, 120.0, 150.0]
    for seed, final in enumerate(finals):
        write_run(
            tmp_path / f"s{seed}",
            "ptb",
            "adamomentum",
            curve(final + 5, final),
            seed=seed,
            config={"optimizer": {"initial_accumulator_value": 0.1}},
        )
    write_run(
        tmp_path / "g0",
        "ptb",
        "adamomentum",
        curve(130.0, 125.0),
        config={"optimizer": {"initial_accumulator_value": None}},
    )
    fig = curves_figure(find_runs([tmp_path]), PTB)
    figures.append(fig)
    test = panel(fig, "test perplexity")
    assert legend_texts(fig)[:2] == ["AdaMomentum, G_0 = 0", "AdaMomentum, G_0 = 0.1 (3 seeds)"]
    assert fig.legends[0].get_title().get_text() == "lines: geometric mean over seeds; bands: min to max"
    line = test.get_lines()[1]
    assert line.get_ydata()[-1] == pytest.approx(math.prod(finals) ** (1 / 3))
    [band] = [c for c in test.collections if isinstance(c, FillBetweenPolyCollection)]
    ys = band.get_paths()[0].vertices[:, 1]
    assert (ys.min(), ys.max()) == pytest.approx((min(finals), max(finals) * 3))


def test_seeds_that_share_one_evaluation_are_a_point_and_the_legend_says_so(tmp_path: Path, figures: list) -> None:
    """Seeds evaluated on different grids share only their last evaluation: one point each, no line and no
    band, and the legend's title does not promise them."""
    write_run(tmp_path / "s0", "ptb", "sgd", curve(150.0, 120.0), seed=0)
    write_run(tmp_path / "s1", "ptb", "sgd", curve(140.0, 118.0)[-1:], seed=1)
    fig = curves_figure(find_runs([tmp_path]), PTB)
    figures.append(fig)
    test = panel(fig, "test perplexity")
    assert fig.legends[0].get_title().get_text() == "points: geometric mean over seeds"
    assert not [c for c in test.collections if isinstance(c, FillBetweenPolyCollection)]


def test_figure_2_fits_its_y_axis_to_where_the_curves_settle(tmp_path: Path, figures: list) -> None:
    early_to_late = [0.33, 0.60, 0.70, 0.74, 0.76, 0.78, 0.79, 0.80, 0.80, 0.81]
    for seed in range(2):
        shifted = [v + 0.01 * seed for v in early_to_late]
        write_run(
            tmp_path / f"a{seed}",
            "ner",
            "adamomentum",
            ner_metrics(shifted, shifted, shifted),
            seed=seed,
            config=PAPER_NER,
        )
    write_run(
        tmp_path / "sgd",
        "ner",
        "sgd",
        ner_metrics(early_to_late, [v + 0.02 for v in early_to_late], early_to_late),
        config=PAPER_NER,
    )
    fig = curves_figure(find_runs([tmp_path]), NER)
    figures.append(fig)
    ax = panel(fig, "test token F1")
    assert ax.get_xlabel() == "" and fig.axes[1].get_xlabel() == "epoch"
    low, high = ax.get_ylim()
    assert 0.33 < low <= 0.74 and 0.83 <= high < 0.9
    assert legend_texts(fig) == ["SGD", "AdaMomentum (2 seeds)", NER.paper_label]
    assert len([c for c in ax.collections if isinstance(c, FillBetweenPolyCollection)]) == 1


def test_single_evaluation_runs_are_points_not_lines(tmp_path: Path, figures: list) -> None:
    seeded_runs(tmp_path, "sgd", [800.0, 820.0, 790.0], scale="small")
    seeded_runs(tmp_path, "adamomentum", [90_000.0, 1_200.0, 5_000.0], scale="small")
    fig = curves_figure(find_runs([tmp_path]), PTB)
    figures.append(fig)
    [ax] = fig.axes
    points = sum(len(c.get_offsets()) for c in ax.collections if isinstance(c, PathCollection))
    assert points == 6 and not stars(ax), "each seed a point; no paper marker beside small runs"
    assert [t.get_text() for t in ax.get_xticklabels()] == ["SGD", "AdaMomentum"]
    assert ax.get_ylabel() == "final test perplexity" and ax.get_yscale() == "log"
    assert [t.get_text() for t in ax.get_legend().get_texts()] == [
        "one seed",
        "geometric mean over seeds",
        "min to max",
    ]


def test_lr_sensitivity_has_a_title_saying_what_its_bars_are(tmp_path: Path, figures: list) -> None:
    for factor, finals in ((0.5, [150.0, 160.0]), (1.0, [120.0, 122.0])):
        seeded_runs(tmp_path, "sgd", finals, **{"study.lr_factor": factor})
    fig = sweep_figure(
        find_runs([tmp_path]),
        PTB,
        lambda c: c["optimizer.lr"] * c["study.lr_factor"],
        lambda c: c["study.lr_factor"] == 1.0,
        "learning rate (log scale)",
        "Learning-rate sensitivity",
    )
    figures.append(fig)
    [ax] = fig.axes
    assert ax.get_title() == (
        "Learning-rate sensitivity, Penn Treebank\npoints: geometric mean over 2 seeds; "
        "bars: min to max; rings: Table 1's value"
    )
    _, _, (bars,) = ax.containers[0].lines
    assert sorted((min(s[:, 1]), max(s[:, 1])) for s in bars.get_segments()) == [(120.0, 122.0), (150.0, 160.0)]


def test_figure_titles_say_whether_they_redraw_the_papers_figure(tmp_path: Path) -> None:
    """A PNG travels without results.md: its title names the corpus and says when it is not the paper's figure."""
    metrics = ner_metrics([0.80], [0.8125], [0.79])
    write_run(tmp_path / "onto", "ner", "sgd", metrics, config={"task": {"name": "ner"}, "data": {"source": "hub"}})
    write_run(
        tmp_path / "msra",
        "ner",
        "adamomentum",
        metrics,
        config={"task": {"name": "ner"}, "data": {"source": "columns", "data_dir": "../shared/data/msra"}},
    )
    assert figure_title(find_runs([tmp_path / "onto"]), NER) == (
        "Chinese NER on OntoNotes, 2-layer BiLSTM\n(Figure 2 of the paper, redrawn)"
    )
    assert figure_title(find_runs([tmp_path]), NER) == (
        "Chinese NER on OntoNotes, msra, 2-layer BiLSTM\n(not the paper's setting: not comparable with its Figure 2)"
    )


def test_the_report_draws_the_figures_it_shows(tmp_path: Path) -> None:
    out = tmp_path / "results"
    text = write_report(find_runs([runs_root(tmp_path)]), out).read_text()
    for name in ("figure1_ptb.png", "figure2_ner.png"):
        assert f"]({name})" in text and (out / name).stat().st_size > 0


def test_a_long_figure_legend_fits_inside_the_figure(tmp_path: Path, figures: list) -> None:
    """Many settings with long names (results/ner-loss-scale) widen the figure rather than run off its edges."""
    for lr in (0.1, 0.3, 1.0, 3.0, 10.0):
        for reduction in ("mean", "sum_over_time"):
            write_run(
                tmp_path / "runs" / f"lr={lr},{reduction}",
                "ner",
                "momentum",
                ner_metrics([0.1, 0.2], [0.1, 0.2], [0.0, 0.1]),
                config={
                    "optimizer": {"name": "momentum", "lr": lr},
                    "task": {"name": "ner", "loss_reduction": reduction},
                    "data": {"source": "columns"},
                },
            )
    fig = curves_figure(find_runs([tmp_path / "runs"]), NER)
    figures.append(fig)
    fig.canvas.draw()
    [legend] = fig.legends
    assert len(legend.get_texts()) == 10
    inside = fig.bbox.padded(1)
    assert all(
        inside.x0 <= t.get_window_extent().x0 and t.get_window_extent().x1 <= inside.x1 for t in legend.get_texts()
    )


def test_epochs_are_ticked_in_whole_numbers(tmp_path: Path, figures: list) -> None:
    write_run(tmp_path / "sgd", "ner", "sgd", ner_metrics([0.1, 0.7], [0.1, 0.7], [0.0, 0.5]))
    fig = curves_figure(find_runs([tmp_path]), NER)
    figures.append(fig)
    ticks = [t for t in panel(fig, "test token F1").get_xticks() if 1 <= t <= 2]
    assert ticks == [1.0, 2.0]


def test_more_settings_per_optimizer_than_line_styles_get_a_panel_each(tmp_path: Path, figures: list) -> None:
    """results/ner-loss-scale: six settings per optimizer would repeat line styles within a colour in one panel."""
    for optimizer in ("sgd", "adamomentum"):
        for lr in (0.01, 0.03, 0.1, 0.3, 1.0, 3.0):
            metrics = ner_metrics([0.1, 0.5], [0.1, lr / 10], [0, 0])
            write_run(
                tmp_path / optimizer / f"lr={lr}",
                "ner",
                optimizer,
                metrics,
                config={"optimizer": {"name": optimizer, "lr": lr}, **PAPER_NER},
            )
    fig = curves_figure(find_runs([tmp_path]), NER)
    figures.append(fig)
    sgd, adamomentum = panel(fig, "SGD"), panel(fig, "AdaMomentum")
    assert [t.get_text() for t in sgd.get_legend().get_texts()] == [
        "lr = 0.01",
        "lr = 0.03",
        "lr = 0.1",
        "lr = 0.3",
        "lr = 1",
        "lr = 3",
    ]
    colours = [line.get_color() for line in sgd.get_lines()]
    assert len(set(colours)) == 6
    assert sgd.get_ylim() == adamomentum.get_ylim() and sgd.get_ylim()[1] >= 0.3
