"""scripts/diagnose_blowup.py: its records observe a run without changing it, and the committed table in
results/ptb-blowup rebuilds byte for byte from the committed logs."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import torch

from conftest import SMALL_PTB, compose_cfg

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("diagnose_blowup", ROOT / "scripts" / "diagnose_blowup.py")
diagnose_blowup = importlib.util.module_from_spec(spec)
spec.loader.exec_module(diagnose_blowup)


def test_the_committed_table_rebuilds_from_the_committed_logs():
    folder = ROOT / "results" / "ptb-blowup"
    assert diagnose_blowup.table(diagnose_blowup.read(folder)) == (folder / "diagnosis.md").read_text(encoding="utf-8")


def trained(tiny_ptb: Path, observe: bool, tmp_path: Path) -> tuple[dict, list]:
    from adamomentum.train import build_trainer, seed_everything

    cfg = compose_cfg([*SMALL_PTB, f"task.data_dir={tiny_ptb}", "task.max_batches=20", "optimizer=adamomentum",
                       "checkpoint_interval=null", "task.eval_interval=null"])  # fmt: skip
    seed_everything(0)
    trainer = build_trainer(cfg, tmp_path / f"observed={observe}", torch.device("cpu"))
    recorder = diagnose_blowup.Recorder(every=10, bptt=cfg.task.bptt, clip=cfg.task.clip_grad_norm)
    if observe:
        trainer.step_callbacks.append(recorder)
        trainer.task.model.decoder.register_forward_hook(recorder.observe_logits)
    trainer.fit()
    return trainer.task.model.state_dict(), recorder.records


def test_recording_leaves_the_run_as_it_was_and_summarises_each_window(tiny_ptb: Path, tmp_path: Path):
    plain, _ = trained(tiny_ptb, False, tmp_path)
    observed, records = trained(tiny_ptb, True, tmp_path)
    assert all(torch.equal(plain[k], observed[k]) for k in plain)
    assert [r["step"] for r in records] == [10, 20]
    assert all(r["batches"] == 10 and 0 <= r["clipped"] <= 10 and r["max_abs_logit"] > 0 for r in records)
    assert set(records[0]["update_rms"]) == set(plain)  # every parameter tensor (the model has no buffers)
    quantiles = records[-1]["G_quantiles"]
    assert quantiles["0.01"] <= quantiles["0.5"] <= quantiles["0.99"] <= records[-1]["G_max"]
