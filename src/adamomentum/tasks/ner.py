"""Chinese named-entity recognition with a BiLSTM tagger (the paper's Figure 2)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from adamomentum.config import ModelConfig, NERDataConfig, TaskConfig
from adamomentum.data.ner import Sentence, build_vocab, load_ner, sample_in_order
from adamomentum.errors import ConfigError
from adamomentum.measures import VALID_F1
from adamomentum.metrics import entity_f1, token_f1
from adamomentum.models import BiLSTMTagger

log = logging.getLogger(__name__)

PAD_ID, UNK_ID = 0, 1
IGNORE = -100
# How train_loss scales the batch's summed NLL (TaskConfig.loss_reduction): by its real tokens
# (mean) or by its sentences (sum_over_time, the language model's sum over its time steps).
LOSS_REDUCTIONS = ("mean", "sum_over_time")
# Sentences are sorted by length inside pools of this many batches, so that a
# batch holds sentences of similar length while the pools keep the order random.
BUCKET_POOL_BATCHES = 50


class EncodedSplit:
    """A split as id tensors, sorted by length for cheap inference batches."""

    def __init__(self, sentences: list[Sentence], word_to_id: dict[str, int], tag_to_id: dict[str, int]) -> None:
        self.sentences = sentences
        self.tokens = [torch.tensor([word_to_id.get(w, UNK_ID) for w in s.tokens]) for s in sentences]
        self.tags = [torch.tensor([tag_to_id[t] for t in s.tags]) for s in sentences]

    def __len__(self) -> int:
        return len(self.sentences)

    def batch(self, indices: list[int], device: torch.device) -> tuple[Tensor, Tensor, Tensor]:
        """Padded tokens and tags ``[batch, max_len]`` and the lengths, on ``device``."""
        lengths = torch.tensor([len(self.tokens[i]) for i in indices])
        width = int(lengths.max())
        tokens = torch.full((len(indices), width), PAD_ID, dtype=torch.long)
        tags = torch.full((len(indices), width), IGNORE, dtype=torch.long)
        for row, i in enumerate(indices):
            tokens[row, : lengths[row]] = self.tokens[i]
            tags[row, : lengths[row]] = self.tags[i]
        return tokens.to(device, non_blocking=True), tags.to(device, non_blocking=True), lengths


class NERTask:
    """Token classification over BIO tags, cross-entropy over the real tokens (padding never
    counts), averaged over them or, with ``loss_reduction=sum_over_time``, summed per sentence and
    averaged over the sentences.

    Evaluation reports the paper's token-level F1 on valid and test and
    CoNLL entity-level F1 on test; per-type scores go to ``metrics.jsonl``.
    """

    selection = VALID_F1
    tensorboard_tags = {
        "valid_token_f1": "f1/valid_token",
        "test_token_f1": "f1/test_token",
        "test_entity_f1": "f1/test_entity",
    }

    def __init__(
        self, cfg: TaskConfig, data_cfg: NERDataConfig, model: ModelConfig, device: torch.device, seed: int
    ) -> None:
        if cfg.loss_reduction not in LOSS_REDUCTIONS:
            raise ConfigError(
                f"task.loss_reduction={cfg.loss_reduction!r} is not an NER loss reduction; use "
                + " or ".join(f"task.loss_reduction={name}" for name in LOSS_REDUCTIONS)
            )
        self.cfg = cfg
        self.data_cfg = data_cfg
        self.device = device
        self.seed = seed
        corpus = load_ner(
            data_cfg.source,
            data_cfg.data_dir,
            entity_types=list(data_cfg.entity_types),
            type_aliases=dict(data_cfg.type_aliases),
            min_length=data_cfg.min_length,
            max_length=data_cfg.max_length,
            max_train_sentences=data_cfg.max_train_sentences,
            dev_fraction=data_cfg.dev_fraction,
            seed=data_cfg.split_seed,
            hub_dataset=data_cfg.hub_dataset,
            hub_config=data_cfg.hub_config,
        )
        self.data_stats = corpus.stats
        self.tag_names = list(corpus.tags)
        self.vocab = build_vocab(corpus.train, data_cfg.min_count)
        word_to_id = {w: i for i, w in enumerate(self.vocab)}
        tag_to_id = {t: i for i, t in enumerate(self.tag_names)}
        train = corpus.train
        if data_cfg.train_fraction < 1:
            train = sample_in_order(train, max(1, round(len(train) * data_cfg.train_fraction)), data_cfg.split_seed)
        self.train = EncodedSplit(train, word_to_id, tag_to_id)
        self.valid = EncodedSplit(corpus.valid, word_to_id, tag_to_id)
        self.test = EncodedSplit(corpus.test, word_to_id, tag_to_id)
        log.info(
            "NER data: %d / %d / %d sentences, %d words in the vocabulary, tags %s",
            len(self.train),
            len(self.valid),
            len(self.test),
            len(self.vocab),
            self.tag_names,
        )
        self.model = BiLSTMTagger(
            len(self.vocab),
            len(self.tag_names),
            model.embedding_dim,
            model.hidden_size,
            model.num_layers,
            model.dropout,
            model.init_range,
            padding_idx=PAD_ID,
        ).to(device)
        self.padding_stats = {"real_tokens": 0, "padded_tokens": 0}

    def batches_per_epoch(self) -> int:
        return -(-len(self.train) // self.data_cfg.batch_size)

    def epoch_batches(self, epoch: int) -> list[list[int]]:
        """The epoch's batches of sentence indices: a function of (seed, epoch) alone."""
        generator = torch.Generator().manual_seed(self.seed * 100_003 + epoch)
        order = torch.randperm(len(self.train), generator=generator).tolist()
        size = self.data_cfg.batch_size
        if self.data_cfg.bucket_by_length:
            pool = size * BUCKET_POOL_BATCHES
            lengths = [len(t) for t in self.train.tokens]
            order = [
                i for s in range(0, len(order), pool) for i in sorted(order[s : s + pool], key=lengths.__getitem__)
            ]
        batches = [order[s : s + size] for s in range(0, len(order), size)]
        shuffle = torch.randperm(len(batches), generator=generator).tolist()
        return [batches[i] for i in shuffle]

    def train_batches(self, epoch: int, start: int = 0) -> Iterator[tuple[Tensor, Tensor, Tensor]]:
        for indices in self.epoch_batches(epoch)[start:]:
            yield self.train.batch(indices, self.device)

    def train_loss(self, batch: tuple[Tensor, Tensor, Tensor]) -> tuple[Tensor, Tensor, int]:
        tokens, tags, lengths = batch
        logits = self.model(tokens, lengths)
        real = int(lengths.sum())
        self.padding_stats["real_tokens"] += real
        self.padding_stats["padded_tokens"] += tokens.numel()
        nll = F.cross_entropy(
            logits.reshape(-1, logits.shape[-1]).float(), tags.reshape(-1), ignore_index=IGNORE, reduction="sum"
        )
        divisor = len(lengths) if self.cfg.loss_reduction == "sum_over_time" else real
        return nll / divisor, nll.detach(), real

    def state_dict(self) -> dict[str, Any]:
        return {"padding_stats": dict(self.padding_stats)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.padding_stats = dict(state["padding_stats"])

    def predict(self, split: EncodedSplit) -> list[list[str]]:
        order = sorted(range(len(split)), key=lambda i: len(split.tokens[i]))
        predictions: list[list[str]] = [[] for _ in range(len(split))]
        size = self.data_cfg.eval_batch_size
        for s in range(0, len(order), size):
            indices = order[s : s + size]
            tokens, _, lengths = split.batch(indices, self.device)
            best = self.model(tokens, lengths).argmax(-1).cpu()
            for row, i in enumerate(indices):
                predictions[i] = [self.tag_names[t] for t in best[row, : lengths[row]].tolist()]
        return predictions

    def evaluate(self) -> dict[str, Any]:
        valid = token_f1([s.tags for s in self.valid.sentences], self.predict(self.valid))
        test_pred = self.predict(self.test)
        test_gold = [s.tags for s in self.test.sentences]
        test = token_f1(test_gold, test_pred)
        entity = entity_f1(test_gold, test_pred)
        return {
            "valid_token_f1": valid["f1"],
            "test_token_f1": test["f1"],
            "test_entity_f1": entity["f1"],
            "test_token_precision": test["precision"],
            "test_token_recall": test["recall"],
            "test_token_per_type": test["per_type"],
            "test_entity_per_type": entity["per_type"],
        }

    def final_evaluation(self) -> dict[str, Any]:
        real, padded = self.padding_stats["real_tokens"], self.padding_stats["padded_tokens"]
        return {
            "data": self.data_stats,
            "padding_fraction": round(1 - real / padded, 4) if padded else None,
        }
