"""Setting inference: runs grouped by the config values that vary between an optimizer's runs, named in words."""

from __future__ import annotations

from pathlib import Path

from adamomentum.report import find_runs
from adamomentum.report.settings import label_order, settings
from report_runs import TABLE1_LR, ner_metrics, ptb_metrics, seeded_runs, write_run


def names(root: Path) -> list[str]:
    return [s.name for s in settings(find_runs([root]))]


def test_settings_are_named_in_words_never_by_hydra_keys(tmp_path: Path) -> None:
    for decay in (False, True):
        seeded_runs(tmp_path / "ptb", "sgd", [120.0], **{"trainer.lr_decay": decay})
    for value in (0.1, None, 1e-4):
        seeded_runs(tmp_path / "ptb", "adamomentum", [120.0], **{"optimizer.initial_accumulator_value": value})
    seeded_runs(tmp_path / "ptb", "adagrad", [140.0])
    # Table 1's schedule first; the defaults (G_0 = None, the constructor's 0) first, numbers by size.
    assert names(tmp_path / "ptb") == [
        "SGD, Zaremba's decay",
        "SGD, constant lr",
        "AdaGrad",
        "AdaMomentum, G_0 = 0",
        "AdaMomentum, G_0 = 0.0001",
        "AdaMomentum, G_0 = 0.1",
    ]
    seeded_runs(tmp_path / "other", "adamomentum", [120.0, 121.0], **{"data.bptt": 35})
    seeded_runs(tmp_path / "other", "adamomentum", [120.0], **{"data.bptt": 20})
    labels = names(tmp_path / "other")
    assert labels == ["AdaMomentum, bptt = 20", "AdaMomentum, bptt = 35"]


def test_seeds_and_how_often_a_run_was_evaluated_do_not_split_a_setting(tmp_path: Path) -> None:
    """The verdict study evaluates seed 0 every 500 batches and the other seeds once per epoch."""
    for seed, interval in enumerate((500, None, None)):
        write_run(
            tmp_path / f"s{seed}",
            "ptb",
            "sgd",
            ptb_metrics([130.0], [125.0]),
            seed=seed,
            config={"seed": seed, "trainer": {"eval_interval": interval}, "optimizer": {"lr": 1.0}},
        )
    [setting] = settings(find_runs([tmp_path]))
    assert setting.label == "Table 1" and [r.summary.seed for r in setting.runs] == [0, 1, 2]


def test_a_key_older_runs_lack_does_not_count_as_varying(tmp_path: Path) -> None:
    write_run(tmp_path / "old", "ptb", "sgd", ptb_metrics([130.0], [125.0]), config={"optimizer": {"lr": 1.0}})
    write_run(
        tmp_path / "new",
        "ptb",
        "sgd",
        ptb_metrics([131.0], [126.0]),
        seed=1,
        config={"optimizer": {"lr": 1.0}, "trainer": {"momentum_schedule": "constant"}},
    )
    assert names(tmp_path) == ["SGD"]


def test_a_value_away_from_table_1_is_named_even_when_every_run_shares_it(tmp_path: Path) -> None:
    """A folder of the authors'-start runs alone (or of SGD at lr 0.3) is not "Table 1"."""
    seeded_runs(tmp_path / "start", "adamomentum", [150.0, 151.0], **{"optimizer.initial_accumulator_value": 0.1})
    seeded_runs(tmp_path / "start", "adagrad", [140.0], **{"optimizer.initial_accumulator_value": 0.0})
    seeded_runs(tmp_path / "start", "sgd", [130.0], **{"optimizer.lr": 0.3})
    assert names(tmp_path / "start") == ["SGD, lr = 0.3", "AdaGrad", "AdaMomentum, G_0 = 0.1"]


def test_a_task_value_away_from_the_papers_setting_is_named_even_when_every_run_shares_it(tmp_path: Path) -> None:
    """NER runs on the per-token mean (results/ner-msra's) are an ablation of the paper's setting, not
    "Table 1", though every run of the folder shares it."""
    f1 = ner_metrics([0.8], [0.8], [0.7])
    for optimizer, seed in (("sgd", 0), ("adamomentum", 0), ("adamomentum", 1)):
        write_run(
            tmp_path / "mean" / optimizer / str(seed),
            "ner",
            optimizer,
            f1,
            seed=seed,
            config={"seed": seed, "optimizer": {"lr": TABLE1_LR[optimizer]}, "task": {"loss_reduction": "mean"}},
        )
    assert names(tmp_path / "mean") == ["SGD, per-token mean loss", "AdaMomentum, per-token mean loss"]
    seeded_runs(tmp_path / "no-clipping", "adagrad", [150.0], **{"trainer.clip_grad_norm": None})
    seeded_runs(tmp_path / "paper", "adagrad", [140.0], **{"task.loss_reduction": "sum_over_time"})
    assert names(tmp_path / "no-clipping") == ["AdaGrad, no norm clipping"]
    assert names(tmp_path / "paper") == ["AdaGrad"]


def test_the_authors_element_clipping_is_told_from_the_global_norm(tmp_path: Path) -> None:
    """results/ptb-verdict-ablations: the C++ code's clipping of each element against Zaremba's norm at 5."""
    seeded_runs(tmp_path, "adamomentum", [153.0], **{"trainer.clip_grad_norm": 5.0, "trainer.clip_grad_value": None})
    seeded_runs(
        tmp_path / "cpp", "adamomentum", [160.0], **{"trainer.clip_grad_norm": None, "trainer.clip_grad_value": 1.0}
    )
    assert names(tmp_path) == [
        "AdaMomentum, no norm clipping, elements clipped to [-1, 1]",
        "AdaMomentum, norm clipped at 5, no element clipping",
    ]


def test_a_key_that_moved_keeps_its_place_in_labels() -> None:
    """Labels order their parts by key; trainer.* sorts under its former name (optimizer.lr_decay, task.*), so
    that the committed tables rebuild as they were."""
    keys = ["trainer.clip_grad_norm", "study.lr_factor", "optimizer.momentum", "trainer.lr_decay", "optimizer.lr"]
    assert sorted(keys, key=label_order) == [
        "optimizer.lr",
        "trainer.lr_decay",
        "optimizer.momentum",
        "study.lr_factor",
        "trainer.clip_grad_norm",
    ]


def test_float32_comes_before_bf16_and_runs_older_than_the_precision_key_ran_float32(tmp_path: Path) -> None:
    """results/ptb-verdict: the campaign's bf16 runs (issue 34, section 1) beside float32 runs made before
    ``precision`` existed and after."""
    seeded_runs(tmp_path / "bf16", "sgd", [118.0], precision="bf16")
    seeded_runs(tmp_path / "new", "sgd", [120.0, 121.0], precision="fp32")
    seeded_runs(tmp_path / "old", "sgd", [119.0])
    float32, bf16 = settings(find_runs([tmp_path]))
    assert (float32.name, bf16.name) == ("SGD", "SGD, bf16 autocast")
    assert sorted(r.path.parent.name for r in float32.runs) == ["new", "new", "old"]


def test_runs_on_a_share_of_the_text_are_told_from_runs_older_than_the_key(tmp_path: Path) -> None:
    """The campaign's data-scale runs record data.train_fraction; runs made before the key existed trained on
    all of the text."""
    seeded_runs(tmp_path / "old", "sgd", [120.0, 121.0])
    seeded_runs(tmp_path / "share", "sgd", [340.0], **{"data.train_fraction": 0.1})
    share, full = settings(find_runs([tmp_path]))
    assert (share.name, full.name) == ("SGD, 10% of the training set", "SGD, 100% of the training set")
    assert len(full.runs) == 2
