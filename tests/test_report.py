"""results.md, figures and run copies from synthetic run directories with known numbers."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from adamomentum import report
from adamomentum.report import figures, find_runs, write_report

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def ptb_metrics(valid: list[float], test: list[float], step: int = 100) -> list[dict]:
    return [
        {"step": step * (i + 1), "epoch": i + 1, "valid_ppl": v, "test_ppl": t, "lr": 1.0}
        for i, (v, t) in enumerate(zip(valid, test))
    ]


def ner_metrics(valid: list[float], test: list[float], entity: list[float]) -> list[dict]:
    return [
        {
            "step": 10 * (i + 1), "epoch": i + 1, "valid_token_f1": v, "test_token_f1": t, "test_entity_f1": e,
            "test_token_per_type": {}, "test_entity_per_type": {}, "lr": 0.02,
        }
        for i, (v, t, e) in enumerate(zip(valid, test, entity))
    ]  # fmt: skip


def write_run(directory: Path, task: str, optimizer: str, metrics: list[dict], status: str = "completed",
              seed: int = 0, **extra) -> Path:  # fmt: skip
    directory.mkdir(parents=True)
    keys = [k for k, v in metrics[-1].items() if isinstance(v, (int, float)) and k not in ("lr",)]
    best_key = "valid_ppl" if task == "ptb" else "valid_token_f1"
    pick = min if task == "ptb" else max
    best = pick(metrics, key=lambda m: m[best_key])
    summary = {
        "task": task, "optimizer": optimizer, "seed": seed, "status": status,
        "steps": metrics[-1]["step"], "epochs_completed": metrics[-1]["epoch"],
        "wall_time_s": 600.0, "final": {k: metrics[-1][k] for k in keys},
        "best_valid": {k: best[k] for k in keys}, "device": "cpu (test, 1 threads)",
        "git_commit": "abc123", "command": f"python -m adamomentum.train task={task} optimizer={optimizer}",
        **({"test_ppl_stream_batch_size": 1} if "test_ppl_stream" in extra else {}),
        **extra,
    }  # fmt: skip
    (directory / "summary.json").write_text(json.dumps(summary, indent=2))
    (directory / "metrics.jsonl").write_text("".join(json.dumps(m) + "\n" for m in metrics))
    return directory


@pytest.fixture
def runs_root(tmp_path: Path) -> Path:
    root = tmp_path / "outputs"
    # final test ppl 126.5 vs the paper's 115: +10.0%.
    write_run(root / "ptb/sgd/a", "ptb", "sgd", ptb_metrics([140.0, 130.26], [135.0, 126.5]), test_ppl_stream=121.3)
    write_run(root / "ptb/momentum/a", "ptb", "momentum", ptb_metrics([120.0, 112.0], [117.0, 113.4]),
              test_ppl_stream=109.9)  # fmt: skip
    # Diverged after one evaluation; the later evaluation went to inf.
    write_run(root / "ptb/adagrad/a", "ptb", "adagrad", ptb_metrics([150.5, math.inf], [148.25, math.inf]),
              status="diverged", diverged_at_step=150)  # fmt: skip
    write_run(root / "ptb/adamomentum/a", "ptb", "adamomentum", ptb_metrics([111.0, 108.5, 109.0], [104.75, 103.2, 104.2]),
              test_ppl_stream=100.1)  # fmt: skip
    write_run(root / "ner/adamomentum/a", "ner", "adamomentum",
              ner_metrics([0.60, 0.72, 0.71], [0.61, 0.7432, 0.7311], [0.50, 0.6555, 0.6401]))  # fmt: skip
    write_run(root / "ner/sgd/a", "ner", "sgd", ner_metrics([0.30, 0.41], [0.3125, 0.4268], [0.2, 0.3333]))
    return root


def row(text: str, optimizer: str, section: str) -> str:
    """The table row of ``optimizer`` in the section whose heading contains ``section``."""
    body = text.split(section, 1)[1].split("\n## ", 1)[0]
    rows = [line for line in body.splitlines() if line.startswith(f"| {optimizer} |")]
    assert len(rows) == 1, (optimizer, section, rows)
    return rows[0]


def cells(line: str) -> list[str]:
    return [c.strip() for c in line.strip("|").split("|")]


def test_results_md_holds_our_numbers_and_the_papers(runs_root: Path, tmp_path: Path) -> None:
    out = tmp_path / "results"
    path = write_report(find_runs([runs_root]), out)
    assert path == out / "results.md"
    text = path.read_text()

    sgd = cells(row(text, "sgd", "Penn Treebank"))
    # optimizer, seed, status, final test, stream test, best valid, test at best valid, paper, gap, steps, setting
    assert sgd == ["sgd", "0", "completed", "126.5", "121.3", "130.3", "126.5", "115", "+10.0%", "200", "Table 1"]
    momentum = cells(row(text, "momentum", "Penn Treebank"))
    assert momentum[3] == "113.4" and momentum[4] == "109.9" and momentum[7] == "108"
    adamomentum = cells(row(text, "adamomentum", "Penn Treebank"))
    # Best valid (108.5) was not the final evaluation: its test ppl is 103.2, the final one 104.2.
    assert adamomentum[3:8] == ["104.2", "100.1", "108.5", "103.2", "106"]
    for paper in ("115", "108", "140", "106"):
        assert f"| {paper} |" in text

    # The diverged run is listed with its status, not dropped.
    adagrad = cells(row(text, "adagrad", "Penn Treebank"))
    assert adagrad[2] == "diverged"
    assert adagrad[3] == "inf" and adagrad[7] == "140" and adagrad[8] == "-"
    assert adagrad[5] == "150.5"  # best valid, before it diverged

    # Table 1 order: sgd, momentum, adagrad, adamomentum.
    ptb_section = text.split("Penn Treebank", 1)[1].split("\n## ", 1)[0]
    order = [cells(line)[0] for line in ptb_section.splitlines() if line.startswith("| ") and "---" not in line][1:]
    assert order == ["sgd", "momentum", "adagrad", "adamomentum"]

    ner = cells(row(text, "adamomentum", "Chinese NER"))
    # final test F1, best test F1 over epochs, test F1 at best valid, final entity F1, paper
    assert ner[2:8] == ["completed", "0.7311", "0.7432", "0.7432", "0.6401", "0.75+"]
    assert cells(row(text, "sgd", "Chinese NER"))[3:5] == ["0.4268", "0.4268"]

    assert "Provenance" in text and "abc123" in text and "10.0 min" in text


def test_figures_and_run_copies(runs_root: Path, tmp_path: Path) -> None:
    out = tmp_path / "results"
    write_report(find_runs([runs_root]), out)
    for name in ("figure1_ptb.png", "figure2_ner.png"):
        data = (out / name).read_bytes()
        assert len(data) > 1000 and data.startswith(PNG_MAGIC), name
        assert f"]({name})" in (out / "results.md").read_text()
    copies = sorted(p.relative_to(out).as_posix() for p in (out / "runs").rglob("*") if p.is_file())
    assert copies == sorted(
        f"runs/{task}/{opt}/a/{name}"
        for task, opt in [("ptb", "sgd"), ("ptb", "momentum"), ("ptb", "adagrad"), ("ptb", "adamomentum"),
                          ("ner", "adamomentum"), ("ner", "sgd")]  # fmt: skip
        for name in ("summary.json", "metrics.jsonl")
    )
    original = runs_root / "ptb/adagrad/a"
    copy = out / "runs/ptb/adagrad/a"  # the path below the folder the run was found in
    for name in ("summary.json", "metrics.jsonl"):
        assert (copy / name).read_bytes() == (original / name).read_bytes()


def test_report_rebuilds_from_its_own_copies(runs_root: Path, tmp_path: Path) -> None:
    out = tmp_path / "results"
    first = write_report(find_runs([runs_root]), out).read_text()
    second = write_report(find_runs([out]), out).read_text()
    tables = lambda text: [line for line in text.splitlines() if line.startswith("| ") and "`" not in line]  # noqa: E731
    assert tables(second) == tables(first)


def test_task_filter(runs_root: Path, tmp_path: Path) -> None:
    out = tmp_path / "ner_only"
    text = write_report(find_runs([runs_root]), out, task="ner").read_text()
    assert "Chinese NER" in text and "Penn Treebank" not in text
    assert (out / "figure2_ner.png").exists() and not (out / "figure1_ptb.png").exists()
    assert not (out / "runs" / "ptb").exists()


def test_no_runs_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(SystemExit) as info:
        report.main([str(tmp_path / "empty"), "--out", str(tmp_path / "out")])
    assert "no run directories" in str(info.value.code)
    with pytest.raises(SystemExit) as info:
        report.main([str(tmp_path / "missing"), "--out", str(tmp_path / "out")])
    assert "does not exist" in str(info.value.code)


def run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "adamomentum.report", *args], cwd=cwd, capture_output=True, text=True, timeout=120
    )


def test_cli_writes_the_report(runs_root: Path, tmp_path: Path) -> None:
    out = tmp_path / "cli_out"
    proc = run_cli("--out", str(out), str(runs_root / "ptb"), str(runs_root / "ner"), cwd=tmp_path)
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


def test_runs_that_share_task_optimizer_and_seed_each_keep_their_copy(tmp_path: Path) -> None:
    """A sweep (``-m optimizer=sgd optimizer.lr=0.5,1.0``) gives runs that differ in their config
    but share task, optimizer and seed; results/ must keep both so that the report can be rebuilt
    from it alone."""
    root = tmp_path / "multirun"
    write_run(root / "sgd/seed=0/optimizer.lr=0.5", "ptb", "sgd", ptb_metrics([150.0], [145.5]))
    write_run(root / "sgd/seed=0/optimizer.lr=1.0", "ptb", "sgd", ptb_metrics([131.0], [127.5]))
    out = tmp_path / "results"
    text = write_report(find_runs([root]), out).read_text()
    assert "145.5" in text and "127.5" in text
    copied = find_runs([out / "runs"])
    assert sorted(r.summary["final"]["test_ppl"] for r in copied) == [127.5, 145.5]


def test_an_unfinished_run_is_reported_as_such(tmp_path: Path, tiny_ptb: Path) -> None:
    """A run still training (metrics.jsonl and Hydra's record, no summary.json) shows its progress so far."""
    from adamomentum.train import run
    from conftest import SMALL_PTB, compose_cfg

    run_dir = tmp_path / "outputs" / "run"
    (run_dir / ".hydra").mkdir(parents=True)
    overrides = [*SMALL_PTB, f"task.data_dir={tiny_ptb}", "task.max_batches=10", "task.eval_interval=5"]
    cfg = compose_cfg(overrides)
    run(cfg, run_dir)
    (run_dir / "summary.json").unlink()
    (run_dir / ".hydra" / "config.yaml").write_text(OmegaConf.to_yaml(cfg))
    (run_dir / ".hydra" / "overrides.yaml").write_text(OmegaConf.to_yaml(overrides))
    text = write_report(find_runs([tmp_path / "outputs"]), tmp_path / "results").read_text()
    line = next(line for line in text.splitlines() if line.startswith("| adamomentum |"))
    assert "unfinished (step 10, epoch 1)" in line
    # Its config, read from Hydra's record, has a batch limit: no paper number, and no gap to it.
    assert "| - | - | 10 | Table 1 |" in line, "an unfinished run is not compared with the paper"


def seeded_runs(root: Path, optimizer: str, finals: list[float], lr: float = 1.0, lr_factor: float = 1.0,
                scale: str = "full") -> None:
    for seed, value in enumerate(finals):
        run_dir = root / f"{optimizer}-lr{lr}-f{lr_factor}-s{seed}"
        run_dir.mkdir(parents=True)
        summary = {"task": "ptb", "optimizer": optimizer, "seed": seed, "status": "completed",
                   "final": {"step": 10, "epoch": 1, "valid_ppl": value, "test_ppl": value},
                   "best_valid": {"step": 10, "epoch": 1, "valid_ppl": value, "test_ppl": value},
                   "config": {"seed": seed, "device": "cpu", "optimizer": {"name": optimizer, "lr": lr},
                              "study": {"scale": scale, "lr_factor": lr_factor}}}
        (run_dir / "summary.json").write_text(json.dumps(summary))
        (run_dir / "metrics.jsonl").write_text(json.dumps({"step": 10, "epoch": 1, "valid_ppl": value,
                                                           "test_ppl": value}) + "\n")


def test_seed_statistics_give_mean_interval_and_paired_differences(tmp_path: Path) -> None:
    root = tmp_path / "runs"
    seeded_runs(root, "adamomentum", [100.0, 102.0, 104.0])
    seeded_runs(root, "sgd", [110.0, 111.0, 115.0])  # paired differences -10, -9, -11
    seeded_runs(root, "momentum", [99.0, 103.0, 103.0])  # paired differences 1, -1, 1
    text = write_report(find_runs([root]), tmp_path / "out").read_text()
    # adamomentum: mean 102, sd 2, t(0.975, 2) = 4.302653 -> half width 4.302653 * 2 / sqrt(3) = 4.9683
    assert "| adamomentum | Table 1 | 3 | 0 | 102.00 | 2.00 | [97.03, 106.97] |" in text
    assert "AdaMomentum minus sgd, final test perplexity, paired by seed: -10.00 (95% CI [-12.48, -7.52], n = 3); " \
           "AdaMomentum is better: the paper's ordering holds at this n. AdaMomentum is better in 3 of the 3 seeds." \
           in text
    assert "AdaMomentum minus momentum" in text and "the ordering is not decided at this n" in text
    assert "AdaMomentum is better in 1 of the 3 seeds." in text


def test_small_scale_runs_are_not_compared_with_the_paper(tmp_path: Path) -> None:
    root = tmp_path / "runs"
    seeded_runs(root, "sgd", [800.0, 820.0], scale="small")
    text = write_report(find_runs([root]), tmp_path / "out").read_text()
    assert "not comparable with the paper" in text
    assert "| sgd | 0 | completed | 800.0 | - | 800.0 | 800.0 | - | - | 10 | Table 1 |" in text
    assert "| sgd | Table 1 | 2 | 0 | 810.00 | 14.14 | [" in text and "| - | - |" in text
    assert "of the paper's number" not in text and "Further than 10%" not in text


def test_seed_statistics_group_a_sweep_by_its_varying_values(tmp_path: Path) -> None:
    root = tmp_path / "runs"
    seeded_runs(root, "sgd", [110.0, 112.0], lr=1.0)
    seeded_runs(root, "sgd", [130.0, 150.0], lr=0.5)
    text = write_report(find_runs([root]), tmp_path / "out").read_text()
    assert "| sgd | optimizer.lr=0.5 | 2 | 0 | 140.00 | 14.14 |" in text
    assert "| sgd | optimizer.lr=1.0 | 2 | 0 | 111.00 | 1.41 |" in text


def test_lr_sweep_gets_a_sensitivity_figure_and_says_which_settings_reach_the_paper(tmp_path: Path) -> None:
    root = tmp_path / "runs"
    seeded_runs(root, "sgd", [120.0, 122.0], lr_factor=1.0)  # +5.2% from 115
    seeded_runs(root, "sgd", [150.0, 160.0], lr_factor=0.5)  # +34.8%
    out = tmp_path / "out"
    text = write_report(find_runs([root]), out).read_text()
    assert "| sgd | study.lr_factor=0.5 | 2 | 0 | 155.00 | 7.07 |" in text and "| 115 | +34.8% |" in text
    assert "Within 10% of the paper's number: sgd (study.lr_factor=1.0)." in text
    assert "Further than 10% from it: sgd (study.lr_factor=0.5)." in text
    assert (out / "lr_sensitivity_ptb.png").read_bytes().startswith(PNG_MAGIC)
    assert "](lr_sensitivity_ptb.png)" in text


def test_the_stream_column_holds_only_zarembas_batch_1_score(tmp_path: Path) -> None:
    root = tmp_path / "runs"
    write_run(root / "a", "ptb", "sgd", ptb_metrics([140.0], [135.0]), test_ppl_stream=133.0,
              test_ppl_stream_batch_size=20)
    line = row(write_report(find_runs([root]), tmp_path / "out").read_text(), "sgd", "Penn Treebank")
    assert cells(line)[4] == "-"


def test_both_lr_schedules_are_told_apart_in_table_figure_and_provenance(tmp_path: Path) -> None:
    """make reproduce-ptb with and without ``optimizer.lr_decay``: one report shows both SGD runs."""
    root = tmp_path / "runs"
    for decay, finals in ((True, [130.0, 120.5]), (False, [135.0, 131.25])):
        config = {"optimizer": {"name": "sgd", "lr": 1.0, "lr_decay": decay}}
        write_run(root / f"sgd-{decay}", "ptb", "sgd", ptb_metrics([f + 5 for f in finals], finals), config=config)
    write_run(root / "adagrad", "ptb", "adagrad", ptb_metrics([150.0], [141.0]),
              config={"optimizer": {"name": "adagrad", "lr": 0.01, "lr_decay": False}})  # fmt: skip
    runs = find_runs([root])
    out = tmp_path / "out"
    text = write_report(runs, out).read_text()
    table = text.split("## Penn Treebank", 1)[1].split("## Provenance", 1)[0]
    assert "| 120.5 |" in table and "| 131.2 |" in table
    provenance = text.split("## Provenance", 1)[1]
    assert "| sgd | 0 | optimizer.lr_decay=True | `" in provenance
    assert "| sgd | 0 | optimizer.lr_decay=False | `" in provenance
    assert "| adagrad | 0 | Table 1 | `" in provenance
    styles = figures.curve_styles(runs)
    by_final = {r.summary["final"]["test_ppl"]: styles[id(r)] for r in runs}
    decayed, constant, adagrad = by_final[120.5], by_final[131.25], by_final[141.0]
    assert decayed["label"] == "sgd, optimizer.lr_decay=True" and constant["label"] == "sgd, optimizer.lr_decay=False"
    assert decayed["color"] == constant["color"] != adagrad["color"]
    assert decayed["linestyle"] != constant["linestyle"]
    assert adagrad["label"] == "adagrad"
    assert (out / "figure1_ptb.png").read_bytes().startswith(PNG_MAGIC)


def test_ner_on_another_corpus_is_not_compared_with_the_paper(tmp_path: Path) -> None:
    """The MSRA stand-in (column files) is not OntoNotes: no 0.75+ beside it; OntoNotes files are compared."""
    root = tmp_path / "runs"
    metrics = ner_metrics([0.80], [0.8125], [0.79])
    write_run(root / "msra", "ner", "adamomentum", metrics, config={"task": {"name": "ner", "source": "columns"}})
    write_run(root / "onto", "ner", "sgd", metrics, config={"task": {"name": "ner", "source": "conll2012"}})
    text = write_report(find_runs([root]), tmp_path / "out").read_text()
    assert "another corpus than OntoNotes are not comparable with the paper" in text
    assert cells(row(text, "adamomentum", "Chinese NER"))[7] == "-"
    assert cells(row(text, "sgd", "Chinese NER"))[7] == "-"  # the paper gives a number for AdaMomentum only
    write_run(root / "onto-adamomentum", "ner", "adamomentum", metrics,
              config={"task": {"name": "ner", "source": "hub"}})  # fmt: skip
    text = write_report(find_runs([root]), tmp_path / "out2").read_text()
    table = text.split("## Chinese NER", 1)[1].split("\n## ", 1)[0]
    paper_by_source = {cells(r)[-1]: cells(r)[7] for r in table.splitlines() if r.startswith("| adamomentum |")}
    assert paper_by_source == {"task.source=columns": "-", "task.source=hub": "0.75+"}


def test_figure_titles_say_whether_they_redraw_the_papers_figure(tmp_path: Path) -> None:
    """A PNG travels without results.md: its title names the corpus and says when it is not the paper's figure."""
    root = tmp_path / "runs"
    metrics = ner_metrics([0.80], [0.8125], [0.79])
    write_run(root / "onto", "ner", "sgd", metrics, config={"task": {"name": "ner", "source": "hub"}})
    write_run(root / "msra", "ner", "adamomentum", metrics,
              config={"task": {"name": "ner", "source": "columns", "data_dir": "../shared/data/msra"}})
    onto, both = find_runs([root / "onto"]), find_runs([root])
    assert figures.figure_title(onto, "ner") == "Chinese NER on OntoNotes, 2-layer BiLSTM\n(Figure 2 of the paper, redrawn)"
    assert figures.figure_title(both, "ner") == (
        "Chinese NER on OntoNotes, msra, 2-layer BiLSTM\n(not the paper's setting: not comparable with its Figure 2)"
    )
    write_run(root / "ptb", "ptb", "sgd", ptb_metrics([300.0], [290.0]))
    assert figures.figure_title(find_runs([root / "ptb"]), "ptb") == "Penn Treebank, 2x256 LSTM\n(Figure 1 of the paper, redrawn)"


def test_the_seeds_of_a_setting_share_one_legend_entry(tmp_path: Path) -> None:
    root = tmp_path / "runs"
    for seed in range(3):
        for lr in (0.5, 1.0):
            write_run(root / f"lr{lr}-s{seed}", "ptb", "sgd", ptb_metrics([300.0], [290.0]),
                      config={"optimizer": {"lr": lr}, "seed": seed})  # fmt: skip
    runs = find_runs([root])
    fig, ax = figures.plt.subplots()
    styles = figures.curve_styles(runs)
    for run in runs:
        ax.plot([0, 1], [0, 1], **styles[id(run)])
    handles, labels = figures.legend_entries(ax)
    figures.plt.close(fig)
    assert labels == ["sgd, optimizer.lr=0.5", "sgd, optimizer.lr=1.0"] and len(handles) == 2
