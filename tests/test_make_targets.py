"""The make targets run as `make help` documents them: every variable it names reaches the commands, the
default outputs stay under outputs/, and the corpus folders have one name each."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")


def dry_run(*args: str, env: dict[str, str] | None = None) -> str:
    """What make would run (nothing is executed; the venv target is taken as made)."""
    proc = subprocess.run(
        ["make", "--no-print-directory", "-n", "-o", "venv", "-o", ".venv/.installed", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def help_text() -> str:
    return subprocess.run(
        ["make", "--no-print-directory", "help"], cwd=ROOT, capture_output=True, text=True, timeout=60, check=True
    ).stdout


def test_help_lists_every_target_and_every_variable():
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
    defined = set(re.findall(r"^([A-Z_]+) \?=", (ROOT / "Makefile").read_text(), re.M))
    assert {"PTB_DIR", "MSRA_DIR", "ARGS", "OPTIMIZERS", "RESULTS_OVERWRITE"} <= defined
    assert variables == defined


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
        (
            "reproduce-ner-verdict",
            ["SCALE=small"],
            ["experiment=ner_verdict scale=small", "--out outputs/report-ner-verdict outputs/study/ner_verdict-small"],
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
        "campaign",
    ],
)
def test_default_reports_go_under_outputs_never_into_a_committed_folder(target):
    outs = re.findall(r"adamomentum\.report .*--out (\S+)", dry_run(target))
    assert outs and all(out.startswith("outputs/") for out in outs), outs


def test_make_test_skips_the_corpus_tests_where_no_corpus_folder_is_named_or_found(tmp_path):
    """A fresh clone has no data/ptb or data/msra: the defaults must not reach the tests, which would then fail
    on the missing files instead of skipping. A folder named on the command line always reaches them."""
    environment = {k: v for k, v in os.environ.items() if k not in ("PTB_DIR", "MSRA_DIR")}
    named = dry_run("test", "PTB_DIR=" + str(tmp_path / "ptb"), env=environment)
    assert "-u PTB_DIR" not in named
    from_environment = dry_run("test", env={**environment, "PTB_DIR": str(tmp_path / "ptb")})
    assert "-u PTB_DIR" not in from_environment and "-u MSRA_DIR" in from_environment
    fresh_clone = dry_run("test", "-f", str(_makefile_with_defaults(tmp_path, found=False)), env=environment)
    assert "env -u PTB_DIR -u MSRA_DIR " in fresh_clone
    downloaded = dry_run("test", "-f", str(_makefile_with_defaults(tmp_path, found=True)), env=environment)
    assert "-u PTB_DIR" not in downloaded and "-u MSRA_DIR" not in downloaded


def _makefile_with_defaults(tmp_path: Path, found: bool) -> Path:
    """The Makefile with its default corpus folders moved under ``tmp_path``, holding the corpora if ``found``."""
    folders = {"ptb": "ptb.train.txt", "msra": "msra_train.txt"}
    text = (ROOT / "Makefile").read_text()
    for name, first_file in folders.items():
        folder = tmp_path / ("found" if found else "missing") / name
        if found:
            folder.mkdir(parents=True)
            (folder / first_file).write_text("")
        text = text.replace(f"?= data/{name}\n", f"?= {folder}\n")
    makefile = tmp_path / f"Makefile-{found}"
    makefile.write_text(text)
    return makefile


def test_the_ptb_config_reads_the_corpus_folder_from_ptb_dir(monkeypatch):
    from hydra import compose, initialize_config_dir

    from adamomentum.config import CONFIG_DIR

    monkeypatch.setenv("PTB_DIR", "/corpora/ptb")
    with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base=None):
        assert compose("config", overrides=["task=ptb"]).data.data_dir == "/corpora/ptb"
    monkeypatch.delenv("PTB_DIR")
    with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base=None):
        assert compose("config", overrides=["task=ptb"]).data.data_dir == "data/ptb"
