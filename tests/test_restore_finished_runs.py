"""scripts/restore_finished_runs.py: a queue relaunched on a new machine, with its sweep folders gone, skips the
runs a results folder holds once they are restored, and trains none of them again."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

from conftest import load_script
from test_run_list_sweeper import TINY_MODEL, run_study

ROOT = Path(__file__).resolve().parents[1]
restore_finished_runs = load_script("restore_finished_runs")

RUNS = [
    "optimizer=adamomentum seed=0",
    "optimizer=adamomentum optimizer.initial_accumulator_value=0.1 seed=0",
    "optimizer=sgd seed=1",
]


def sweep_args(data: Path) -> list[str]:
    return [
        "experiment=ptb_verdict",
        "scale=small",
        f"data.data_dir={data}",
        *TINY_MODEL,
        f"hydra.sweeper.runs=[{','.join(repr(r) for r in RUNS)}]",
    ]


def outputs(sweep: Path) -> dict[str, str]:
    return {
        str(p.relative_to(sweep)): p.read_text()
        for p in sorted(sweep.rglob("*"))
        if p.name in ("summary.json", "metrics.jsonl")
    }


def checkout(tmp_path: Path) -> Path:
    queue = tmp_path / "queue"
    queue.mkdir()
    (queue / "conf").symlink_to(ROOT / "conf")
    return queue


def test_a_relaunch_skips_every_restored_run_and_trains_the_rest(tmp_path: Path, tiny_ptb: Path) -> None:
    queue = checkout(tmp_path)
    first = run_study(sweep_args(tiny_ptb), queue)
    assert first.returncode == 0, first.stderr[-3000:]
    sweep = queue / "outputs" / "study" / "ptb_verdict-small"
    trained = outputs(sweep)
    assert len(trained) == 2 * len(RUNS)
    # The report copies the runs into a results folder; the machine, and the sweep with it, is then lost.
    report = subprocess.run(
        [sys.executable, "-m", "adamomentum.report", "--out", str(tmp_path / "results"), str(sweep)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert report.returncode == 0, report.stderr[-3000:]
    shutil.rmtree(queue / "outputs")
    # A run trained on the new machine before the restore is left as it is.
    runs = tmp_path / "results" / "runs"
    [sgd_summary] = [k for k in trained if k.startswith("sgd/") and k.endswith("summary.json")]
    in_flight = sweep / Path(sgd_summary).parent
    in_flight.mkdir(parents=True)
    (in_flight / "train.log").write_text("a run in flight\n")
    restore_finished_runs.main([str(runs), "--into", str(queue)])
    assert (in_flight / "train.log").read_text() == "a run in flight\n" and not (in_flight / "summary.json").exists()
    restored = outputs(sweep)
    assert restored == {k: v for k, v in trained.items() if not k.startswith("sgd/")}

    again = run_study(sweep_args(tiny_ptb), queue)
    assert again.returncode == 0, again.stderr[-3000:]
    assert (again.stdout + again.stderr).count("already finished") == 2
    after = outputs(sweep)
    assert {k: v for k, v in after.items() if not k.startswith("sgd/")} == restored
    assert json.loads(after[sgd_summary])["status"] == "completed"


def committed(runs: Path, below: str, command: str) -> None:
    (runs / below).mkdir(parents=True)
    summary = {"task": "ptb", "optimizer": "sgd", "seed": 0, "status": "completed", "command": command}
    (runs / below / "summary.json").write_text(json.dumps({**summary, "config": {"study": {"scale": "full"}}}))


def test_a_run_goes_back_below_its_own_experiments_sweep_under_the_queues_names_for_its_keys(
    tmp_path: Path, capsys
) -> None:
    """results/ptb-verdict keeps the bf16 sweep's sgd/seed=0 below ptb_bf16-full/, as its path was the float32
    run's already; the data-scale runs were named by keys that moved since (task.train_fraction), some trained
    from a run list on the command line; a run of no experiment (results/ptb's) has no sweep to go back to, one
    with hydra.sweep.dir on its command goes there."""
    runs = tmp_path / "runs"
    committed(runs, "sgd/seed=0", "python -m adamomentum.train task=ptb")
    committed(runs, "ptb_bf16-full/sgd/seed=0", "python -m adamomentum.train experiment=ptb_bf16 threads=1")
    queue_command = "experiment=ptb_data_scale_claim hydra/launcher=joblib task.data_dir=/d threads=1 progress=false"
    committed(runs, "sgd/seed=1/task.train_fraction=0.1", f"python -m adamomentum.train {queue_command}")
    committed(runs, "adam/seed=1/optimizer.lr_decay=true", "python -m adamomentum.train experiment=ptb_adam")
    committed(runs, "adam/seed=7/optimizer.lr_decay=true", "python -m adamomentum.train experiment=ptb_adam")
    committed(runs, "adagrad/seed=0/x=1", "python -m adamomentum.train -m hydra.sweep.dir=outputs/study/v-full")
    listed = 'experiment=ptb_data_scale_claim hydra.sweeper.runs=["optimizer=momentum task.train_fraction=0.1 seed=1"]'
    committed(runs, "momentum/seed=1/task.train_fraction=0.1", f"python -m adamomentum.train {listed}")
    own_list = 'experiment=ptb_data_scale_claim hydra.sweeper.runs=["optimizer=sgd task.train_fraction=0.3 seed=0"]'
    committed(runs, "sgd/seed=0/task.train_fraction=0.3", f"python -m adamomentum.train {own_list}")
    study = checkout(tmp_path) / "outputs" / "study"
    assert restore_finished_runs.restore(runs, study.parents[1], {"ptb_bf16"}, replace_unfinished=False) == [
        study / "ptb_bf16-full" / "sgd" / "seed=0"
    ]
    assert sorted(restore_finished_runs.restore(runs, study.parents[1], set(), replace_unfinished=False)) == [
        study / "ptb_adam-full" / "adam" / "seed=1" / "trainer.lr_decay=true",
        study / "ptb_data_scale_claim-full" / "momentum" / "seed=1" / "data.train_fraction=0.1",
        study / "ptb_data_scale_claim-full" / "sgd" / "seed=0" / "task.train_fraction=0.3",
        study / "ptb_data_scale_claim-full" / "sgd" / "seed=1" / "data.train_fraction=0.1",
        study / "v-full" / "adagrad" / "seed=0" / "x=1",
    ]
    out = capsys.readouterr().out
    assert f"left out: {runs / 'sgd' / 'seed=0'}: its command names no experiment" in out
    assert "adam/seed=7/optimizer.lr_decay=true: no entry of conf/experiment/ptb_adam.yaml's run list" in out
