"""The NER task end to end on tiny column files: learning, what each evaluation records and when,
the epoch's batches, and length bucketing."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
import torch

from adamomentum.run import run
from adamomentum.tasks.ner import NERTask
from conftest import NER_TRAIN_LENGTHS, SMALL_NER, compose_cfg, read_jsonl, read_scalars

CPU = torch.device("cpu")
BATCHES_PER_EPOCH = 10  # 40 training sentences in batches of 4


def ner_cfg(data_dir: Path, *overrides: str):
    return compose_cfg([*SMALL_NER, f"data.data_dir={data_dir}", *overrides])


def train(tmp_path: Path, data_dir: Path, *overrides: str, name: str = "run") -> tuple[Path, dict]:
    run_dir = tmp_path / name
    run_dir.mkdir()
    return run_dir, run(ner_cfg(data_dir, *overrides), run_dir).to_dict()


def build_task(data_dir: Path, *overrides: str, seed: int = 0) -> NERTask:
    torch.manual_seed(seed)
    cfg = ner_cfg(data_dir, *overrides)
    return NERTask(cfg.task, cfg.data, cfg.model, CPU, seed)


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    """Four epochs on the tiny corpus, shared by the tests that only read the run directory."""
    from conftest import write_tiny_ner

    root = tmp_path_factory.mktemp("ner_run")
    data = write_tiny_ner(root / "data", NER_TRAIN_LENGTHS)
    return train(root, data, "trainer.epochs=4", "trainer.log_interval=5")


def test_a_few_epochs_lower_the_training_loss(trained: tuple[Path, dict]) -> None:
    run_dir, summary = trained
    losses = [v for _, v in read_scalars(run_dir)["loss/train"]]
    assert len(losses) == 8
    assert losses[0] > 1.0  # about ln(9) for 9 tags at the start
    assert losses[-1] < 0.3 * losses[0], losses
    assert summary["status"] == "completed"
    assert summary["steps"] == 4 * BATCHES_PER_EPOCH
    assert summary["epochs_completed"] == 4


def test_one_evaluation_per_epoch_in_metrics_jsonl(trained: tuple[Path, dict]) -> None:
    run_dir, summary = trained
    rows = read_jsonl(run_dir / "metrics.jsonl")
    assert [r["epoch"] for r in rows] == [1, 2, 3, 4]
    assert [r["step"] for r in rows] == [10, 20, 30, 40]
    for row in rows:
        for key in ("valid_token_f1", "test_token_f1", "test_entity_f1"):
            assert 0.0 <= row[key] <= 1.0, key
        for key in ("test_token_per_type", "test_entity_per_type"):
            per_type = row[key]
            assert isinstance(per_type, dict)
            for scores in per_type.values():
                assert {"precision", "recall", "f1", "support"} <= scores.keys()
        # The test split holds 10 of each entity, all single tokens but PERSON (some two).
        assert row["test_entity_per_type"]["PERSON"]["support"] == 10
        assert set(row["test_token_per_type"]) >= {"LOC", "ORG", "PERSON"}
    # The tiny corpus is easy: after four epochs the tagger finds most entities.
    assert rows[-1]["test_token_f1"] > 0.8
    assert summary["final"]["test_token_f1"] == rows[-1]["test_token_f1"]
    best = max(rows, key=lambda r: r["valid_token_f1"])
    assert summary["best_valid"]["valid_token_f1"] == best["valid_token_f1"]
    assert summary["best_valid"]["step"] == best["step"]
    assert "test_token_per_type" not in summary["final"]
    assert summary["data"]["sizes"] == {"train": 40, "valid": 10, "test": 10}


def test_tensorboard_scalars_at_each_epoch_end(trained: tuple[Path, dict]) -> None:
    run_dir, _ = trained
    scalars = read_scalars(run_dir)
    rows = read_jsonl(run_dir / "metrics.jsonl")
    for tag, key in (
        ("f1/valid_token", "valid_token_f1"),
        ("f1/test_token", "test_token_f1"),
        ("f1/test_entity", "test_entity_f1"),
    ):
        assert [s for s, _ in scalars[tag]] == [10, 20, 30, 40], tag
        assert [v for _, v in scalars[tag]] == pytest.approx([r[key] for r in rows], abs=1e-6)
    assert [s for s, _ in scalars["loss/train"]] == [5, 10, 15, 20, 25, 30, 35, 40]


def test_eval_interval_adds_evaluations_within_epochs(tmp_path: Path, tiny_ner: Path) -> None:
    run_dir, _ = train(tmp_path, tiny_ner, "trainer.epochs=2", "trainer.eval_interval=4", "trainer.log_interval=100")
    rows = read_jsonl(run_dir / "metrics.jsonl")
    assert [(r["epoch"], r["step"]) for r in rows] == [(1, 4), (1, 8), (1, 10), (2, 12), (2, 16), (2, 20)]
    assert [s for s, _ in read_scalars(run_dir)["f1/valid_token"]] == [4, 8, 10, 12, 16, 20]


# ---------------------------------------------------------------- the epoch's batches


def test_epoch_batches_cover_every_sentence_once(tiny_ner: Path) -> None:
    task = build_task(tiny_ner)
    for epoch in (1, 2, 3):
        batches = task.epoch_batches(epoch)
        assert len(batches) == task.batches_per_epoch() == BATCHES_PER_EPOCH
        assert all(1 <= len(b) <= 4 for b in batches)
        assert sorted(i for b in batches for i in b) == list(range(40))


def test_epoch_batches_cover_every_sentence_once_with_a_ragged_last_batch(tmp_path: Path) -> None:
    from conftest import write_tiny_ner

    data = write_tiny_ner(tmp_path / "ner", NER_TRAIN_LENGTHS[:38])
    for bucket in ("true", "false"):
        task = build_task(data, f"data.bucket_by_length={bucket}")
        batches = task.epoch_batches(1)
        assert len(batches) == task.batches_per_epoch() == 10
        assert sorted(len(b) for b in batches) == [2] + [4] * 9
        assert Counter(i for b in batches for i in b) == Counter(range(38))


def test_epoch_batches_depend_on_seed_and_epoch_only(tiny_ner: Path) -> None:
    task = build_task(tiny_ner, seed=0)
    same_seed = build_task(tiny_ner, seed=0)
    other_seed = build_task(tiny_ner, seed=1)
    assert task.epoch_batches(1) == task.epoch_batches(1) == same_seed.epoch_batches(1)
    assert task.epoch_batches(2) == same_seed.epoch_batches(2)
    assert task.epoch_batches(1) != task.epoch_batches(2)
    assert task.epoch_batches(2) != task.epoch_batches(3)
    assert task.epoch_batches(1) != other_seed.epoch_batches(1)


def test_train_batches_are_the_epoch_batches_padded(tiny_ner: Path) -> None:
    task = build_task(tiny_ner)
    indices = task.epoch_batches(2)
    batches = list(task.train_batches(2))
    assert len(batches) == len(indices)
    for (tokens, tags, lengths), idx in zip(batches, indices):
        assert lengths.tolist() == [len(task.train.sentences[i].tokens) for i in idx]
        assert tokens.shape == tags.shape == (len(idx), max(lengths.tolist()))
        for row, i in enumerate(idx):
            n = lengths[row]
            assert torch.equal(tags[row, :n], task.train.tags[i])
            assert (tags[row, n:] == -100).all() and (tokens[row, n:] == 0).all()


# ---------------------------------------------------------------- bucketing


def test_bucketing_lowers_padding(tmp_path: Path, varied_ner: Path) -> None:
    fractions = {}
    for bucket in ("true", "false"):
        _, summary = train(
            tmp_path,
            varied_ner,
            "trainer.epochs=1",
            f"data.bucket_by_length={bucket}",
            "trainer.log_interval=100",
            "model.embedding_dim=8",
            "model.hidden_size=8",
            name=f"bucket_{bucket}",
        )
        fractions[bucket] = summary["padding_fraction"]
        assert 0.0 <= fractions[bucket] < 1.0

    # The expected fractions, from the batches the task draws.
    for bucket in ("true", "false"):
        task = build_task(varied_ner, f"data.bucket_by_length={bucket}")
        lengths = [len(s.tokens) for s in task.train.sentences]
        real = padded = 0
        for batch in task.epoch_batches(1):
            real += sum(lengths[i] for i in batch)
            padded += len(batch) * max(lengths[i] for i in batch)
        assert fractions[bucket] == pytest.approx(1 - real / padded, abs=1e-4)

    assert fractions["true"] < 0.5 * fractions["false"], fractions
    assert fractions["false"] > 0.3


def test_summary_is_written_for_ner(trained: tuple[Path, dict]) -> None:
    run_dir, returned = trained
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["task"] == "ner" and summary["status"] == "completed"
    assert summary["padding_fraction"] == returned["padding_fraction"]
    assert summary["config"]["data"]["source"] == "columns"


def test_train_fraction_samples_sentences_and_keeps_the_full_vocabulary(tiny_ner: Path) -> None:
    full = build_task(tiny_ner)
    half = build_task(tiny_ner, "data.train_fraction=0.5")
    assert len(half.train) == len(full.train) // 2
    assert half.vocab == full.vocab
    full_sentences = [s.tokens for s in full.train.sentences]
    assert all(s.tokens in full_sentences for s in half.train.sentences)
    assert [s.tokens for s in build_task(tiny_ner, "data.train_fraction=0.5").train.sentences] == [
        s.tokens for s in half.train.sentences
    ]


def test_the_tagger_computes_a_packed_bidirectional_lstm(tiny_ner: Path) -> None:
    """Outputs at real tokens and all gradients equal those of ``nn.LSTM(bidirectional=True)`` over packed
    sentences with the same weights, however the padding is filled."""
    from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

    from adamomentum.models import BiLSTMTagger

    torch.manual_seed(0)
    tagger = BiLSTMTagger(vocab_size=50, num_tags=5, embedding_dim=8, hidden_size=6, num_layers=2)
    packed_lstm = torch.nn.LSTM(8, 6, 2, batch_first=True, bidirectional=True)
    with torch.no_grad():
        for layer, (forward, backward) in enumerate(zip(tagger.forward_layers, tagger.backward_layers)):
            for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
                getattr(packed_lstm, f"{name}_l{layer}").copy_(getattr(forward, f"{name}_l0"))
                getattr(packed_lstm, f"{name}_l{layer}_reverse").copy_(getattr(backward, f"{name}_l0"))
    lengths = torch.tensor([7, 2, 5, 7])
    real = torch.arange(7)[None, :] < lengths[:, None]
    tokens = torch.randint(1, 50, (4, 7)).where(real, torch.randint(0, 50, (4, 7)))  # junk in the padding
    weights = torch.randn(4, 7, 5) * real[..., None]  # a loss that reads real tokens only

    scores = tagger(tokens, lengths)
    (scores * weights).sum().backward()
    embedded = tagger.embedding(tokens).detach().requires_grad_()
    packed, _ = packed_lstm(pack_padded_sequence(embedded, lengths, batch_first=True, enforce_sorted=False))
    reference = tagger.classifier(pad_packed_sequence(packed, batch_first=True, total_length=7)[0])
    reference_grads = torch.autograd.grad((reference * weights).sum(), [embedded, *packed_lstm.parameters()])

    torch.testing.assert_close(scores[real], reference[real])
    embedding_grad = torch.zeros(50, 8).index_add_(0, tokens[real], reference_grads[0][real])
    embedding_grad[0] = 0  # the padding row is never trained
    torch.testing.assert_close(tagger.embedding.weight.grad, embedding_grad)
    ours = [
        p.grad for layer in zip(tagger.forward_layers, tagger.backward_layers) for d in layer for p in d.parameters()
    ]
    theirs = {n: g for (n, _), g in zip(packed_lstm.named_parameters(), reference_grads[1:])}
    expected = [
        theirs[f"{name}_l{layer}{suffix}"]
        for layer in range(2)
        for suffix in ("", "_reverse")
        for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
    ]
    for got, want in zip(ours, expected, strict=True):
        torch.testing.assert_close(got, want)
