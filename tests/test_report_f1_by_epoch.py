"""f1_by_epoch.md: test token F1 at the end of each epoch and the logged training loss, per NER setting over seeds
(the committed results/ner-loss-scale/f1_by_epoch.md rebuilds byte for byte: tests/test_report_results.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from adamomentum.report import find_runs
from adamomentum.report.f1_by_epoch import f1_by_epoch_markdown, main
from report_runs import nested, ptb_metrics, write_run


def ner_run(
    root: Path,
    optimizer: str,
    lr: float,
    reduction: str,
    seed: int,
    evaluations: list[tuple[int, float]],
    windows: list[tuple[int, float]] | None = None,
) -> None:
    """A NER run evaluated at (epoch, test token F1) in turn, with a train.log of (step, loss) windows."""
    metrics = [
        {"step": 10 * (i + 1), "epoch": epoch, "valid_token_f1": f1, "test_token_f1": f1}
        for i, (epoch, f1) in enumerate(evaluations)
    ]
    config = nested({"optimizer.name": optimizer, "optimizer.lr": lr, "task.loss_reduction": reduction})
    run_dir = write_run(
        root / f"{optimizer}-{lr}-{reduction}-{seed}", "ner", optimizer, metrics, seed=seed, config=config
    )
    if windows is not None:
        lines = [
            f"[t][adamomentum.trainer][INFO] - epoch 1 step {s}/300: loss {v:.4f}, 3300 tokens/s" for s, v in windows
        ]
        (run_dir / "train.log").write_text("\n".join(lines) + "\n")


def test_each_setting_gets_its_epochs_over_seeds_and_its_logged_loss(tmp_path: Path) -> None:
    root = tmp_path / "runs"
    ner_run(root, "adam", 0.001, "mean", 0, [(1, 0.6), (2, 0.3)])
    # Two evaluations in epoch 1: the last is its end. Resumed at step 200, which it logs twice: counted once.
    ner_run(
        root,
        "momentum",
        0.3,
        "sum_over_time",
        0,
        [(1, 0.1), (1, 0.2), (2, 0.55)],
        [(100, 1.5), (200, 1.0), (200, 1.0), (300, 0.75)],
    )
    ner_run(root, "momentum", 0.3, "sum_over_time", 1, [(1, 0.4), (2, 0.7)], [(100, 1.25), (200, 0.5)])
    ner_run(root, "sgd", 1.0, "mean", 0, [(1, 0.1)])
    write_run(root / "ptb", "ptb", "sgd", ptb_metrics([130.0], [125.0]))
    assert f1_by_epoch_markdown(find_runs([root])) == (
        "## Test token F1 after each epoch\n"
        "\n"
        "| optimizer | lr | G_0 | loss reduction | seeds | epoch 1 | epoch 2 | first epoch all seeds >= 0.5 |\n"
        "|---|---|---|---|---|---|---|---|\n"
        "| sgd | 1 | 0 | mean | 0 | 0.100 |  | - |\n"
        "| momentum | 0.3 | 0 | sum_over_time | 0,1 | 0.300 [0.20-0.40] | 0.625 [0.55-0.70] | 2 |\n"
        "| adam | 0.001 | 0 | mean | 0 | 0.600 | 0.300 | 1 |\n"
        "\n"
        "## Training loss (mean NLL per token over the logging window ending at each step)\n"
        "\n"
        "| optimizer | lr | G_0 | loss reduction | seeds | step 100 | step 200 | step 300 |\n"
        "|---|---|---|---|---|---|---|---|\n"
        "| momentum | 0.3 | 0 | sum_over_time | 0,1 | 1.375 [1.25-1.50] | 0.750 [0.50-1.00] | 0.750 |\n"
    )


def test_a_second_run_of_a_setting_and_seed_is_an_error(tmp_path: Path) -> None:
    ner_run(tmp_path / "a", "sgd", 1.0, "mean", 0, [(1, 0.1)])
    ner_run(tmp_path / "b", "sgd", 1.0, "mean", 0, [(1, 0.2)])
    with pytest.raises(SystemExit, match="a second run of"):
        main([str(tmp_path)])


def test_no_ner_run_is_an_error(tmp_path: Path) -> None:
    write_run(tmp_path / "ptb", "ptb", "sgd", ptb_metrics([130.0], [125.0]))
    with pytest.raises(SystemExit, match="no NER run"):
        main([str(tmp_path), "--out", str(tmp_path / "f1_by_epoch.md")])
    assert not (tmp_path / "f1_by_epoch.md").exists()
