"""The configuration contract: every (task, optimizer) composes, Table 1's values reach the
optimizers the app constructs, bad overrides fail early with a message that names the fix."""

from __future__ import annotations

import inspect
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import torch
from hydra import compose, initialize_config_dir
from hydra.errors import ConfigCompositionException, MissingConfigException
from omegaconf import DictConfig, OmegaConf

from adamomentum.config import CONFIG_DIR, MOVED_KEYS, current_key, flatten, upgrade_stored
from adamomentum.optim import OPTIMIZERS, AdaMomentum, HeavyBall
from adamomentum.run import optimizer_from_config
from adamomentum.summary import RunSummary
from conftest import SMALL_PTB, compose_cfg, read_jsonl, with_former_keys, write_tiny_ptb

OPTIMIZER_NAMES = sorted(p.stem for p in (CONFIG_DIR / "optimizer").glob("*.yaml"))
TASK_NAMES = sorted(p.stem for p in (CONFIG_DIR / "task").glob("*.yaml"))
PAPER_OPTIMIZERS = ["sgd", "momentum", "adagrad", "adamomentum"]


def as_container(cfg: DictConfig) -> dict[str, Any]:
    container = OmegaConf.to_container(cfg, resolve=True)
    assert isinstance(container, dict)
    return {str(k): v for k, v in container.items()}


def build_like_train_run(cfg: DictConfig) -> torch.optim.Optimizer:
    """The optimizer ``adamomentum.run.run`` constructs for ``cfg``, over one parameter."""
    return optimizer_from_config(cfg, [torch.nn.Parameter(torch.zeros(3))])


# ---------------------------------------------------------------- composition


def test_config_folders_hold_the_paper_optimizers_and_both_tasks() -> None:
    assert set(PAPER_OPTIMIZERS) <= set(OPTIMIZER_NAMES)
    assert TASK_NAMES == ["ner", "ptb"]


@pytest.mark.parametrize("task", TASK_NAMES)
@pytest.mark.parametrize("optimizer", OPTIMIZER_NAMES)
def test_every_optimizer_composes_with_every_task(task: str, optimizer: str) -> None:
    cfg = compose_cfg([f"task={task}", f"optimizer={optimizer}"])
    assert cfg.task.name == task
    assert cfg.optimizer.name == optimizer
    # And the app can construct it from that config.
    assert build_like_train_run(cfg).param_groups[0]["lr"] == cfg.optimizer.lr


def test_default_is_ptb_with_adamomentum() -> None:
    cfg = compose_cfg([])
    assert (cfg.task.name, cfg.optimizer.name) == ("ptb", "adamomentum")


@pytest.mark.parametrize(
    "name, cls, expected",
    [
        ("sgd", torch.optim.SGD, {"lr": 1.0, "momentum": 0}),
        ("momentum", HeavyBall, {"lr": 1.0, "momentum": 0.6}),
        ("adagrad", torch.optim.Adagrad, {"lr": 0.01, "eps": 1e-10}),
        ("adamomentum", AdaMomentum, {"lr": 0.02, "momentum": 0.9, "eps": 1e-10}),
    ],
)
def test_table1_values_reach_the_constructed_optimizer(name: str, cls: type, expected: dict) -> None:
    cfg = compose_cfg([f"optimizer={name}"])
    assert cfg.optimizer.lr == expected["lr"]
    optimizer = build_like_train_run(cfg)
    assert type(optimizer) is cls
    group = optimizer.param_groups[0]
    for key, value in expected.items():
        assert group[key] == value, key


@pytest.mark.parametrize(
    "name, decays", [("sgd", True), ("momentum", True), ("adagrad", False), ("adamomentum", False)]
)
def test_lr_decay_only_for_sgd_and_momentum(name: str, decays: bool) -> None:
    assert compose_cfg([f"optimizer={name}"]).trainer.lr_decay is decays


def test_overrides_reach_the_config() -> None:
    cfg = compose_cfg(["task=ner", "optimizer=momentum", "optimizer.momentum=0.3", "trainer.epochs=2", "seed=7"])
    assert (cfg.optimizer.momentum, cfg.trainer.epochs, cfg.seed) == (0.3, 2, 7)
    assert build_like_train_run(cfg).param_groups[0]["momentum"] == 0.3


def test_the_groups_mirror_what_they_build_and_the_optimizer_holds_only_constructor_arguments() -> None:
    from dataclasses import fields

    from adamomentum.trainer import TrainingSchedule

    arguments = {a for constructor in OPTIMIZERS.values() for a in inspect.signature(constructor).parameters}
    for task in TASK_NAMES:
        for name in OPTIMIZER_NAMES:
            cfg = compose_cfg([f"task={task}", f"optimizer={name}"])
            assert set(cfg.trainer) == {f.name for f in fields(TrainingSchedule)}
            assert set(cfg.model) == {"embedding_dim", "hidden_size", "num_layers", "dropout", "init_range"}
            assert set(cfg.task) == {"name", "loss_reduction"} and cfg.task.name == task
            assert set(cfg.optimizer) - {"name", "extra"} <= arguments
    assert compose_cfg(["task=ner"]).trainer.epochs == 30 and compose_cfg(["task=ptb"]).trainer.epochs == 13


# ---------------------------------------------------------------- stored configs


def test_a_stored_config_reads_in_todays_keys_with_its_values_and_gaps_as_they_were() -> None:
    today = as_container(compose_cfg(["optimizer=sgd"]))
    stored = with_former_keys(today)
    assert "trainer" not in stored and "log_interval" in stored
    assert (stored["task"]["epochs"], stored["optimizer"]["lr_decay"]) == (13, True)
    kept = json.dumps(stored)
    assert upgrade_stored(stored) == today
    assert json.dumps(stored) == kept  # the stored config is left as it was
    assert upgrade_stored(today) == today
    del stored["task"]["clip_grad_value"]  # a run from before the option existed
    assert "clip_grad_value" not in upgrade_stored(stored)["trainer"]


def test_a_summary_keeps_its_config_apart_from_the_tasks_numbers_and_writes_it_last(tmp_path: Path) -> None:
    [committed] = (CONFIG_DIR.parent / "results" / "ptb-verdict" / "runs" / "sgd" / "seed=0").glob("summary.json")
    summary = RunSummary.read(committed.parent)
    assert "config" not in summary.task_numbers and "trainer" in summary.config
    assert list(json.loads(summary.write(tmp_path).read_text(encoding="utf-8")))[-1] == "config"


def test_every_committed_run_reads_in_todays_keys() -> None:
    summaries = sorted((CONFIG_DIR.parent / "results").rglob("summary.json"))
    assert len(summaries) > 200
    for path in summaries:
        stored = flatten(json.loads(path.read_text(encoding="utf-8"))["config"])
        today = flatten(RunSummary.read(path.parent).config)
        assert not MOVED_KEYS.keys() & today.keys(), path
        assert {current_key(k): v for k, v in stored.items()} == today, path


# ---------------------------------------------------------------- bad overrides at compose time


def test_unknown_key_fails_at_compose() -> None:
    with pytest.raises(ConfigCompositionException) as info:
        compose_cfg(["optimizer.lrr=1"])
    assert "lrr" in str(info.value)


@pytest.mark.parametrize(
    "override, key", [("optimizer.lr=abc", "optimizer.lr"), ("trainer.epochs=x", "trainer.epochs")]
)
def test_wrong_type_fails_at_compose(override: str, key: str) -> None:
    with pytest.raises(ConfigCompositionException) as info:
        compose_cfg([override])
    message = str(info.value) + str(info.value.__cause__)
    assert key in message


def test_wrong_type_in_ner_task_fails_at_compose() -> None:
    with pytest.raises(ConfigCompositionException):
        compose_cfg(["task=ner", "data.bucket_by_length=maybe"])


def test_unknown_task_fails_at_compose_and_lists_the_options() -> None:
    with pytest.raises(MissingConfigException) as info:
        compose_cfg(["task=foo"])
    assert "ner" in str(info.value) and "ptb" in str(info.value)


# ---------------------------------------------------------------- the real command line
#
# Each case is its own ``python -m adamomentum.train`` process (about 2 s for one that stops at a
# config error, 5 s for one that trains: the time is importing torch, seqeval/sklearn and
# torch._dynamo, which torch.optim loads on first use).

CLI_TRAIN_OVERRIDES = [
    "task=ptb",
    "data.verify=false",
    "data.download=false",
    "trainer.max_batches=2",
    "trainer.eval_interval=null",
    "model.embedding_dim=8",
    "model.hidden_size=8",
    "data.batch_size=4",
    "data.eval_batch_size=4",
    "threads=1",
    "progress=false",
    "device=cpu",
]


def run_app(args: list[str], cwd: Path, timeout: float = 180) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "HYDRA_FULL_ERROR"}
    env["CUDA_VISIBLE_DEVICES"] = env.get("CUDA_VISIBLE_DEVICES", "")
    return subprocess.run(
        [sys.executable, "-m", "adamomentum.train", *args, f"hydra.run.dir={cwd / 'run'}"],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_cli_unknown_task_exits_non_zero_and_names_the_options(tmp_path: Path) -> None:
    proc = run_app(["task=foo"], tmp_path)
    assert proc.returncode != 0
    assert "ner" in proc.stderr and "ptb" in proc.stderr
    assert "foo" in proc.stderr
    assert not (tmp_path / "run" / "summary.json").exists()


@pytest.mark.parametrize("optimizer", PAPER_OPTIMIZERS)
def test_cli_trains_with_each_paper_optimizer(tmp_path: Path, optimizer: str) -> None:
    data = write_tiny_ptb(tmp_path / "ptb")
    proc = run_app([*CLI_TRAIN_OVERRIDES, f"optimizer={optimizer}", f"data.data_dir={data}"], tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["status"] == "completed"
    assert summary["optimizer"] == optimizer
    assert summary["task"] == "ptb"
    assert summary["steps"] == 2
    assert summary["config"]["optimizer"]["name"] == optimizer
    assert (tmp_path / "run" / "metrics.jsonl").exists()


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without a CUDA GPU")
def test_cli_cuda_without_gpu_is_a_clean_error(tmp_path: Path) -> None:
    proc = run_app(["device=cuda", "threads=1"], tmp_path)
    assert proc.returncode != 0
    assert "device" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "run" / "summary.json").exists()


@pytest.mark.parametrize(
    "override, key",
    [("trainer.eval_interval=0", "trainer.eval_interval"), ("optimizer.lr=-1", "optimizer.lr")],
)
def test_cli_invalid_value_is_a_one_line_error_naming_the_key(tmp_path: Path, override: str, key: str) -> None:
    proc = run_app([override, "threads=1", "device=cpu"], tmp_path)
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stderr
    assert key in lines[0]
    assert lines[0].startswith("error:")


# ---------------------------------------------------------------- studies


def compose_study(*overrides: str) -> DictConfig:
    """The composed config with its hydra node, as a multirun's sweeper sees it."""
    with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base=None):
        return compose("config", overrides=list(overrides), return_hydra_config=True)


EXPERIMENTS = sorted(p.stem for p in (CONFIG_DIR / "experiment").glob("*.yaml"))


def test_the_named_studies_and_ablations_exist():
    assert {
        "ptb_seeds",
        "ptb_lr_sweep",
        "ptb_data_scale",
        "ner_seeds",
        "ptb_ablation_momentum_schedule",
        "ptb_ablation_clipping",
        "ptb_ablation_eps",
        "ptb_ablation_accumulator",
        "ptb_ablation_loss_reduction",
    } <= set(EXPERIMENTS)


def swept_overrides(cfg: DictConfig) -> list[list[str]]:
    """What the study's sweeper launches: a grid's values one at a time, or a run list's entries."""
    if "runs" in cfg.hydra.sweeper:
        return [entry.split() for entry in cfg.hydra.sweeper.runs]
    return [[f"{key}={value}"] for key, values in cfg.hydra.sweeper.params.items() for value in str(values).split(",")]


@pytest.mark.parametrize("experiment", EXPERIMENTS)
@pytest.mark.parametrize("scale", ["full", "small"])
def test_every_study_composes_as_a_sweep(experiment, scale):
    cfg = compose_study(f"experiment={experiment}", f"scale={scale}")
    task = experiment.split("_")[0]
    assert cfg.task.name == task
    assert str(cfg.hydra.mode) == "RunMode.MULTIRUN"
    assert cfg.hydra.sweep.dir == f"outputs/study/{experiment}-{scale}"
    assert cfg.trainer.epochs == ({"ptb": 13, "ner": 30}[task] if scale == "full" else {"ptb": 1, "ner": 2}[task])
    optimizers = set()
    for overrides in swept_overrides(cfg):  # every swept value is accepted by the schema
        run = compose_study(f"experiment={experiment}", f"scale={scale}", *overrides)
        optimizers.add(run.optimizer.name)
    # Adam is the campaign's modern reference (experiment=ptb_adam), outside the paper's claims.
    assert optimizers and optimizers <= {"sgd", "momentum", "adagrad", "adamomentum", "adam"}


def test_small_scale_values_and_the_sweep_grids():
    seeds_full = compose_study("experiment=ptb_seeds")
    assert seeds_full.hydra.sweeper.params.seed == "0,1,2,3,4"
    assert seeds_full.data.train_fraction == 1.0 and seeds_full.trainer.eval_interval == 500
    seeds_small = compose_study("experiment=ptb_seeds", "scale=small")
    assert seeds_small.data.train_fraction == 0.05 and seeds_small.trainer.eval_interval is None
    lr = compose_study("experiment=ptb_lr_sweep")
    assert lr.hydra.sweeper.params["study.lr_factor"] == "0.25,0.5,1.0,2.0,4.0"
    data_full = compose_study("experiment=ptb_data_scale")
    assert data_full.hydra.sweeper.params["data.train_fraction"] == "0.1,0.25,0.5,1.0"
    data_small = compose_study("experiment=ptb_data_scale", "scale=small")
    assert data_small.hydra.sweeper.params["data.train_fraction"] == "0.01,0.025,0.05,0.1"


def test_an_unknown_scale_fails_with_the_choices():
    with pytest.raises(Exception, match="Could not find 'scale/medium'") as error:
        compose_study("experiment=ptb_seeds", "scale=medium")
    assert "full" in str(error.value) and "small" in str(error.value)


def test_the_small_scale_reaches_single_runs_and_records_itself():
    ptb = compose_cfg(["task=ptb", "scale=small"])
    assert (ptb.trainer.epochs, ptb.data.train_fraction, ptb.study.scale) == (1, 0.05, "small")
    ner = compose_cfg(["task=ner", "scale=small"])
    assert (ner.trainer.epochs, ner.data.train_fraction, ner.study.scale) == (2, 1.0, "small")
    assert compose_cfg(["task=ptb"]).study.scale == "full"


def test_lr_factor_scales_the_learning_rate(tmp_path, tiny_ptb):
    from adamomentum.run import run

    cfg = compose_cfg(
        [
            *SMALL_PTB,
            f"data.data_dir={tiny_ptb}",
            "optimizer=sgd",
            "trainer.lr_decay=false",
            "study.lr_factor=0.25",
            "trainer.max_batches=3",
            "trainer.eval_interval=null",
        ]
    )
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    run(cfg, run_dir)
    assert read_jsonl(run_dir / "metrics.jsonl")[-1]["lr"] == 0.25


# ---------------------------------------------------------------- launchers


def tiny_sweep(tmp_path: Path, launcher: list[str]) -> list[dict]:
    data = write_tiny_ptb(tmp_path / "ptb")
    sweep = tmp_path / "sweep"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "adamomentum.train",
            "--multirun",
            *launcher,
            "optimizer=sgd,adamomentum",
            *[o for o in SMALL_PTB if not o.startswith("threads=")],
            f"data.data_dir={data}",
            "trainer.max_batches=3",
            "trainer.eval_interval=null",
            f"hydra.sweep.dir={sweep}",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return [json.loads(p.read_text()) for p in sorted(sweep.rglob("summary.json"))]


def test_joblib_launcher_runs_two_jobs_without_oversubscribing(tmp_path):
    pytest.importorskip("hydra_plugins.hydra_joblib_launcher", reason="pip install .[cluster] for the launchers")
    summaries = tiny_sweep(tmp_path, ["hydra/launcher=joblib", "hydra.launcher.n_jobs=2"])
    assert sorted(s["optimizer"] for s in summaries) == ["adamomentum", "sgd"]
    assert all(s["status"] == "completed" for s in summaries)
    expected = max(1, (os.cpu_count() or 1) // 2)
    assert all(s["config"]["threads"] == expected for s in summaries)


def test_submitit_local_launcher_runs_two_jobs(tmp_path):
    pytest.importorskip("hydra_plugins.hydra_submitit_launcher", reason="pip install .[cluster] for the launchers")
    summaries = tiny_sweep(tmp_path, ["hydra/launcher=submitit_local", "hydra.launcher.timeout_min=5"])
    assert sorted(s["optimizer"] for s in summaries) == ["adamomentum", "sgd"]
    assert all(s["status"] == "completed" for s in summaries)
