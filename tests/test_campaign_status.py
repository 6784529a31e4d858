"""scripts/campaign_status.py: what a queue has trained, what it is training and what is left, read from the sweep
folders of a real sweep without disturbing the lanes that train it."""

from __future__ import annotations

import fcntl
from pathlib import Path

import pytest

from adamomentum.sweeps import held, read_locks
from conftest import load_script
from test_run_list_sweeper import TINY_MODEL, run_study

ROOT = Path(__file__).resolve().parents[1]
campaign_status = load_script("campaign_status")

EXPERIMENT = "ptb_data_scale_claim"
# Its first two runs, as its list names them; the other 28 (10%, 25% and 50% of the text) are left to run.
RUNS = ["optimizer=sgd data.train_fraction=0.1 seed=0", "optimizer=momentum data.train_fraction=0.1 seed=0"]


def status(queue: Path, overrides: list[str]) -> list[str]:
    return campaign_status.report(campaign_status.Queue(queue), [EXPERIMENT], "small", " ".join(overrides))


NO_LOCK_TABLE = pytest.mark.skipif(read_locks() is None, reason="this system has no /proc/locks to read locks from")


@NO_LOCK_TABLE
def test_finished_in_flight_and_to_run_runs_and_the_share_of_the_campaign_left(tmp_path: Path, tiny_ptb: Path) -> None:
    queue = tmp_path / "queue"
    queue.mkdir()
    (queue / "conf").symlink_to(ROOT / "conf")
    overrides = [o for o in TINY_MODEL if not o.startswith(("trainer.max_batches", "checkpoint_interval"))]
    args = [f"experiment={EXPERIMENT}", "scale=small", f"data.data_dir={tiny_ptb}", *overrides]
    args += [
        "trainer.epochs=3",
        "checkpoint_interval=5",
        "trainer.log_interval=2",
        f"hydra.sweeper.runs=[{','.join(repr(r) for r in RUNS)}]",
    ]
    trained = run_study(args, queue)
    assert trained.returncode == 0, trained.stderr[-3000:]
    sweep = queue / "outputs" / "study" / f"{EXPERIMENT}-small"
    # Momentum's run stands for one a machine lost mid-way: its checkpoint and log, and no summary.
    # The tiny model's overrides name the run directories too, as a queue's own overrides would.
    momentum = next((sweep / "momentum" / "seed=0").glob("*data.train_fraction=0.1*"))
    (momentum / "summary.json").unlink()

    lines = status(queue, args)
    assert lines[0] == f"{EXPERIMENT}: 1 of 30 finished (0 of them diverged), in {sweep}"
    # 3 epochs of 4 batches (10% of the tiny corpus), logged every 2; lost after its last batch, before its summary.
    in_flight = [line for line in lines if line.startswith("  in flight")]
    assert in_flight == [f"  in flight  {RUNS[1]}: batch 12 of 12 logged, resumes at 12, no lane holds it"]
    # Each named by its entry of the run list, as hydra.sweeper.runs=[...] takes it to reorder a queue.
    to_run = [line.removeprefix("  to run     ") for line in lines if line.startswith("  to run")]
    assert len(to_run) == 28 and to_run[0] == "optimizer=adagrad data.train_fraction=0.1 seed=0"
    # 3 runs on 10% of the text, 10 on 25% and 10 on 50%, then 5 on 10% again at seed 1; nothing of Momentum's.
    left = 3 * 0.1 + 10 * 0.25 + 10 * 0.5 + 5 * 0.1
    totals = "in all: 1 finished, 1 in flight (0 held by a lane now), 28 to run"
    assert lines[-1] == f"{totals}; {left:.2f} full-run equivalents left"

    # Half-way through, held by a lane: the batch its checkpoint holds, and the lock.
    (momentum / "checkpoint.pt").replace(momentum / "checkpoint.end.pt")
    (momentum / "checkpoint.prev.pt").replace(momentum / "checkpoint.pt")
    with open(momentum / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        lines = status(queue, args)
    resumed = next(line for line in lines if line.startswith("  in flight"))
    # Checkpoints every 5 batches and at each epoch's end: the one before the last is at batch 10.
    assert resumed.endswith("batch 12 of 12 logged, resumes at 10, a lane holds it")
    assert lines[-1].startswith("in all: 1 finished, 1 in flight (1 held by a lane now), 28 to run; ")
    assert lines[-1].endswith(f"{left + 0.1 * 2 / 12:.2f} full-run equivalents left")

    # Both checkpoints damaged (a machine that went down mid-write): said, with the way out, and no crash.
    for name in ("checkpoint.pt", "checkpoint.prev.pt"):
        (momentum / name).write_bytes(b"not a checkpoint")
    damaged = next(line for line in status(queue, args) if line.startswith("  in flight"))
    assert f"no checkpoint readable ({momentum / 'checkpoint.pt'} cannot be read (" in damaged
    assert f"; {momentum / 'checkpoint.prev.pt'} cannot be read (" in damaged
    assert damaged.endswith("a relaunch refuses it; move the folder aside, no lane holds it")


def test_an_older_checkouts_key_names_the_share_and_the_queues_own_override_comes_last(tmp_path: Path) -> None:
    (tmp_path / "conf" / "experiment").mkdir(parents=True)
    (tmp_path / "conf" / "config.yaml").symlink_to(ROOT / "conf" / "config.yaml")
    runs = ["optimizer=sgd task.train_fraction=0.25 seed=1", "optimizer=adam seed=0"]
    (tmp_path / "conf" / "experiment" / "older.yaml").write_text(
        "hydra:\n  sweep:\n    dir: outputs/study/older-${study.scale}\n  sweeper:\n    runs:\n"
        + "".join(f"      - {run}\n" for run in runs)
    )
    queue = campaign_status.Queue(tmp_path)
    sgd, adam = queue.entries("older")
    assert (sgd.line, sgd.fraction, sgd.below) == (runs[0], 0.25, Path("sgd/seed=1/task.train_fraction=0.25"))
    assert (adam.fraction, adam.below) == (1.0, Path("adam/seed=0"))
    sgd, adam = queue.entries("older", "data.train_fraction=0.5")
    assert (sgd.fraction, adam.fraction) == (0.5, 0.5)
    with pytest.raises(SystemExit, match="ptb_seeds.yaml has no run list"):
        campaign_status.Queue(ROOT).entries("ptb_seeds")


def test_a_bf16_experiment_is_left_out_of_the_count_on_a_cpu_without_bf16(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ADAMOMENTUM_CPU_BF16", "")  # a CPU without bf16 instructions, as make campaign sees it
    (tmp_path / "conf").symlink_to(ROOT / "conf")  # a checkout with no runs yet
    lines = campaign_status.report(campaign_status.Queue(tmp_path), ["ptb_bf16", "ptb_adam"], "full", "")
    assert lines[0].startswith(f"ptb_bf16: 4 runs in {tmp_path / 'outputs/study/ptb_bf16-full'}, not on this CPU: ")
    # Adam's 3 full runs alone.
    assert (
        lines[-1] == "in all: 0 finished, 0 in flight (0 held by a lane now), 3 to run; 3.00 full-run equivalents left"
    )


@NO_LOCK_TABLE
def test_a_lock_is_read_from_the_lock_table(tmp_path: Path) -> None:
    path = tmp_path / ".lock"
    path.touch()
    assert held(path, read_locks()) is False
    with open(path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        assert held(path, read_locks()) is True
    assert held(path, read_locks()) is False
    assert held(tmp_path / "absent", read_locks()) is False
