"""The make targets run as `make help` documents them: every variable it names reaches the commands, the
default outputs stay under outputs/, and the corpus folders have one name each."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")


def dry_run(*args: str) -> str:
    """What make would run (nothing is executed; the venv target is taken as made)."""
    proc = subprocess.run(
        ["make", "--no-print-directory", "-n", "-o", "venv", "-o", ".venv/.installed", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def help_text() -> str:
    return subprocess.run(
        ["make", "--no-print-directory", "help"], cwd=ROOT, capture_output=True, text=True, timeout=60, check=True
    ).stdout


def test_help_lists_every_target_and_the_variables_a_user_sets():
    text = help_text()
    targets = set(re.findall(r"^  make (\S+)", text, re.M))
    assert {
        "test",
        "reproduce-ptb",
        "reproduce-ner",
        "reproduce-ner-msra",
        "campaign",
        "study",
        "report",
        "bench",
        "bench-optim",
    } <= targets
    variables = set(re.findall(r"^  ([A-Z_]+) ", text, re.M))
    assert {"PTB_DIR", "MSRA_DIR", "ARGS", "OPTIMIZERS", "RESULTS_OVERWRITE"} <= variables


@pytest.mark.parametrize(
    "target, variables, expected",
    [
        (
            "reproduce-ptb",
            ["OPTIMIZERS=sgd", "ARGS=trainer.max_batches=300"],
            ["optimizer=sgd", "trainer.max_batches=300"],
        ),
        ("reproduce-ptb", ["PTB_OUT=outputs/mine"], ["--out outputs/mine"]),
        (
            "reproduce-ner",
            ["NER_OUT=outputs/mine-ner", "ARGS=data.source=columns"],
            ["--out outputs/mine-ner", "data.source=columns"],
        ),
        (
            "reproduce-ner-msra",
            ["MSRA_DIR=/corpora/msra", "NER_MSRA_OUT=outputs/msra"],
            ["data.data_dir=/corpora/msra", "--out outputs/msra"],
        ),
        (
            "reproduce-ptb-verdict",
            ["PTB_DIR=/corpora/ptb", "JOBS=3"],
            ["data.data_dir=/corpora/ptb", "hydra.launcher.n_jobs=3"],
        ),
        ("campaign", ["PTB_DIR=/corpora/ptb", "LANES=1"], ["data.data_dir=/corpora/ptb", "seq 1"]),
        (
            "study",
            ["EXPERIMENT=ptb_ablation_eps", "SCALE=small"],
            ["experiment=ptb_ablation_eps scale=small", "--out outputs/report-study-small/ptb_ablation_eps"],
        ),
        ("report", ["RUNS=outputs/x", "REPORT_OUT=outputs/y"], ["--out outputs/y outputs/x"]),
        (
            "bench",
            ["PTB_DIR=/corpora/ptb", "MSRA_DIR=/corpora/msra"],
            ["--data-dir /corpora/ptb --msra-dir /corpora/msra"],
        ),
    ],
)
def test_every_variable_reaches_the_command(target, variables, expected):
    commands = dry_run(target, *variables)
    for text in expected:
        assert text in commands, (target, variables, commands)


@pytest.mark.parametrize(
    "target",
    [
        "reproduce-ptb",
        "reproduce-ner",
        "reproduce-ner-msra",
        "study",
        "report",
        "reproduce-ptb-verdict",
        "reproduce-ner-verdict",
    ],
)
def test_default_reports_go_under_outputs_never_into_a_committed_folder(target):
    outs = re.findall(r"adamomentum\.report .*--out (\S+)", dry_run(target))
    assert outs and all(out.startswith("outputs/") for out in outs), outs


def test_the_ptb_config_reads_the_corpus_folder_from_ptb_dir(monkeypatch):
    from hydra import compose, initialize_config_dir

    from adamomentum.config import CONFIG_DIR

    monkeypatch.setenv("PTB_DIR", "/corpora/ptb")
    with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base=None):
        assert compose("config", overrides=["task=ptb"]).data.data_dir == "/corpora/ptb"
    monkeypatch.delenv("PTB_DIR")
    with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base=None):
        assert compose("config", overrides=["task=ptb"]).data.data_dir == "data/ptb"
