"""python -m adamomentum.rerun: retraining a finished run's first batches reproduces its logged evaluations
number for number, a single changed digit is reported (or accepted within --rtol); on the real corpus, a
committed run made on this kind of CPU reproduces its first evaluation."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import torch

from adamomentum.process import device_description
from adamomentum.rerun import main, rerun
from adamomentum.run import run
from conftest import SMALL_PTB, compose_cfg

ROOT = Path(__file__).resolve().parents[1]
PTB_DIR = os.environ.get("PTB_DIR")


def finished_run(tmp_path: Path, tiny_ptb: Path, *overrides: str) -> Path:
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    run(compose_cfg([*SMALL_PTB, f"data.data_dir={tiny_ptb}", "trainer.max_batches=20", *overrides]), run_dir)
    return run_dir


def test_a_rerun_reproduces_every_logged_evaluation_up_to_its_batches(tmp_path: Path, tiny_ptb: Path) -> None:
    run_dir = finished_run(tmp_path, tiny_ptb, "trainer.eval_interval=5", "optimizer.initial_accumulator_value=0.1")
    assert rerun(run_dir).differences == []  # to the first evaluation, batch 5
    assert rerun(run_dir, batches=15).differences == []  # batches 5, 10 and 15


def test_a_changed_number_is_reported_with_its_step_and_key(tmp_path: Path, tiny_ptb: Path, capsys) -> None:
    run_dir = finished_run(tmp_path, tiny_ptb, "trainer.eval_interval=5")
    records = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    logged = records[1]["valid_ppl"]
    records[1]["valid_ppl"] = logged * (1 + 1e-12)
    (run_dir / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    changed = rerun(run_dir, batches=10)
    assert changed.differences == [
        f"step 10: valid_ppl logged {logged * (1 + 1e-12)!r}, rerun {logged!r} (-1.00e-12 relative)"
    ]
    assert changed.logged_device == changed.device == device_description(torch.device("cpu"))
    with pytest.raises(SystemExit) as exit_code:
        main([str(run_dir), "--batches", "10"])
    assert exit_code.value.code == 1
    assert "the rerun differs (run made on cpu (" in capsys.readouterr().out
    assert rerun(run_dir, batches=10, rtol=1e-9).differences == []


def test_a_folder_without_a_run_is_an_error_naming_the_file(tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match="summary.json is missing"):
        main([str(tmp_path)])


def committed_runs_made_here() -> list[Path]:
    """Committed PTB runs made on this kind of CPU (one thread) and first evaluated at batch 500."""
    here = device_description(torch.device("cpu")).rsplit(",", 1)[0] + ", 1 threads)"
    found = []
    for summary in sorted(ROOT.glob("results/*/runs/**/summary.json")):
        record = json.loads(summary.read_text())
        metrics = (summary.parent / "metrics.jsonl").read_text().splitlines()
        if record["task"] == "ptb" and record.get("device") == here and json.loads(metrics[0])["step"] == 500:
            found.append(summary.parent)
    return found


@pytest.mark.skipif(not PTB_DIR, reason="set PTB_DIR to the Penn Treebank folder to rerun a committed run")
def test_a_committed_run_made_on_this_kind_of_cpu_reproduces_its_first_500_batches() -> None:
    runs = committed_runs_made_here()
    if not runs:
        pytest.skip(
            f"no committed PTB run was made on {device_description(torch.device('cpu'))} with one thread: "
            "runs agree bit for bit only on the same kind of CPU"
        )
    result = rerun(runs[0], batches=500, data_dir=PTB_DIR)
    assert result.differences == [], runs[0]
