"""Results folders: run discovery, the copies under runs/ from which a folder rebuilds itself, the command line,
and every committed results/ folder rebuilding byte for byte from its own runs."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from adamomentum.report import f1_by_epoch, find_runs, main, write_report
from adamomentum.report.write import report_markdown
from report_runs import ptb_metrics, runs_root, write_run

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "results"
COMMITTED = sorted(p.parent for p in RESULTS.rglob("results.md") if "runs" not in p.relative_to(RESULTS).parts)


def files_below(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())


def test_runs_are_copied_with_their_path_below_the_folder_they_were_found_in(tmp_path: Path) -> None:
    root = runs_root(tmp_path)
    out = tmp_path / "results"
    write_report(find_runs([root]), out)
    assert files_below(out / "runs") == sorted(
        f"{task}/{opt}/a/{name}"
        for task, opt in [
            ("ptb", "sgd"),
            ("ptb", "momentum"),
            ("ptb", "adagrad"),
            ("ptb", "adamomentum"),
            ("ner", "adamomentum"),
            ("ner", "sgd"),
        ]
        for name in ("summary.json", "metrics.jsonl")
    )
    for name in ("summary.json", "metrics.jsonl"):
        assert (out / "runs/ptb/adagrad/a" / name).read_bytes() == (root / "ptb/adagrad/a" / name).read_bytes()


def test_a_run_passed_on_its_own_keeps_its_path_below_its_sweep(tmp_path: Path) -> None:
    """results/ptb-verdict-ablations: the ablations' sweep folder and, on its own, the verdict's run of the same
    seed; its copy sits at adamomentum/seed=0/<overrides>, as the ablations' do. Outside a sweep: its name."""
    sweep = tmp_path / "ptb_verdict-full"
    alone = sweep / "adamomentum/seed=0/optimizer.initial_accumulator_value=0.1"
    write_run(alone, "ptb", "adamomentum", ptb_metrics([160.0], [153.7]))
    (sweep / "multirun.yaml").write_text("hydra: {}\n")
    write_run(tmp_path / "scratch/probe", "ptb", "sgd", ptb_metrics([130.0], [125.0]))
    out = tmp_path / "results"
    write_report(find_runs([alone, tmp_path / "scratch/probe"]), out)
    assert files_below(out / "runs") == sorted(
        f"{run}/{name}"
        for run in ("adamomentum/seed=0/optimizer.initial_accumulator_value=0.1", "probe")
        for name in ("summary.json", "metrics.jsonl")
    )


@pytest.mark.parametrize("source", ["folder", "runs"])
def test_a_results_folder_rebuilds_itself_in_place_without_nesting_runs(tmp_path: Path, source: str) -> None:
    """``--out results/X results/X`` (and ``results/X/runs``) rebuilds the same report from the same copies."""
    out = tmp_path / "results"
    first = write_report(find_runs([runs_root(tmp_path)]), out).read_text()
    copies = files_below(out / "runs")
    second = write_report(find_runs([out if source == "folder" else out / "runs"]), out).read_text()
    assert files_below(out / "runs") == copies, "no runs/runs/ and no run counted twice"
    assert second == first


def test_a_rebuild_removes_the_figures_it_no_longer_draws_and_only_those(tmp_path: Path) -> None:
    """A verdict figure left from an earlier build outlives the results.md that showed it; a script's PNG in
    the same folder (results/ptb-blowup/blowup_ptb.png) is not the report's to remove."""
    out = tmp_path / "results"
    out.mkdir()
    for name in (
        "verdict_ptb.png",
        "lr_sensitivity_ptb.png",
        "data_scale_claim_ptb.png",
        "lr_tuning_ptb.png",
        "blowup_ptb.png",
    ):
        (out / name).write_bytes(b"png")
    write_report(find_runs([runs_root(tmp_path)]), out)
    assert sorted(p.name for p in out.glob("*.png")) == ["blowup_ptb.png", "figure1_ptb.png", "figure2_ner.png"]


def test_a_results_folder_rebuilds_into_another_folder(tmp_path: Path) -> None:
    out = tmp_path / "results"
    first = write_report(find_runs([runs_root(tmp_path)]), out).read_text()
    again = tmp_path / "again"
    assert write_report(find_runs([out]), again).read_text() == first
    assert files_below(again / "runs") == files_below(out / "runs")


def test_runs_that_share_task_optimizer_and_seed_each_keep_their_copy(tmp_path: Path) -> None:
    """A sweep (``-m optimizer=sgd optimizer.lr=0.5,1.0``) gives runs that differ in their config but share
    task, optimizer and seed; results/ keeps both so that the report can be rebuilt from it alone."""
    root = tmp_path / "multirun"
    write_run(root / "sgd/seed=0/optimizer.lr=0.5", "ptb", "sgd", ptb_metrics([150.0], [145.5]))
    write_run(root / "sgd/seed=0/optimizer.lr=1.0", "ptb", "sgd", ptb_metrics([131.0], [127.5]))
    out = tmp_path / "results"
    text = write_report(find_runs([root]), out).read_text()
    assert "145.5" in text and "127.5" in text
    assert sorted(r.summary.final["test_ppl"] for r in find_runs([out / "runs"])) == [127.5, 145.5]


def test_a_folder_rebuilt_from_itself_and_a_queue_holds_each_run_once(tmp_path: Path) -> None:
    """``--out results/x results/x outputs/queue``: a run copied in by the last build and found again in the
    queue is one run, its copy refreshed."""
    queue = tmp_path / "queue"
    write_run(queue / "sgd/seed=0", "ptb", "sgd", ptb_metrics([131.0], [127.5]))
    out = tmp_path / "results"
    write_report(find_runs([queue]), out)
    write_report(find_runs([out, queue]), out)
    assert len(find_runs([out])) == 1
    assert report_markdown(find_runs([out])) == (out / "results.md").read_text()


def test_a_sweeps_run_that_shares_a_path_with_another_run_keeps_both(tmp_path: Path) -> None:
    """A sweep names its runs by their own overrides: the bf16 sweep's ``sgd/seed=0`` (bf16 set by its
    experiment) has the path of the verdict's float32 ``sgd/seed=0``. Neither copy may replace the other, and
    adding the sweep again refreshes its own copy."""
    verdict = tmp_path / "verdict"
    write_run(verdict / "sgd/seed=0", "ptb", "sgd", ptb_metrics([131.0], [127.5]), config={"precision": "fp32"})
    out = tmp_path / "results"
    write_report(find_runs([verdict]), out)
    bf16 = tmp_path / "queue" / "ptb_bf16-full"
    write_run(bf16 / "sgd/seed=0", "ptb", "sgd", ptb_metrics([132.0], [128.0]), config={"precision": "bf16"})
    for _ in range(2):
        write_report(find_runs([out, bf16]), out)
        copies = {r.path.relative_to(out / "runs").as_posix(): r.summary.final["test_ppl"] for r in find_runs([out])}
        assert copies == {"sgd/seed=0": 127.5, "ptb_bf16-full/sgd/seed=0": 128.0}


def test_task_filter(tmp_path: Path) -> None:
    out = tmp_path / "ner_only"
    text = write_report(find_runs([runs_root(tmp_path)]), out, task="ner").read_text()
    assert "Chinese NER" in text and "Penn Treebank" not in text
    assert (out / "figure2_ner.png").exists() and not (out / "figure1_ptb.png").exists()
    assert not (out / "runs" / "ptb").exists()


def test_no_runs_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(SystemExit) as info:
        main([str(tmp_path / "empty"), "--out", str(tmp_path / "out")])
    assert "no run directories" in str(info.value.code)
    with pytest.raises(SystemExit) as info:
        main([str(tmp_path / "missing"), "--out", str(tmp_path / "out")])
    assert "does not exist" in str(info.value.code)


def run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "adamomentum.report", *args], cwd=cwd, capture_output=True, text=True, timeout=120
    )


def test_cli_writes_the_report(tmp_path: Path) -> None:
    root = runs_root(tmp_path)
    out = tmp_path / "cli_out"
    proc = run_cli("--out", str(out), str(root / "ptb"), str(root / "ner"), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    text = (out / "results.md").read_text()
    assert "126.5" in text and "0.7311" in text
    assert (out / "figure1_ptb.png").stat().st_size > 0
    assert "results.md" in proc.stderr


def test_cli_on_a_folder_without_runs_fails_with_a_message(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    proc = run_cli("--out", str(tmp_path / "out"), str(tmp_path / "empty"), cwd=tmp_path)
    assert proc.returncode != 0
    assert "error: no run directories" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "out" / "results.md").exists()


def write_unfinished_run(run_dir: Path, tiny_ptb: Path) -> None:
    """A run still training: metrics.jsonl and Hydra's record of its config, no summary.json."""
    from adamomentum.run import run
    from conftest import SMALL_PTB, compose_cfg

    (run_dir / ".hydra").mkdir(parents=True)
    overrides = [*SMALL_PTB, f"data.data_dir={tiny_ptb}", "trainer.max_batches=10", "trainer.eval_interval=5"]
    cfg = compose_cfg(overrides)
    run(cfg, run_dir)
    (run_dir / "summary.json").unlink()
    (run_dir / ".hydra" / "config.yaml").write_text(OmegaConf.to_yaml(cfg))
    (run_dir / ".hydra" / "overrides.yaml").write_text(OmegaConf.to_yaml(overrides))


def test_an_unfinished_run_is_reported_as_such(tmp_path: Path, tiny_ptb: Path) -> None:
    """A run still training shows its progress so far."""
    write_unfinished_run(tmp_path / "outputs" / "run", tiny_ptb)
    text = report_markdown(find_runs([tmp_path / "outputs"]))
    line = next(line for line in text.splitlines() if line.startswith("| AdaMomentum |"))
    assert "| unfinished (step 10, epoch 1) |" in line
    # Its config, read from Hydra's record, has a batch limit: no paper number, and no gap to it.
    assert line.endswith("| - | - | 10 |"), "an unfinished run is not compared with the paper"


def test_results_folders_are_committed() -> None:
    assert len(COMMITTED) >= 6, COMMITTED


@pytest.mark.parametrize("folder", COMMITTED, ids=lambda p: p.relative_to(RESULTS).as_posix())
def test_each_committed_results_folder_rebuilds_byte_for_byte_from_its_runs(folder: Path) -> None:
    """results.md is what the report code makes of the copies under runs/ (figures are drawn by the same
    code and not compared: PNG bytes depend on the matplotlib version)."""
    assert report_markdown(find_runs([folder])) == (folder / "results.md").read_text(encoding="utf-8")


def test_f1_by_epoch_rebuilds_byte_for_byte_from_its_runs(tmp_path: Path) -> None:
    """results/ner-loss-scale/f1_by_epoch.md, a report beside results.md, is what the command its README gives
    makes of the same copies under runs/."""
    folder = RESULTS / "ner-loss-scale"
    command = (
        "python -m adamomentum.report.f1_by_epoch results/ner-loss-scale/runs"
        " --out results/ner-loss-scale/f1_by_epoch.md"
    )
    assert command in (folder / "README.md").read_text(encoding="utf-8")
    out = tmp_path / "f1_by_epoch.md"
    f1_by_epoch.main([str(folder / "runs"), "--out", str(out)])
    assert out.read_bytes() == (folder / "f1_by_epoch.md").read_bytes()


@pytest.mark.parametrize("folder", COMMITTED, ids=lambda p: p.relative_to(RESULTS).as_posix())
def test_each_results_folder_says_the_one_command_that_rebuilds_it(folder: Path) -> None:
    relative = folder.relative_to(RESULTS.parent).as_posix()
    readmes = [folder / "README.md", folder.parent / "README.md"]
    command = f"python -m adamomentum.report --out {relative} {relative}"
    assert any(command in p.read_text(encoding="utf-8") for p in readmes if p.exists()), (command, readmes)


def test_results_readme_lists_every_folder() -> None:
    text = (RESULTS / "README.md").read_text(encoding="utf-8")
    linked = set(re.findall(r"\]\(([^)#]+?)/?\)", text))
    folders = {p.name for p in RESULTS.iterdir() if p.is_dir()}
    assert folders <= linked, folders - linked


def make(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["make", "--no-print-directory", *args], cwd=ROOT, capture_output=True, text=True, timeout=60)


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_make_targets_refuse_to_overwrite_committed_results_without_the_flag() -> None:
    refused = make("refuse-committed", "OUT=results/ptb", "VARIABLE=PTB_OUT")
    assert refused.returncode != 0
    assert "results/ptb holds committed results" in refused.stderr
    assert "PTB_OUT=" in refused.stderr and "RESULTS_OVERWRITE=1" in refused.stderr
    assert make("refuse-committed", "OUT=results/ptb", "VARIABLE=PTB_OUT", "RESULTS_OVERWRITE=1").returncode == 0
    assert make("refuse-committed", "OUT=outputs/report-ptb", "VARIABLE=PTB_OUT").returncode == 0
    # A target that hands its folder to another names its own variable, the one that moves the report.
    msra = make("-o", "venv", "-o", ".venv/.installed", "reproduce-ner-msra", "NER_MSRA_OUT=results/ner-msra")
    assert msra.returncode != 0 and "pass NER_MSRA_OUT=<another folder>" in msra.stderr
    # Each target that writes a report checks its folder before it trains (a dry run executes nothing).
    for target, out in [
        ("reproduce-ptb", "outputs/report-ptb"),
        ("reproduce-ner", "outputs/report-ner"),
        ("study", "outputs/report-study-full/ptb_seeds"),
        ("report", "outputs/report"),
        ("reproduce-ptb-verdict", "outputs/report-ptb-verdict"),
        ("campaign", "outputs/report-campaign"),
    ]:
        lines = make("-n", target).stdout.splitlines()
        guard = next(i for i, line in enumerate(lines) if f"refuse-committed OUT={out} " in line)
        work = next(i for i, line in enumerate(lines) if "adamomentum.train" in line or "adamomentum.report" in line)
        assert guard < work, (target, lines)


def test_finished_leaves_runs_still_training_out_so_that_the_folder_rebuilds_itself(
    tmp_path: Path, tiny_ptb: Path
) -> None:
    root = runs_root(tmp_path)
    write_unfinished_run(root / "ptb" / "training", tiny_ptb)
    out = tmp_path / "committed"
    proc = run_cli("--finished", "--out", str(out), str(root), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    text = (out / "results.md").read_text()
    assert "unfinished" not in text and "| SGD | Table 1 | 0 | completed |" in text
    assert report_markdown(find_runs([out])) == text
