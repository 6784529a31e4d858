"""The PTB task end to end on a tiny corpus: learning, the evaluation schedule, what the run
directory holds, perplexity, truncated-BPTT batching and state carry, the loss scale, determinism
and Zaremba's learning-rate decay."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from omegaconf import OmegaConf

from adamomentum import run_log
from adamomentum.run import run
from adamomentum.tasks.ptb import PTBTask
from conftest import SMALL_PTB, compose_cfg, read_jsonl, read_scalars

CPU = torch.device("cpu")


def ptb_cfg(data_dir: Path, *overrides: str):
    return compose_cfg([*SMALL_PTB, f"data.data_dir={data_dir}", *overrides])


def train(tmp_path: Path, data_dir: Path, *overrides: str, name: str = "run") -> tuple[Path, dict]:
    """The run directory and its summary.json as a mapping, as the file holds it."""
    run_dir = tmp_path / name
    run_dir.mkdir()
    return run_dir, run(ptb_cfg(data_dir, *overrides), run_dir).to_dict()


def build_task(data_dir: Path, *overrides: str, seed: int = 0) -> PTBTask:
    torch.manual_seed(seed)
    cfg = ptb_cfg(data_dir, *overrides)
    return PTBTask(cfg.task, cfg.data, cfg.model, CPU)


# ---------------------------------------------------------------- learning and logging


def test_a_few_dozen_batches_lower_the_training_loss(tmp_path: Path, tiny_ptb: Path) -> None:
    run_dir, summary = train(
        tmp_path, tiny_ptb, "trainer.max_batches=40", "trainer.eval_interval=null", "trainer.log_interval=5"
    )
    losses = [v for _, v in read_scalars(run_dir)["loss/train"]]
    assert len(losses) == 8
    assert losses[0] > 1.5  # about ln(8) at the start
    assert losses[-1] < 0.6 * losses[0], losses
    assert summary["final"]["valid_ppl"] < 4.0  # uniform over the 8 word types scores 8


def test_training_scalars_are_logged_every_log_interval(tmp_path: Path, tiny_ptb: Path) -> None:
    run_dir, _ = train(
        tmp_path, tiny_ptb, "trainer.max_batches=12", "trainer.eval_interval=null", "trainer.log_interval=4"
    )
    scalars = read_scalars(run_dir)
    for tag in ("loss/train", "ppl/train", "lr", "grad_norm", "throughput/tokens_per_s"):
        assert [s for s, _ in scalars[tag]] == [4, 8, 12], tag
    for (_, loss), (_, ppl) in zip(scalars["loss/train"], scalars["ppl/train"]):
        assert ppl == pytest.approx(math.exp(loss), rel=1e-5)
    assert all(v == pytest.approx(0.02) for _, v in scalars["lr"])
    assert all(v > 0 for _, v in scalars["grad_norm"])
    assert all(v > 0 for _, v in scalars["throughput/tokens_per_s"])


def test_throughput_leaves_an_evaluation_out_and_keeps_the_batches_trained_before_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A log window of 10 batches of 100 tokens, one second each, with a 100-second evaluation after the 8th:
    100 tokens/s. (Restarting the clock after the evaluation gave 500: the 8 batches' tokens over 2 seconds.)"""
    clock = [0.0]
    monkeypatch.setattr(run_log.time, "perf_counter", lambda: clock[0])
    log = run_log.RunLog(
        tmp_path, CPU, start_step=0, total_steps=100, tensorboard_tags={}, eval_every=(None,), progress=False
    )
    for step in range(1, 11):
        clock[0] += 1.0
        log.step(torch.tensor(460.0), 100)
        if step == 8:
            clock[0] += 100.0
            log.evaluation({"step": step, "epoch": 1}, seconds=100.0)
    log.training(1, 10, torch.tensor(1.0), 1.0, evaluations=1, eval_time_s=100.0)
    log.close()
    [(_, tokens_per_s)] = read_scalars(tmp_path)["throughput/tokens_per_s"]
    assert tokens_per_s == pytest.approx(100.0)


def test_step_callbacks_see_every_step_with_its_loss_and_unclipped_gradient_norm(
    tmp_path: Path, tiny_ptb: Path
) -> None:
    """The seam a diagnostic hangs on: called after each optimizer step, in order, with the loss the
    step minimised and the gradient norm before clipping."""
    from adamomentum.run import build_trainer

    cfg = ptb_cfg(
        tiny_ptb,
        "trainer.max_batches=12",
        "trainer.eval_interval=null",
        "trainer.log_interval=1",
        "task.loss_reduction=mean",
        "trainer.clip_grad_norm=0.01",
    )
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    trainer = build_trainer(cfg, run_dir, CPU)
    seen = []

    def record(
        step: int,
        loss: torch.Tensor,
        nll: torch.Tensor,
        tokens: int,
        grad_norm: torch.Tensor,
        task: object,
        optimizer: object,
    ) -> None:
        assert task is trainer.task and optimizer is trainer.optimizer
        clipped = torch.stack([p.grad.norm() for p in task.model.parameters()]).norm()
        seen.append((step, loss.item(), grad_norm.item(), clipped.item()))

    trainer.step_callbacks.append(record)
    trainer.fit()
    steps, losses, norms, clipped_norms = zip(*seen)
    assert steps == tuple(range(1, 13))
    # With the mean loss and a log line every step, loss/train is each step's loss.
    assert losses == pytest.approx([v for _, v in read_scalars(run_dir)["loss/train"]], rel=1e-6)
    # The gradients the step used were clipped to 0.01; the callback sees the norm before that.
    assert min(norms) > 0.02, norms
    assert clipped_norms == pytest.approx([0.01] * 12, rel=1e-3)


@pytest.mark.parametrize(
    "overrides, expected_steps, expected_epochs, epochs_completed",
    [
        # 49 batches an epoch: max_batches stops mid-epoch, with a last evaluation at the stop.
        (["trainer.eval_interval=5", "trainer.max_batches=17"], [5, 10, 15, 17], [1, 1, 1, 1], 0),
        # The stop coincides with an eval_interval multiple: no second evaluation.
        (["trainer.eval_interval=5", "trainer.max_batches=15"], [5, 10, 15], [1, 1, 1], 0),
        # 24 batches an epoch: evaluation at each epoch's end besides every 10 batches.
        # A stop at the end of an epoch (max_batches = 24) completes that epoch.
        (
            ["data.batch_size=10", "data.bptt=4", "trainer.eval_interval=10", "trainer.max_batches=24"],
            [10, 20, 24],
            [1, 1, 1],
            1,
        ),
        (
            ["data.batch_size=10", "data.bptt=4", "trainer.epochs=2", "trainer.eval_interval=10"],
            [10, 20, 24, 30, 40, 48],
            [1, 1, 1, 2, 2, 2],
            2,
        ),
        # Epoch ends coincide with multiples of 8: each evaluated once.
        (
            ["data.batch_size=10", "data.bptt=4", "trainer.epochs=2", "trainer.eval_interval=8"],
            [8, 16, 24, 32, 40, 48],
            [1, 1, 1, 2, 2, 2],
            2,
        ),
        # No interval: once per epoch.
        (["data.batch_size=10", "data.bptt=4", "trainer.epochs=2", "trainer.eval_interval=null"], [24, 48], [1, 2], 2),
    ],
)
def test_evaluation_schedule(
    tmp_path: Path,
    tiny_ptb: Path,
    overrides: list[str],
    expected_steps: list[int],
    expected_epochs: list[int],
    epochs_completed: int,
) -> None:
    run_dir, summary = train(tmp_path, tiny_ptb, *overrides, "trainer.log_interval=1000")
    scalars = read_scalars(run_dir)
    assert [s for s, _ in scalars["ppl/valid"]] == expected_steps
    assert [s for s, _ in scalars["ppl/test"]] == expected_steps

    rows = read_jsonl(run_dir / "metrics.jsonl")
    assert [r["step"] for r in rows] == expected_steps
    assert [r["epoch"] for r in rows] == expected_epochs
    for row, (_, valid), (_, test) in zip(rows, scalars["ppl/valid"], scalars["ppl/test"]):
        assert valid == pytest.approx(row["valid_ppl"], rel=1e-6)
        assert test == pytest.approx(row["test_ppl"], rel=1e-6)
    assert summary["steps"] == expected_steps[-1]
    assert summary["epochs_completed"] == epochs_completed


def training_trajectory(run_dir: Path) -> dict[str, object]:
    """What training computed, read from the last checkpoint (written after the last epoch's
    evaluation) and the per-batch TensorBoard scalars: no evaluation numbers, no timings."""
    state = torch.load(run_dir / "checkpoint.pt", weights_only=True)
    scalars = read_scalars(run_dir)
    return {
        "model": state["model"],
        "optimizer state": state["optimizer"]["state"],
        "optimizer param_groups": state["optimizer"]["param_groups"],
        "carried hidden state": state["task"]["hidden"],
        "torch rng": state["rng"]["torch"],
        "training loss": scalars["loss/train"],
        "gradient norm": scalars["grad_norm"],
    }


def bits(t: torch.Tensor) -> torch.Tensor:
    return t.detach().cpu().reshape(-1).contiguous().view(torch.uint8)


def bitwise_differences(a: object, b: object, path: str = "") -> list[str]:
    """Where two nested containers of tensors and plain values differ in any bit (dtypes included)."""
    if isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor):
        same = a.dtype == b.dtype and a.shape == b.shape and torch.equal(bits(a), bits(b))
        return [] if same else [path]
    if isinstance(a, dict) and isinstance(b, dict):
        if a.keys() != b.keys():
            return [path]
        return [d for k in a for d in bitwise_differences(a[k], b[k], f"{path}/{k}")]
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        if len(a) != len(b):
            return [path]
        return [d for i, (x, y) in enumerate(zip(a, b)) for d in bitwise_differences(x, y, f"{path}[{i}]")]
    return [] if a == b else [path]


def test_evaluation_schedule_leaves_the_training_trajectory_bit_identical(
    tmp_path: Path, tiny_ptb: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Evaluating every 5 batches (9 times inside each 49-batch epoch) instead of only at epoch
    ends changes no bit of what training computes over two epochs."""
    common = ("trainer.epochs=2", "trainer.log_interval=1")
    every_epoch = training_trajectory(train(tmp_path, tiny_ptb, *common, "trainer.eval_interval=null", name="epoch")[0])
    every_5 = training_trajectory(train(tmp_path, tiny_ptb, *common, "trainer.eval_interval=5", name="every5")[0])
    assert len(every_5["training loss"]) == 98
    assert bitwise_differences(every_epoch, every_5) == []

    # The comparison sees a disturbance: an evaluation that restarts the carried hidden state
    # changes the losses of the batches after it and the weights they train.
    evaluate = PTBTask.evaluate

    def evaluate_and_reset_the_carried_state(self: PTBTask) -> dict:
        with torch.inference_mode(False):  # a state training can backpropagate through
            self.hidden = self.model.init_hidden(self.data_cfg.batch_size)
        return evaluate(self)

    monkeypatch.setattr(PTBTask, "evaluate", evaluate_and_reset_the_carried_state)
    disturbed = training_trajectory(train(tmp_path, tiny_ptb, *common, "trainer.eval_interval=5", name="disturbed")[0])
    differing = {d.split("/")[1].split("[")[0] for d in bitwise_differences(every_epoch, disturbed)}
    assert {"model", "optimizer state", "training loss", "gradient norm"} <= differing


def test_metrics_and_summary_contents(tmp_path: Path, tiny_ptb: Path) -> None:
    cfg = ptb_cfg(tiny_ptb, "trainer.max_batches=12", "trainer.eval_interval=4", "seed=5")
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    returned = run(cfg, run_dir)

    rows = read_jsonl(run_dir / "metrics.jsonl")
    assert len(rows) == 3
    for row in rows:
        assert {"step", "epoch", "valid_ppl", "test_ppl", "lr"} <= row.keys()
        assert 1.0 < row["valid_ppl"] < 100 and 1.0 < row["test_ppl"] < 100

    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary == json.loads(json.dumps(returned.to_dict()))
    assert summary["status"] == "completed"
    assert (summary["task"], summary["optimizer"], summary["seed"]) == ("ptb", "adamomentum", 5)
    assert summary["steps"] == 12
    last = rows[-1]
    assert summary["final"] == {k: last[k] for k in ("step", "epoch", "valid_ppl", "test_ppl")}
    best = min(rows, key=lambda r: r["valid_ppl"])
    assert summary["best_valid"] == {k: best[k] for k in ("step", "epoch", "valid_ppl", "test_ppl")}
    assert isinstance(summary["test_ppl_stream"], float) and 1.0 < summary["test_ppl_stream"] < 100
    assert summary["test_ppl_stream_batch_size"] == 1
    assert isinstance(summary["wall_time_s"], (int, float)) and summary["wall_time_s"] >= 0
    assert summary["peak_rss_mb"] > 50  # torch alone takes more
    assert summary["minor_faults_per_batch"] >= 0
    assert summary["device"].startswith("cpu")
    assert "git_commit" in summary
    assert summary["config"] == OmegaConf.to_container(cfg, resolve=True)


# ---------------------------------------------------------------- perplexity


def test_perplexity_of_uniform_logits_is_the_vocabulary_size(tiny_ptb: Path) -> None:
    task = build_task(tiny_ptb)
    with torch.no_grad():
        task.model.decoder.weight.zero_()
        task.model.decoder.bias.zero_()
        assert task._perplexity(task.valid_data) == pytest.approx(task.vocab_size, rel=1e-6)
        assert task._perplexity(task.test_stream) == pytest.approx(task.vocab_size, rel=1e-6)
    assert task.vocab_size == 8


def test_perplexity_is_exp_of_mean_nll_over_every_target(tiny_ptb: Path) -> None:
    """A model that ignores its input and predicts a fixed distribution p: the perplexity is
    exp(-mean log p[target]) over every target of the stream, across bptt chunk boundaries."""
    task = build_task(tiny_ptb, "data.bptt=7")  # 50 rows: chunks of 7 leave a short last one
    log_p = torch.log_softmax(torch.arange(task.vocab_size, dtype=torch.float32) * 0.3, dim=0)
    with torch.no_grad():
        task.model.decoder.weight.zero_()
        task.model.decoder.bias.copy_(log_p)
        for data in (task.valid_data, task.test_data, task.test_stream):
            targets = data[1:].reshape(-1)
            expected = math.exp(-log_p.double()[targets].mean().item())
            assert task._perplexity(data) == pytest.approx(expected, rel=1e-5)


# ---------------------------------------------------------------- batching and state carry


def test_batches_walk_down_the_columns_with_shifted_targets(tiny_ptb: Path) -> None:
    task = build_task(tiny_ptb)
    bptt, data = task.data_cfg.bptt, task.train_data
    batches = list(task.train_batches(1))
    assert len(batches) == task.batches_per_epoch() == (data.shape[0] - 1) // bptt == 49
    for k, (inputs, targets) in enumerate(batches):
        assert inputs.shape == targets.shape == (bptt, 4)
        assert torch.equal(inputs, data[k * bptt : (k + 1) * bptt])
        assert torch.equal(targets, data[k * bptt + 1 : (k + 1) * bptt + 1])
        assert torch.equal(targets[:-1], inputs[1:])
        if k > 0:
            # Batch k continues the text of batch k-1 in every column.
            assert torch.equal(inputs[0], batches[k - 1][1][-1])
            assert torch.equal(inputs[0], data[k * bptt])


def test_hidden_state_is_carried_detached_and_reset_each_epoch(tiny_ptb: Path) -> None:
    # Large weights, so that the state carried in changes the next batch's scores visibly.
    task = build_task(tiny_ptb, "model.init_range=1.0")
    model = task.model
    batches = task.train_batches(1)
    b0, b1 = next(batches), next(batches)

    loss0, _, _ = task.train_loss(b0)
    # Manual forward of batch 0 from zeros gives the state the task now holds.
    _, h0 = model(b0[0], model.init_hidden(4))
    assert torch.allclose(task.hidden[0], h0[0], atol=1e-6) and torch.allclose(task.hidden[1], h0[1], atol=1e-6)
    assert h0[0].abs().sum() > 0

    carried = (task.hidden[0].detach().clone(), task.hidden[1].detach().clone())
    loss1, nll1, tokens1 = task.train_loss(b1)
    logits, h1 = model(b1[0], carried)
    manual_nll = F.cross_entropy(logits.reshape(-1, task.vocab_size), b1[1].reshape(-1), reduction="sum")
    assert nll1.item() == pytest.approx(manual_nll.item(), rel=1e-5)
    assert tokens1 == b1[1].numel()
    assert torch.allclose(task.hidden[0], h1[0], atol=1e-6) and torch.allclose(task.hidden[1], h1[1], atol=1e-6)
    # From zeros instead, batch 1 would score differently: the state really is carried.
    logits_fresh, _ = model(b1[0], model.init_hidden(4))
    fresh_nll = F.cross_entropy(logits_fresh.reshape(-1, task.vocab_size), b1[1].reshape(-1), reduction="sum")
    assert abs(fresh_nll.item() - manual_nll.item()) > 1e-2

    # Detached: batch 1's gradient is that of the manual forward from a detached state, not
    # one that also flows back through batch 0's graph (which is still alive here).
    params = list(model.parameters())
    grads_task = torch.autograd.grad(loss1, params, retain_graph=True)
    grads_manual = torch.autograd.grad(manual_nll / 4, params)
    for g_task, g_manual in zip(grads_task, grads_manual):
        assert torch.allclose(g_task, g_manual, rtol=1e-4, atol=1e-7)
    del loss0

    # A new epoch starts from zeros again.
    next(task.train_batches(2))
    assert all(t.abs().sum() == 0 for t in task.hidden)


# ---------------------------------------------------------------- loss scale


def test_sum_over_time_gradient_is_bptt_times_the_mean_gradient(tiny_ptb: Path) -> None:
    grads, losses, nlls = {}, {}, {}
    for reduction in ("sum_over_time", "mean"):
        task = build_task(tiny_ptb, f"task.loss_reduction={reduction}", seed=11)
        batch = next(task.train_batches(1))
        loss, nll, tokens = task.train_loss(batch)
        assert tokens == 5 * 4
        task.model.zero_grad()
        loss.backward()
        grads[reduction] = [p.grad.clone() for p in task.model.parameters()]
        losses[reduction], nlls[reduction] = loss.item(), nll.item()
        # Total NLL of the batch, recomputed by hand.
        with torch.no_grad():
            logits, _ = task.model(batch[0], task.model.init_hidden(4))
            manual = F.cross_entropy(logits.reshape(-1, task.vocab_size), batch[1].reshape(-1), reduction="sum")
        assert nll.item() == pytest.approx(manual.item(), rel=1e-5)

    bptt, batch_size = 5, 4
    assert nlls["sum_over_time"] == pytest.approx(nlls["mean"], rel=1e-6)  # same weights, same batch
    assert losses["sum_over_time"] == pytest.approx(nlls["sum_over_time"] / batch_size, rel=1e-6)
    assert losses["mean"] == pytest.approx(nlls["mean"] / (bptt * batch_size), rel=1e-6)
    for g_sum, g_mean in zip(grads["sum_over_time"], grads["mean"]):
        torch.testing.assert_close(g_sum, bptt * g_mean, rtol=1e-5, atol=1e-8)


def test_unknown_loss_reduction_is_a_config_error(tiny_ptb: Path) -> None:
    from adamomentum.errors import ConfigError

    with pytest.raises(ConfigError, match="task.loss_reduction"):
        build_task(tiny_ptb, "task.loss_reduction=sum")


# ---------------------------------------------------------------- determinism


def test_same_seed_gives_identical_metrics(tmp_path: Path, tiny_ptb: Path) -> None:
    overrides = ("trainer.max_batches=10", "trainer.eval_interval=5", "trainer.log_interval=1000")
    runs = [
        train(tmp_path, tiny_ptb, *overrides, f"seed={seed}", name=f"run{i}")[0] for i, seed in enumerate((3, 3, 4))
    ]
    first, again, other = (read_jsonl(r / "metrics.jsonl") for r in runs)
    assert len(first) == 2
    assert first == again
    assert [r["valid_ppl"] for r in first] != [r["valid_ppl"] for r in other]


# ---------------------------------------------------------------- learning-rate decay


def test_zaremba_lr_decay_per_epoch(tmp_path: Path, tiny_ptb: Path) -> None:
    common = (
        "optimizer=sgd",
        "data.batch_size=10",
        "data.bptt=4",
        "trainer.epochs=3",
        "trainer.eval_interval=null",
        "trainer.lr_decay_start=1",
        "trainer.lr_decay_factor=0.5",
        "trainer.log_interval=12",
    )
    run_dir, _ = train(tmp_path, tiny_ptb, *common, name="decay")
    rows = read_jsonl(run_dir / "metrics.jsonl")
    assert [(r["epoch"], r["step"]) for r in rows] == [(1, 24), (2, 48), (3, 72)]
    assert [r["lr"] for r in rows] == [1.0, 1.0, 0.5]
    # The lr actually used for the batches: 1.0 in epochs 1-2, 0.5 in epoch 3.
    assert read_scalars(run_dir)["lr"] == [(12, 1.0), (24, 1.0), (36, 1.0), (48, 1.0), (60, 0.5), (72, 0.5)]

    run_dir, _ = train(tmp_path, tiny_ptb, *common, "trainer.lr_decay=false", name="constant")
    assert [r["lr"] for r in read_jsonl(run_dir / "metrics.jsonl")] == [1.0, 1.0, 1.0]


def test_train_fraction_is_a_prefix_of_the_text_with_the_full_vocabulary(tiny_ptb: Path) -> None:
    full = build_task(tiny_ptb)
    quarter = build_task(tiny_ptb, "data.train_fraction=0.25")
    assert quarter.vocab_size == full.vocab_size
    # Column 0 of the batchified quarter is the first quarter-of-a-column of the text.
    rows = quarter.train_data.shape[0]
    assert rows == full.train_data.numel() // 4 // quarter.train_data.shape[1]
    stream = torch.cat([full.train_data[:, j] for j in range(full.train_data.shape[1])])
    assert torch.equal(quarter.train_data[:, 0], stream[:rows])


def test_element_wise_clipping_bounds_every_gradient_element_the_step_uses(tmp_path: Path, tiny_ptb: Path) -> None:
    """trainer.clip_grad_value (the authors' C++ code clips each element to [-1, 1]): the optimizer steps with the
    clipped gradients, while the logged gradient norm is the one before clipping."""
    from adamomentum.run import build_trainer

    cfg = ptb_cfg(
        tiny_ptb,
        "optimizer=sgd",
        "trainer.clip_grad_norm=null",
        "trainer.clip_grad_value=0.001",
        "trainer.max_batches=3",
        "trainer.eval_interval=null",
        "checkpoint_interval=null",
    )
    trainer = build_trainer(cfg, tmp_path, CPU)
    seen = []

    def record(step, loss, nll, tokens, grad_norm, task, optimizer) -> None:
        grads = [p.grad for p in task.model.parameters()]
        seen.append(
            (
                float(grad_norm),
                max(float(g.abs().max()) for g in grads),
                float(torch.cat([g.flatten() for g in grads]).norm()),
            )
        )

    trainer.step_callbacks.append(record)
    trainer.fit()
    assert len(seen) == 3
    for norm_before, largest_element, norm_after in seen:
        assert largest_element == pytest.approx(0.001)
        assert norm_after < norm_before
