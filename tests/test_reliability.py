"""Runs survive: checkpoint and resume, preemption, divergence, and clear errors for bad input."""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from omegaconf import OmegaConf

from adamomentum.checkpoint import CHECKPOINT, PREVIOUS, CheckpointError, load_checkpoint
from adamomentum.run import build_trainer, run
from adamomentum.signals import Interrupted
from adamomentum.summary import RunSummary
from conftest import SMALL_PTB, compose_cfg, read_jsonl, read_scalars, with_former_keys, write_tiny_ptb

# Long enough (about 40 epochs of 49 batches) that a signal lands mid-run, short enough for CI.
LONG_PTB = [
    *SMALL_PTB,
    "task=ptb",
    "optimizer=adamomentum",
    "trainer.epochs=40",
    "trainer.eval_interval=30",
    "checkpoint_interval=20",
    "trainer.log_interval=10",
]


def train_cmd(run_dir: Path, *overrides: str) -> list[str]:
    return [sys.executable, "-m", "adamomentum.train", *overrides, f"hydra.run.dir={run_dir}"]


def run_cli(args: list[str], cwd: Path, timeout: float = 180) -> subprocess.CompletedProcess:
    return subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=timeout)


def numbers(run_dir: Path) -> tuple[list[dict], dict]:
    """What must match between an interrupted and an uninterrupted run: every metric, no timings."""
    summary = json.loads((run_dir / "summary.json").read_text())
    kept = {k: summary[k] for k in ("status", "steps", "epochs_completed", "final", "best_valid", "test_ppl_stream")}
    return read_jsonl(run_dir / "metrics.jsonl"), kept


def wait_for_checkpoint(run_dir: Path, proc: subprocess.Popen, min_step: int, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, "the run ended before it could be interrupted"
        if (run_dir / CHECKPOINT).exists():
            try:
                if load_checkpoint(run_dir)["step"] >= min_step:
                    return
            except CheckpointError:
                pass  # caught between rename and write; look again
        time.sleep(0.05)
    raise AssertionError(f"no checkpoint past step {min_step} in {run_dir} within {timeout} s")


@pytest.fixture(scope="module")
def reference_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """An uninterrupted run, and the corpus it used."""
    base = tmp_path_factory.mktemp("reference")
    data = write_tiny_ptb(base / "ptb")
    run_dir = base / "run"
    proc = run_cli(train_cmd(run_dir, *LONG_PTB, f"data.data_dir={data}"), cwd=base)
    assert proc.returncode == 0, proc.stderr
    return run_dir, data


@pytest.mark.parametrize("how", ["SIGTERM", "SIGKILL"])
def test_interrupted_and_resumed_run_matches_uninterrupted_run(reference_run, tmp_path, how):
    reference_dir, data = reference_run
    run_dir = tmp_path / "run"
    proc = subprocess.Popen(
        train_cmd(run_dir, *LONG_PTB, f"data.data_dir={data}"),
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    wait_for_checkpoint(run_dir, proc, min_step=250)
    proc.send_signal(getattr(signal, how))
    _, stderr = proc.communicate(timeout=120)
    if how == "SIGTERM":
        assert proc.returncode == 143
        assert f"resume={run_dir}" in stderr
    else:
        assert proc.returncode == -signal.SIGKILL
    assert not (run_dir / "summary.json").exists()
    stopped_at = load_checkpoint(run_dir)["step"]

    resumed = run_cli([sys.executable, "-m", "adamomentum.train", f"resume={run_dir}"], cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    # From the checkpoint, not from scratch (which would end with the same numbers too).
    assert re.search(rf"resuming .* at epoch \d+, step {stopped_at}\n", (run_dir / "train.log").read_text())
    assert numbers(run_dir) == numbers(reference_dir)
    # TensorBoard: no step logged twice or out of order after the resume.
    for tag, points in read_scalars(run_dir).items():
        steps = [s for s, _ in points]
        assert steps == sorted(set(steps)), f"{tag} steps repeat or step back after resuming at {stopped_at}"


def test_a_stop_with_checkpoints_off_says_there_is_nothing_to_resume(tmp_path, tiny_ptb):
    cfg = compose_cfg([*SMALL_PTB, f"data.data_dir={tiny_ptb}", "checkpoint_interval=null", "trainer.max_batches=10"])
    trainer = build_trainer(cfg, tmp_path, torch.device("cpu"))
    trainer.step_callbacks.append(lambda step, *_: os.kill(os.getpid(), signal.SIGTERM) if step == 3 else None)
    with pytest.raises(
        Interrupted,
        match=r"^SIGTERM received: stopped at step 3 without a checkpoint "
        r"\(checkpoint_interval=null\): start the run again to redo it$",
    ):
        trainer.fit()
    assert not (tmp_path / CHECKPOINT).exists()


def descendants(pid: int) -> list[tuple[int, str]]:
    """(pid, command line) of every process below ``pid``, read from Linux's /proc."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parent = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue  # ended while we looked
        children.setdefault(parent, []).append(int(stat.parent.name))
    found, queue = [], list(children.get(pid, []))
    while queue:
        child = queue.pop()
        try:
            found.append((child, (Path("/proc") / str(child) / "cmdline").read_text().replace("\0", " ")))
        except OSError:
            continue
        queue.extend(children.get(child, []))
    return found


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="finds the job's process through Linux's /proc")
def test_submitit_preemption_signal_checkpoints_the_current_step_and_the_requeued_job_resumes(reference_run, tmp_path):
    """hydra/launcher=submitit_local, and the signal its controller forwards to the job before a time-out
    (the one submitit has SLURM send before the time limit and at preemption): the job writes a
    checkpoint at the step it is on, submitit's own handler requeues it, and the requeued job
    resumes from that step and ends with the uninterrupted run's metrics."""
    local = pytest.importorskip("submitit.local.local")
    reference_dir, data = reference_run
    sweep = tmp_path / "sweep"
    run_dir = sweep / "run"
    # trainer.log_interval=1 puts every trained step in train.log.
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "adamomentum.train",
            "--multirun",
            "hydra/launcher=submitit_local",
            *LONG_PTB,
            "trainer.log_interval=1",
            f"data.data_dir={data}",
            f"hydra.sweep.dir={sweep}",
            "hydra.sweep.subdir=run",
        ],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    wait_for_checkpoint(run_dir, proc, min_step=250)
    jobs = [pid for pid, cmdline in descendants(proc.pid) if "submitit.core._submit" in cmdline]
    assert len(jobs) == 1, descendants(proc.pid)
    preemption_signal = local.LocalJobEnvironment._usr_sig()  # what the controller forwards
    os.kill(jobs[0], preemption_signal)
    _, stderr = proc.communicate(timeout=180)
    assert proc.returncode == 0, stderr
    assert numbers(run_dir) == numbers(reference_dir)

    log = (run_dir / "train.log").read_text()
    name = signal.Signals(preemption_signal).name
    stop = re.search(rf"{name} at step (\d+): checkpoint written", log)
    assert stop, f"no checkpoint on {name} in {run_dir / 'train.log'}"
    stopped_at = int(stop.group(1))
    last_trained = int(re.findall(r"step (\d+)/\d+: loss", log[: stop.start()])[-1])
    handed_over = log[stop.end() :]
    assert f"Caught signal {name}" in handed_over and "Requeued job" in handed_over  # submitit's handler ran
    resumed_at = int(re.search(r"resuming .* at epoch \d+, step (\d+)", handed_over).group(1))
    # No batch trained twice: the requeued job starts right after the last step the first one trained.
    assert last_trained == stopped_at == resumed_at


def test_relaunching_a_finished_run_does_nothing(reference_run, tmp_path):
    reference_dir, data = reference_run
    before = (reference_dir / "summary.json").read_text()
    again = run_cli(train_cmd(reference_dir, *LONG_PTB, f"data.data_dir={data}"), cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert (reference_dir / "summary.json").read_text() == before


def test_a_finished_run_directory_is_not_reused_for_another_config(reference_run, tmp_path):
    reference_dir, data = reference_run
    again = run_cli(train_cmd(reference_dir, *LONG_PTB, f"data.data_dir={data}", "optimizer.lr=0.5"), cwd=tmp_path)
    assert again.returncode == 2
    assert "optimizer.lr: 0.02 -> 0.5" in again.stderr


def test_a_run_another_process_is_training_is_skipped_and_trained_once_it_is_free(tmp_path):
    """Two lanes of a queue (make campaign) go through the same run list: a run one lane holds is not
    trained a second time by the other."""
    import fcntl

    data = write_tiny_ptb(tmp_path / "ptb")
    cfg = compose_cfg([*SMALL_PTB, f"data.data_dir={data}", "trainer.max_batches=3", "trainer.eval_interval=null"])
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    with open(run_dir / ".lock", "w") as other_lane:
        fcntl.flock(other_lane, fcntl.LOCK_EX | fcntl.LOCK_NB)
        assert run(cfg, run_dir).status == "training elsewhere"
        assert not (run_dir / "summary.json").exists() and not (run_dir / "metrics.jsonl").exists()
    assert run(cfg, run_dir).status == "completed"


def short_run(tmp_path: Path, *overrides: str) -> Path:
    data = write_tiny_ptb(tmp_path / "ptb")
    cfg = compose_cfg([*SMALL_PTB, f"data.data_dir={data}", "trainer.epochs=2", "checkpoint_interval=10", *overrides])
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    run(cfg, run_dir)
    return run_dir


def test_checkpoints_load_without_pickled_code_and_hold_the_whole_state(tmp_path):
    run_dir = short_run(tmp_path)
    state = torch.load(run_dir / CHECKPOINT, weights_only=True)
    assert {"model", "optimizer", "lr_scheduler", "task", "rng", "step", "epoch", "batch_in_epoch"} <= state.keys()
    sums = [s["sum"] for s in state["optimizer"]["state"].values()]
    velocities = [s["velocity"] for s in state["optimizer"]["state"].values()]
    assert sums and all(torch.is_tensor(t) for t in sums + velocities)
    assert len(state["task"]["hidden"]) == 2
    assert not list(run_dir.glob(".checkpoint.*")), "a temporary checkpoint file was left behind"


def test_a_truncated_checkpoint_is_refused_and_the_previous_one_used(tmp_path, caplog):
    run_dir = short_run(tmp_path)
    previous_step = torch.load(run_dir / PREVIOUS, weights_only=True)["step"]
    data = (run_dir / CHECKPOINT).read_bytes()
    (run_dir / CHECKPOINT).write_bytes(data[: len(data) // 2])
    state = load_checkpoint(run_dir)
    assert state["step"] == previous_step
    assert "cannot be read" in caplog.text and PREVIOUS in caplog.text

    (run_dir / PREVIOUS).unlink()
    with pytest.raises(CheckpointError, match="cannot be read.*no checkpoint.prev.pt"):
        load_checkpoint(run_dir)


def test_two_damaged_checkpoints_name_both_and_say_what_to_do(tmp_path):
    run_dir = short_run(tmp_path)
    for name in (CHECKPOINT, PREVIOUS):
        data = (run_dir / name).read_bytes()
        (run_dir / name).write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError) as error:
        load_checkpoint(run_dir)
    message = str(error.value)
    assert message.startswith(f"both checkpoints of {run_dir} are unusable")
    assert CHECKPOINT in message and PREVIOUS in message and "start the run again" in message
    assert "weights_only" not in message


def test_loading_a_checkpoint_leaves_metrics_alone_and_resuming_cuts_them_back(tmp_path):
    from adamomentum.run import build_trainer

    run_dir = short_run(tmp_path, "trainer.eval_interval=5")
    cfg = compose_cfg(
        [
            *SMALL_PTB,
            f"data.data_dir={tmp_path / 'ptb'}",
            "trainer.epochs=2",
            "checkpoint_interval=10",
            "trainer.eval_interval=5",
        ]
    )
    logged = read_jsonl(run_dir / "metrics.jsonl")
    before = (run_dir / "metrics.jsonl").read_bytes()
    state = torch.load(run_dir / PREVIOUS, weights_only=True)
    assert logged[-1]["step"] > state["step"]  # evaluations were logged after this checkpoint

    trainer = build_trainer(cfg, run_dir, torch.device("cpu"))
    trainer.load_state_dict(state)
    assert (run_dir / "metrics.jsonl").read_bytes() == before

    trainer.resume(state)
    kept = read_jsonl(run_dir / "metrics.jsonl")
    assert kept == logged[: len(kept)] == state["history"]
    assert kept[-1]["step"] <= state["step"] < logged[len(kept)]["step"]


def test_resuming_with_a_changed_model_config_is_refused(tmp_path):
    run_dir = short_run(tmp_path, "trainer.max_batches=30")
    (run_dir / "summary.json").unlink()  # as if it had been interrupted
    proc = run_cli(
        [sys.executable, "-m", "adamomentum.train", f"resume={run_dir}", "model.hidden_size=32"], cwd=tmp_path
    )
    assert proc.returncode == 2
    assert "model.hidden_size: 16 -> 32" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_a_checkpoint_that_stored_the_keys_before_they_moved_resumes_and_finishes(tmp_path):
    """Runs stopped before the schedule moved to ``trainer`` (the campaign's) hold ``task.epochs`` and the like
    in their checkpoints: ``resume=DIR`` reads them in today's keys."""
    run_dir = short_run(tmp_path, "trainer.max_batches=30")
    (run_dir / "summary.json").unlink()
    (run_dir / PREVIOUS).unlink()
    state = torch.load(run_dir / CHECKPOINT, weights_only=True)
    config = OmegaConf.to_container(OmegaConf.create(state["config"]))
    state["config"] = OmegaConf.to_yaml(with_former_keys(config))
    assert "trainer" not in OmegaConf.create(state["config"])
    torch.save(state, run_dir / CHECKPOINT)
    proc = run_cli(
        [sys.executable, "-m", "adamomentum.train", f"resume={run_dir}", "trainer.max_batches=40"], cwd=tmp_path
    )
    assert proc.returncode == 0, proc.stderr
    summary = RunSummary.read(run_dir)
    assert summary.completed and summary.steps == 40
    assert summary.config["trainer"]["max_batches"] == 40 and "epochs" not in summary.config["task"]


def test_resume_of_a_folder_without_checkpoint_says_so(tmp_path):
    proc = run_cli([sys.executable, "-m", "adamomentum.train", f"resume={tmp_path}"], cwd=tmp_path)
    assert proc.returncode == 2
    assert "holds no checkpoint.pt" in proc.stderr and "Traceback" not in proc.stderr


def test_divergence_stops_the_run_cleanly_and_a_multirun_carries_on(tmp_path):
    data = write_tiny_ptb(tmp_path / "ptb")
    sweep = tmp_path / "sweep"
    proc = run_cli(
        [
            sys.executable,
            "-m",
            "adamomentum.train",
            "--multirun",
            *SMALL_PTB,
            "optimizer=sgd",
            f"data.data_dir={data}",
            "trainer.epochs=1",
            "trainer.clip_grad_norm=null",
            "optimizer.lr=1e38,0.5",
            f"hydra.sweep.dir={sweep}",
        ],
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    summaries = {
        s["config"]["optimizer"]["lr"]: s for s in (json.loads(p.read_text()) for p in sweep.rglob("summary.json"))
    }
    assert summaries[1e38]["status"] == "diverged"
    assert summaries[1e38]["diverged_at_step"] >= 1
    assert summaries[0.5]["status"] == "completed"


def test_bf16_on_a_cpu_without_bf16_instructions_is_refused_before_any_run_folder_exists(tmp_path):
    """On an AVX2-only CPU bf16 runs 30-60x slower than float32 and oneDNN's LSTM fails: one line, exit 2.
    The variable declares the CPU's bf16 instructions, so the check runs on every CPU."""
    data = write_tiny_ptb(tmp_path / "ptb")
    env = {**os.environ, "ADAMOMENTUM_CPU_BF16": ""}
    proc = subprocess.run(
        train_cmd(tmp_path / "run", *SMALL_PTB, f"data.data_dir={data}", "precision=bf16"),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=180,
        env=env,
    )
    assert proc.returncode == 2
    [line] = proc.stderr.strip().splitlines()
    assert line.startswith("error: precision=bf16: this CPU (") and "use precision=fp32" in line
    assert not (tmp_path / "run").exists()


def test_a_run_records_the_cpus_bf16_instructions_and_a_resume_on_another_kind_says_so(tmp_path, monkeypatch, caplog):
    data = write_tiny_ptb(tmp_path / "ptb")
    cfg = compose_cfg([*SMALL_PTB, f"data.data_dir={data}", "trainer.eval_interval=null"])
    monkeypatch.setenv("ADAMOMENTUM_CPU_BF16", "AVX512_BF16")
    launched = build_trainer(cfg, tmp_path / "a", torch.device("cpu"))
    assert [d.split("bf16: ")[1].split(",")[0] for d in launched.devices] == ["AVX512_BF16"]
    monkeypatch.setenv("ADAMOMENTUM_CPU_BF16", "")
    resumed = build_trainer(cfg, tmp_path / "b", torch.device("cpu"))
    resumed.load_state_dict(launched.state_dict())
    assert [d.split("bf16: ")[1].split(",")[0] for d in resumed.devices] == ["AVX512_BF16", "none"]
    assert "resumed on another kind of device" in caplog.text
    again = build_trainer(cfg, tmp_path / "c", torch.device("cpu"))
    again.load_state_dict(resumed.state_dict())
    assert again.devices == resumed.devices  # a device already listed is not listed twice


@pytest.mark.parametrize(
    "overrides, message",
    [
        (["task=foo"], "Could not find 'task/foo'; choose one of: ner, ptb."),
        (["optimizer=adamomentun"], "Could not find 'optimizer/adamomentun'; choose one of: adagrad, adam,"),
        (["optimizer.lrr=1"], "Could not override 'optimizer.lrr': Key 'lrr' not in 'OptimizerConfig'"),
        (["+optimizer.lrr=0.1"], "optimizer.lrr is not a config key"),
        (["study.scale=small"], "the scale is a config group now (conf/scale/), which sets study.scale and the"),
        (["scale=medium"], "Could not find 'scale/medium'; choose one of: full, small."),
        (["task.epochs=1"], "task.epochs=1: task.epochs is trainer.epochs now; pass trainer.epochs=1 instead."),
        (["optimizer.lr_decay=false"], "optimizer.lr_decay is trainer.lr_decay now; pass trainer.lr_decay=false"),
        (["log_interval=5"], "log_interval is trainer.log_interval now; pass trainer.log_interval=5 instead."),
        (["+task.epochs=1"], "task.epochs is trainer.epochs now; pass trainer.epochs=1 instead."),
        (
            ["task.type_aliases.NR=LOC"],
            "task.type_aliases.NR is data.type_aliases.NR now; pass data.type_aliases.NR=LOC",
        ),
        (
            ["~task.clip_grad_norm"],
            "task.clip_grad_norm is trainer.clip_grad_norm now; pass trainer.clip_grad_norm=<value>",
        ),
        (["optimizer.lr=abc"], "optimizer.lr=abc: Value 'abc' of type 'str' could not be converted to Float"),
        (["trainer.epochs=many"], "trainer.epochs"),
        (["optimizer.lr=-1"], "optimizer.lr=-1.0 must be >= 0"),
        (["optimizer.eps=-1"], "optimizer.eps=-1.0 must be >= 0"),
        (["optimizer.momentum=1.5"], "optimizer.momentum=1.5 must lie in [0, 1)"),
        (["trainer.epochs=-1"], "trainer.epochs=-1 must be >= 0"),
        (["trainer.eval_interval=0"], "trainer.eval_interval=0 must be a positive number"),
        (["data.train_fraction=0"], "data.train_fraction=0.0 must lie in (0, 1]"),
        (["data.data_dir={tmp}/nowhere"], "missing PTB file(s)"),
        (["resume={tmp}/nowhere"], "holds no checkpoint.pt"),
    ],
)
def test_every_mistake_is_one_line_exit_2_and_leaves_no_run_folder(tmp_path, overrides, message):
    data = write_tiny_ptb(tmp_path / "ptb")
    overrides = [o.format(tmp=tmp_path) for o in overrides]
    run_dir = tmp_path / "run"
    proc = run_cli(train_cmd(run_dir, *SMALL_PTB, f"data.data_dir={data}", *overrides), cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    [line] = proc.stderr.strip().splitlines()
    assert line.startswith("error: ") and message in line, line
    assert not run_dir.exists() and not (tmp_path / "outputs").exists()


def test_the_resume_command_a_stopped_run_prints_works_pasted_into_a_shell(tmp_path, tiny_ptb):
    """A sweep's run directory holds ``=`` and ``,``, which Hydra reads as syntax: the printed command quotes
    them for Hydra and for the shell."""
    run_dir = tmp_path / "sweep" / "sgd" / "seed=0" / "checkpoint_interval=5,trainer.max_batches=40"
    cfg = compose_cfg(
        [
            *SMALL_PTB,
            f"data.data_dir={tiny_ptb}",
            "optimizer=sgd",
            "checkpoint_interval=5",
            "trainer.max_batches=40",
            "trainer.eval_interval=null",
        ]
    )
    trainer = build_trainer(cfg, run_dir, torch.device("cpu"))
    trainer.step_callbacks.append(lambda step, *_: os.kill(os.getpid(), signal.SIGTERM) if step == 12 else None)
    with pytest.raises(Interrupted) as stopped:
        trainer.fit()
    command = str(stopped.value).split("continue with: ", 1)[1]
    assert command.startswith("python -m adamomentum.train ")
    pasted = subprocess.run(
        command.replace("python", shlex.quote(sys.executable), 1),
        shell=True,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert pasted.returncode == 0, pasted.stderr
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["status"] == "completed" and summary["steps"] == 40
    assert "resuming" in (run_dir / "train.log").read_text()


def test_cuda_without_a_gpu(tmp_path):
    data = write_tiny_ptb(tmp_path / "ptb")
    proc = run_cli(train_cmd(tmp_path / "run", *SMALL_PTB, f"data.data_dir={data}", "device=cuda"), cwd=tmp_path)
    assert proc.returncode == 2
    assert "device=cuda" in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.parametrize("damage", ["missing", "empty"])
def test_damaged_data_files(tmp_path, damage):
    data = write_tiny_ptb(tmp_path / "ptb")
    target = data / "ptb.valid.txt"
    if damage == "missing":
        target.unlink()
    else:
        target.write_text("")
    proc = run_cli(train_cmd(tmp_path / "run", *SMALL_PTB, f"data.data_dir={data}"), cwd=tmp_path)
    assert proc.returncode == 2
    assert "ptb.valid.txt" in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.skipif("PTB_DIR" not in os.environ, reason="set PTB_DIR to the Penn Treebank folder to run")
def test_truncated_real_data_file_fails_its_checksum(tmp_path):
    data = tmp_path / "ptb"
    data.mkdir()
    for name in ("ptb.train.txt", "ptb.valid.txt", "ptb.test.txt"):
        (data / name).write_bytes((Path(os.environ["PTB_DIR"]) / name).read_bytes())
    target = data / "ptb.valid.txt"
    target.write_bytes(target.read_bytes()[:-1000])
    proc = run_cli(
        train_cmd(tmp_path / "run", "threads=1", f"data.data_dir={data}", "data.download=false"), cwd=tmp_path
    )
    assert proc.returncode == 2
    assert "ptb.valid.txt" in proc.stderr and "SHA-256" in proc.stderr and "Traceback" not in proc.stderr


def test_unwritable_output_directory(tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    proc = run_cli([sys.executable, "-m", "adamomentum.train", f"hydra.run.dir={blocker}/run"], cwd=tmp_path)
    assert proc.returncode == 2
    assert "cannot create run directories" in proc.stderr and "Traceback" not in proc.stderr


def test_full_error_env_shows_the_traceback(tmp_path):
    data = write_tiny_ptb(tmp_path / "ptb")
    env = {**os.environ, "HYDRA_FULL_ERROR": "1"}
    proc = subprocess.run(
        train_cmd(tmp_path / "run", *SMALL_PTB, f"data.data_dir={data}", "optimizer.lr=-1"),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert proc.returncode != 0
    assert "Traceback" in proc.stderr


def test_divergence_is_found_at_the_same_step_when_checks_are_deferred(tmp_path):
    """On CUDA the finiteness check is read only where the loop syncs anyway (here every 7 steps);
    it must name the same first non-finite step as the per-step check on CPU."""
    from adamomentum.tasks.ptb import PTBTask
    from adamomentum.trainer import Trainer, TrainingSchedule

    data = write_tiny_ptb(tmp_path / "ptb")
    cfg = compose_cfg([*SMALL_PTB, f"data.data_dir={data}"])
    results = {}
    for every_step in (True, False):
        torch.manual_seed(0)
        task = PTBTask(cfg.task, cfg.data, cfg.model, torch.device("cpu"))
        optimizer = torch.optim.SGD(task.model.parameters(), lr=1e38)
        schedule = TrainingSchedule(
            epochs=1,
            max_batches=None,
            eval_interval=None,
            log_interval=7,
            clip_grad_norm=None,
            lr_decay=False,
            lr_decay_start=0,
            lr_decay_factor=1.0,
            momentum_schedule="constant",
            momentum_warmup_steps=0,
        )
        run_dir = tmp_path / f"run-every-step-{every_step}"
        run_dir.mkdir()
        trainer = Trainer(task, optimizer, schedule, run_dir, torch.device("cpu"), progress=False)
        trainer.check_every_step = every_step
        results[every_step] = trainer.fit()
    per_step, deferred = results[True], results[False]
    assert per_step.status == deferred.status == "diverged"
    assert deferred.diverged_at_step == per_step.diverged_at_step >= 1
    # The per-step check stops before the bad update; the deferred one trained on to the sync that
    # found it, so it really took the deferred path and still named the first bad step.
    assert per_step.steps == per_step.diverged_at_step - 1
    assert deferred.steps % 7 == 0 and deferred.steps > deferred.diverged_at_step


def test_summary_names_the_commit_the_run_started_from(tmp_path, monkeypatch):
    import adamomentum.run as train

    monkeypatch.setattr(train, "git_commit", lambda: "commit-at-launch")
    run_dir = short_run(tmp_path, "trainer.max_batches=30")
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["git_commit"] == "commit-at-launch" and "git_commits" not in summary

    # Resumed under newer code: both commits are recorded, the launch's first.
    (run_dir / "summary.json").unlink()
    monkeypatch.setattr(train, "git_commit", lambda: "commit-at-resume")
    cfg = compose_cfg(
        [
            *SMALL_PTB,
            f"data.data_dir={tmp_path / 'ptb'}",
            "trainer.epochs=2",
            "checkpoint_interval=10",
            "trainer.max_batches=60",
        ]
    )
    train.run(cfg, run_dir)
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["git_commits"] == ["commit-at-launch", "commit-at-resume"]
    assert summary["git_commit"] == "commit-at-launch"


def test_the_commit_is_read_once_per_process(monkeypatch: pytest.MonkeyPatch) -> None:
    """A multirun process keeps the code it imported: later HEADs must not be credited with its runs."""
    import adamomentum.process as train

    heads = iter(["first\n", "second\n"])

    def fake_git(args: list[str], **kwargs: object) -> subprocess.CompletedProcess:
        out = next(heads) if args[1] == "rev-parse" else ""
        return subprocess.CompletedProcess(args, 0, stdout=out, stderr="")

    train.git_commit.cache_clear()
    monkeypatch.setattr(train.subprocess, "run", fake_git)
    try:
        assert train.git_commit() == "first"
        assert train.git_commit() == "first"
    finally:
        train.git_commit.cache_clear()


def test_a_stop_whose_earlier_handler_does_not_requeue_tells_the_user_to_relaunch():
    """submitit's handler raises once the job's time-outs are used up; the run then says how to go on."""
    from adamomentum.signals import NotRequeued, StopRequest

    def used_up(signum: int, frame: object) -> None:
        raise RuntimeError("Job not requeued because: timed-out too many times.")

    earlier = signal.signal(signal.SIGTERM, used_up)
    try:
        with StopRequest() as request:
            os.kill(os.getpid(), signal.SIGTERM)
            assert request.signum == signal.SIGTERM
            with pytest.raises(NotRequeued, match=r"timed-out too many times\. The checkpoint is written: relaunch"):
                request.hand_over()
    finally:
        signal.signal(signal.SIGTERM, earlier)
