"""The run_list sweeper (src/hydra_plugins/adamomentum_run_list) and the study built on it,
experiment=ptb_verdict: the listed runs and nothing else, in their own directories, relaunches
that skip finished runs, and command lines it refuses."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir

from adamomentum.config import CONFIG_DIR

TINY_MODEL = [
    "data.download=false",
    "data.verify=false",
    "model.embedding_dim=8",
    "model.hidden_size=8",
    "model.num_layers=1",
    "data.batch_size=4",
    "data.eval_batch_size=4",
    "data.bptt=5",
    "trainer.max_batches=2",
    "threads=1",
    "device=cpu",
    "progress=false",
    "checkpoint_interval=null",
]


def compose_verdict(*overrides: str):
    with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base=None):
        return compose("config", overrides=["experiment=ptb_verdict", *overrides], return_hydra_config=True)


def run_study(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "HYDRA_FULL_ERROR"}
    return subprocess.run(
        [sys.executable, "-m", "adamomentum.train", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_the_verdict_lists_the_issues_runs_with_seed_0_evaluated_every_500_batches():
    cfg = compose_verdict()
    assert cfg.hydra.sweeper._target_.endswith("RunListSweeper")
    runs = []
    for entry in cfg.hydra.sweeper.runs:
        run = compose_verdict(*entry.split())  # every entry composes against the schema
        runs.append((run.optimizer.name, run.optimizer.initial_accumulator_value, run.seed, run.trainer.eval_interval))
    table1 = {(opt, None, seed, None) for opt in ("sgd", "momentum", "adagrad", "adamomentum") for seed in (1, 2)}
    table1 |= {(opt, None, 0, 500) for opt in ("sgd", "momentum", "adagrad", "adamomentum")}
    authors = {(opt, 0.1, 0, 500) for opt in ("adagrad", "adamomentum")}
    authors |= {(opt, 0.1, seed, None) for opt in ("adagrad", "adamomentum") for seed in (1, 2)}
    assert sorted(runs, key=str) == sorted(table1 | authors | {("adamomentum", 1e-4, 0, 500)}, key=str)
    assert runs[:2] == [("adamomentum", 0.1, 0, 500), ("adagrad", 0.1, 0, 500)]  # the issue's order
    assert cfg.trainer.epochs == 13 and cfg.data.train_fraction == 1.0 and cfg.data.final_test_batch_size == 1


def test_the_study_trains_each_listed_run_once_and_a_relaunch_skips_them(tmp_path: Path, tiny_ptb: Path):
    sweep = tmp_path / "sweep"
    runs = [
        "optimizer=adamomentum optimizer.initial_accumulator_value=0.1 seed=0",
        "optimizer=adamomentum optimizer.initial_accumulator_value=0.1 seed=1 trainer.eval_interval=null",
        "optimizer=sgd seed=1 trainer.eval_interval=null",
    ]
    args = [
        "experiment=ptb_verdict",
        "scale=small",
        f"data.data_dir={tiny_ptb}",
        *TINY_MODEL,
        f"hydra.sweeper.runs=[{','.join(repr(r) for r in runs)}]",
        f"hydra.sweep.dir={sweep}",
    ]
    first = run_study(args, tmp_path)
    assert first.returncode == 0, first.stderr[-3000:]
    summaries = {p.parent.relative_to(sweep).parts[:2]: json.loads(p.read_text()) for p in sweep.rglob("summary.json")}
    assert sorted(summaries) == [("adamomentum", "seed=0"), ("adamomentum", "seed=1"), ("sgd", "seed=1")]
    assert all(s["status"] == "completed" and s["steps"] == 2 for s in summaries.values())
    assert summaries["adamomentum", "seed=1"]["config"]["optimizer"]["initial_accumulator_value"] == 0.1
    assert summaries["sgd", "seed=1"]["config"]["optimizer"]["initial_accumulator_value"] is None
    # The directory names the overrides that make the setting, never the evaluation schedule.
    dirs = [p.parent.relative_to(sweep).parts for p in sweep.rglob("summary.json")]
    assert ["optimizer.initial_accumulator_value=0.1" in d[2].split(",") for d in dirs if d[0] == "adamomentum"] == [
        True,
        True,
    ]
    assert not any("eval_interval" in d[2] for d in dirs)

    again = run_study(args, tmp_path)
    assert again.returncode == 0, again.stderr[-3000:]
    assert (again.stdout + again.stderr).count("already finished") == 3


def test_a_sweep_on_the_command_line_is_refused_with_the_fix(tmp_path: Path, tiny_ptb: Path):
    proc = run_study(
        [
            "experiment=ptb_verdict",
            "scale=small",
            f"data.data_dir={tiny_ptb}",
            *TINY_MODEL,
            "optimizer.lr=0.1,0.2",
            f"hydra.sweep.dir={tmp_path / 'sweep'}",
        ],
        tmp_path,
    )
    assert proc.returncode != 0
    assert "optimizer.lr=0.1,0.2" in proc.stderr and "hydra.sweeper.runs" in proc.stderr
    assert not list((tmp_path / "sweep").rglob("summary.json"))


@pytest.mark.parametrize("entry", ["optimizer=sgd,momentum seed=1"])
def test_an_entry_that_sweeps_is_refused(tmp_path: Path, tiny_ptb: Path, entry: str):
    proc = run_study(
        [
            "experiment=ptb_verdict",
            "scale=small",
            f"data.data_dir={tiny_ptb}",
            *TINY_MODEL,
            f"hydra.sweeper.runs=[{entry!r}]",
            f"hydra.sweep.dir={tmp_path / 'sweep'}",
        ],
        tmp_path,
    )
    assert proc.returncode != 0
    assert "one entry per value" in proc.stderr


def test_the_ner_verdict_lists_three_seeds_of_each_setting_on_the_stand_in_corpus():
    with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base=None):
        cfg = compose("config", overrides=["experiment=ner_verdict"], return_hydra_config=True)
        runs = []
        for entry in cfg.hydra.sweeper.runs:
            run = compose("config", overrides=["experiment=ner_verdict", *entry.split()])
            runs.append((run.optimizer.name, run.optimizer.initial_accumulator_value, run.seed))
    settings = {(o, None) for o in ("sgd", "momentum", "adagrad", "adamomentum")} | {
        ("adagrad", 0.1),
        ("adamomentum", 0.1),
    }
    assert sorted(runs, key=str) == sorted(((o, g, s) for o, g in settings for s in (0, 1, 2)), key=str)
    assert runs[:2] == [("momentum", None, 0), ("adamomentum", 0.1, 0)]  # the issue's order
    task = cfg.task
    assert (task.name, cfg.data.source, cfg.data.max_train_sentences, cfg.trainer.epochs, task.loss_reduction) == (
        "ner",
        "columns",
        14700,
        30,
        "sum_over_time",
    )
