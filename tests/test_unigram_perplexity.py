"""scripts/unigram_perplexity.py: add-one smoothed word frequencies of the share of the training text a run
trains on, scored on valid and test."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import pytest
import torch

from adamomentum.data.ptb import load_ptb, train_share
from conftest import SCRIPTS, load_script

SCRIPT = SCRIPTS / "unigram_perplexity.py"
unigram = load_script("unigram_perplexity")


def test_each_word_gets_its_count_plus_one_over_the_length_plus_the_vocabulary() -> None:
    # Counts 2, 1, 0 of 3 tokens over 3 words: 3/6, 2/6, 1/6; "0 2" scores 1/2 and 1/6, perplexity sqrt(12).
    train, held_out = torch.tensor([0, 0, 1]), torch.tensor([0, 2])
    assert unigram.unigram_perplexity(train, held_out, vocab_size=3) == pytest.approx(math.sqrt(12))


def run(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """The script's exit status, standard output and standard error, run in this process."""
    monkeypatch.setattr(sys, "argv", [str(SCRIPT), *args])
    try:
        unigram.main()
        status = 0
    except SystemExit as stop:
        status = int(stop.code or 0)
    out, err = capsys.readouterr()
    return status, out, err


def test_each_row_scores_the_prefix_a_run_trains_on(
    tiny_ptb: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # 0.001 of the tiny corpus's 1,000 training tokens is its first token alone: a row of its own.
    status, out, err = run(monkeypatch, capsys, "--data-dir", str(tiny_ptb), "--no-verify", "--fractions", "0.001", "1")
    assert status == 0, err
    rows = [line.split(" | ") for line in out.splitlines()[2:]]
    corpus = load_ptb(tiny_ptb, download=False, verify=False)
    for (share, tokens, valid, test), fraction in zip(rows, (0.001, 1.0), strict=True):
        train = train_share(corpus.train, fraction)
        assert share == f"| {100 * fraction:g}%" and tokens == f"{len(train):,}"
        assert valid == f"{unigram.unigram_perplexity(train, corpus.valid, len(corpus.vocab)):.1f}"
        assert test == f"{unigram.unigram_perplexity(train, corpus.test, len(corpus.vocab)):.1f} |"
    assert rows[0][1] == "1" and rows[0][2:] != rows[1][2:]


@pytest.mark.parametrize("fraction", ["0", "1.5"])
def test_a_share_outside_zero_to_one_is_refused_by_name(
    tiny_ptb: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], fraction: str
) -> None:
    status, _, err = run(monkeypatch, capsys, "--data-dir", str(tiny_ptb), "--no-verify", "--fractions", fraction)
    assert status == 2
    assert f"--fractions {fraction}: a share of the training text lies in (0, 1]" in err
