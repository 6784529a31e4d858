"""The NER loss reductions (task.loss_reduction): what each one scales by, that padding never
counts, that an unknown one is refused at start-up, and that runs made before the option keep theirs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from adamomentum.errors import ConfigError
from adamomentum.run import run
from adamomentum.tasks.ner import NERTask
from conftest import SMALL_NER, compose_cfg, read_scalars, write_tiny_ner

CPU = torch.device("cpu")
ROOT = Path(__file__).resolve().parents[1]
MSRA_DIR = os.environ.get("MSRA_DIR")


def build_task(data_dir: Path, *overrides: str) -> NERTask:
    torch.manual_seed(5)  # the same initial weights for every reduction
    cfg = compose_cfg([*SMALL_NER, f"data.data_dir={data_dir}", *overrides])
    return NERTask(cfg.task, cfg.data, cfg.model, CPU, seed=5)


def padded_batch(task: NERTask) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The first four training sentences, whose lengths differ, so close to half the batch is padding."""
    batch = task.train.batch([0, 1, 2, 3], CPU)
    lengths = batch[2]
    assert len(set(lengths.tolist())) == 4 and batch[0].numel() > 1.5 * int(lengths.sum())
    return batch


def loss_and_gradients(task: NERTask, batch) -> tuple[float, float, int, list[torch.Tensor]]:
    task.model.zero_grad()
    loss, nll, tokens = task.train_loss(batch)
    loss.backward()
    return loss.item(), nll.item(), tokens, [p.grad.clone() for p in task.model.parameters()]


def per_sentence_nll(task: NERTask, batch) -> list[torch.Tensor]:
    """Each sentence's summed NLL, from the model run on that sentence alone, without padding."""
    tokens, tags, lengths = batch
    sums = []
    for row, n in enumerate(lengths.tolist()):
        logits = task.model(tokens[row : row + 1, :n], lengths[row : row + 1])
        sums.append(F.cross_entropy(logits[0], tags[row, :n], reduction="sum"))
    return sums


def test_sum_over_time_gradient_is_the_mean_sentence_length_times_the_mean_gradient(varied_ner: Path) -> None:
    # mean divides the batch's summed NLL by its real tokens T, sum_over_time by its sentences B,
    # so sum_over_time = (T / B) * mean: the mean real length of the batch's sentences.
    results = {}
    for reduction in ("mean", "sum_over_time"):
        task = build_task(varied_ner, f"task.loss_reduction={reduction}")
        batch = padded_batch(task)
        results[reduction] = loss_and_gradients(task, batch)
    lengths = batch[2]
    real_tokens, sentences = int(lengths.sum()), len(lengths)
    mean_length = real_tokens / sentences

    loss_mean, nll_mean, tokens_mean, grads_mean = results["mean"]
    loss_sum, nll_sum, tokens_sum, grads_sum = results["sum_over_time"]
    assert tokens_mean == tokens_sum == real_tokens
    assert nll_sum == pytest.approx(nll_mean, rel=1e-6)  # same weights, same batch
    assert loss_mean == pytest.approx(nll_mean / real_tokens, rel=1e-6)
    assert loss_sum == pytest.approx(nll_sum / sentences, rel=1e-6)
    for g_sum, g_mean in zip(grads_sum, grads_mean, strict=True):
        torch.testing.assert_close(g_sum, mean_length * g_mean, rtol=1e-5, atol=1e-8)
    # Counting padding would have scaled by the padded width instead, a different factor here.
    assert batch[0].shape[1] > 1.5 * mean_length


def test_sum_over_time_is_the_mean_over_sentences_of_each_unpadded_sentence_sum(varied_ner: Path) -> None:
    task = build_task(varied_ner, "task.loss_reduction=sum_over_time")
    batch = padded_batch(task)
    loss, _, _, grads = loss_and_gradients(task, batch)

    task.model.zero_grad()
    alone = torch.stack(per_sentence_nll(task, batch)).mean()
    alone.backward()
    assert loss == pytest.approx(alone.item(), rel=1e-5)
    for g_batch, p in zip(grads, task.model.parameters(), strict=True):
        torch.testing.assert_close(g_batch, p.grad, rtol=1e-4, atol=1e-7)


def test_the_default_is_the_language_models_scale(varied_ner: Path) -> None:
    assert build_task(varied_ner).cfg.loss_reduction == "sum_over_time"


def test_mean_is_the_unpadded_token_mean(varied_ner: Path) -> None:
    task = build_task(varied_ner, "task.loss_reduction=mean")
    batch = padded_batch(task)
    loss, _, tokens, _ = loss_and_gradients(task, batch)
    with torch.no_grad():
        alone = torch.stack(per_sentence_nll(task, batch)).sum() / tokens
    assert loss == pytest.approx(alone.item(), rel=1e-5)


def test_unknown_loss_reduction_is_a_config_error_naming_the_choices(tiny_ner: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        build_task(tiny_ner, "task.loss_reduction=sum")
    message = str(caught.value)
    assert "task.loss_reduction='sum'" in message
    assert "mean" in message and "sum_over_time" in message


def test_sum_over_time_trains_through_the_command(tmp_path: Path) -> None:
    data = write_tiny_ner(tmp_path / "data", [4 + (i * 3) % 9 for i in range(40)])
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    cfg = compose_cfg(
        [
            *SMALL_NER,
            f"data.data_dir={data}",
            "task.loss_reduction=sum_over_time",
            "trainer.epochs=3",
            "trainer.log_interval=5",
        ]
    )
    summary = run(cfg, run_dir)
    assert summary.status == "completed"
    assert summary.config["task"]["loss_reduction"] == "sum_over_time"
    losses = [v for _, v in read_scalars(run_dir)["loss/train"]]
    assert losses[-1] < 0.5 * losses[0], losses


@pytest.mark.skipif(not MSRA_DIR, reason="set MSRA_DIR to the MSRA folder (msra_train.txt, msra_test.txt) to run")
@pytest.mark.parametrize(
    "setting",
    [["optimizer=adamomentum", "optimizer.initial_accumulator_value=0.1"], ["optimizer=sgd", "optimizer.lr=0.3"]],
)
def test_a_first_run_on_a_small_corpus_learns_entities_within_three_epochs(tmp_path: Path, setting: list[str]) -> None:
    """The README's command for a corpus of one's own, with its settings for a small one, on the 1,000-sentence
    MSRA check set of results/ner-loss-scale: AdaMomentum from G_0 = 0.1, which stalls on the per-token mean
    (0.000 after three epochs there), and SGD, the slowest (0.20-0.30 after three epochs over three seeds)."""
    data = tmp_path / "msra-small"
    subprocess.run(
        [sys.executable, "scripts/make_msra_check_set.py", "--msra-dir", MSRA_DIR, "--out", str(data)],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    run_dir = tmp_path / "run"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "adamomentum.train",
            "task=ner",
            "data.source=columns",
            f"data.data_dir={data}",
            *setting,
            "trainer.epochs=3",
            "threads=1",
            "progress=false",
            f"hydra.run.dir={run_dir}",
        ],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    last = json.loads((run_dir / "metrics.jsonl").read_text().splitlines()[-1])
    assert last["epoch"] == 3
    assert last["test_token_f1"] >= 0.1, last
