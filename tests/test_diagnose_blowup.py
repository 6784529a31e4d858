"""scripts/diagnose_blowup.py: its records observe a run without changing it, on both tasks, and the committed
tables in results/ptb-blowup and results/ner-blowup rebuild byte for byte from the committed logs."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

from conftest import SMALL_NER, SMALL_PTB, compose_cfg, load_script, read_scalars

ROOT = Path(__file__).resolve().parents[1]
diagnose_blowup = load_script("diagnose_blowup")


@pytest.mark.parametrize("task", ["ptb", "ner"])
def test_the_committed_table_rebuilds_from_the_committed_logs(task: str):
    folder = ROOT / "results" / f"{task}-blowup"
    table = diagnose_blowup.table(diagnose_blowup.read(folder), diagnose_blowup.TASKS[task])
    assert table == (folder / "diagnosis.md").read_text(encoding="utf-8")


def trained(task: str, data: Path, observe: bool, tmp_path: Path, every: int = 10) -> tuple[dict, list, Path]:
    from adamomentum.process import seed_everything
    from adamomentum.run import build_trainer

    small = {"ptb": [*SMALL_PTB, "trainer.eval_interval=null"], "ner": SMALL_NER}[task]
    cfg = compose_cfg(
        [
            *small,
            f"data.data_dir={data}",
            "trainer.max_batches=20",
            "optimizer=adamomentum",
            "checkpoint_interval=null",
            f"trainer.log_interval={every}",
        ]
    )
    seed_everything(0)
    run_dir = tmp_path / f"{task}-observed={observe}"
    trainer = build_trainer(cfg, run_dir, torch.device("cpu"))
    records = []
    if observe:
        records = diagnose_blowup.attach(
            trainer, diagnose_blowup.TASKS[task], every, cfg.trainer.clip_grad_norm
        ).records
    trainer.fit()
    return trainer.task.model.state_dict(), records, run_dir


@pytest.mark.parametrize("task", ["ptb", "ner"])
def test_recording_leaves_the_run_as_it_was_and_summarises_each_window(
    task: str, tiny_ptb: Path, tiny_ner: Path, tmp_path: Path
):
    data = {"ptb": tiny_ptb, "ner": tiny_ner}[task]
    plain, _, _ = trained(task, data, False, tmp_path)
    observed, records, run_dir = trained(task, data, True, tmp_path)
    assert all(torch.equal(plain[k], observed[k]) for k in plain)
    assert [r["step"] for r in records] == [10, 20]
    assert all(r["batches"] == 10 and 0 <= r["clipped"] <= 10 and r["max_abs_logit"] > 0 for r in records)
    assert set(records[0]["update_rms"]) == set(plain)  # every parameter tensor (the models have no buffers)
    assert set(diagnose_blowup.TASKS[task].shown) <= set(records[0]["update_rms"])
    quantiles = records[-1]["G_quantiles"]
    assert quantiles["0.01"] <= quantiles["0.5"] <= quantiles["0.99"] <= records[-1]["G_max"]
    # The loss per token is the trainer's own (its log over the same windows), whatever the batch's sentence lengths.
    logged = read_scalars(run_dir)["loss/train"]
    assert [r["loss"] for r in records] == pytest.approx([v for _, v in logged], rel=1e-5)


def test_a_rebuild_with_the_other_task_is_refused_with_the_fix(monkeypatch, capsys):
    monkeypatch.setattr(sys, "argv", ["diagnose_blowup.py", "--rebuild", "--out", str(ROOT / "results" / "ner-blowup")])
    with pytest.raises(SystemExit):
        diagnose_blowup.main()
    assert "--task ner" in capsys.readouterr().err


def test_a_rebuild_of_a_folder_never_trained_into_is_refused_with_the_fix(monkeypatch, capsys, tmp_path):
    monkeypatch.setattr(sys, "argv", ["diagnose_blowup.py", "--rebuild", "--out", str(tmp_path)])
    with pytest.raises(SystemExit):
        diagnose_blowup.main()
    err = capsys.readouterr().err
    assert f"{tmp_path / 'runs.json'} does not exist" in err and "--data-dir" in err
