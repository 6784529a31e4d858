"""Penn Treebank word-level language modelling (Zaremba et al. 2014 setup)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from adamomentum.config import ModelConfig, PTBDataConfig, TaskConfig
from adamomentum.data.ptb import batchify, load_ptb, train_share
from adamomentum.errors import ConfigError
from adamomentum.measures import VALID_PPL
from adamomentum.metrics import perplexity
from adamomentum.models import Hidden, LSTMLanguageModel

LOSS_REDUCTIONS = ("sum_over_time", "mean")


def detach(hidden: Hidden) -> Hidden:
    return hidden[0].detach(), hidden[1].detach()


class PTBTask:
    """Truncated backpropagation through a batchified stream, state carried across batches.

    The hidden state starts from zeros at each epoch and is carried (detached)
    from one batch to the next, so the batch at step k continues the text of
    step k-1 in every column.
    """

    selection = VALID_PPL
    tensorboard_tags = {"valid_ppl": "ppl/valid", "test_ppl": "ppl/test"}

    def __init__(self, cfg: TaskConfig, data_cfg: PTBDataConfig, model: ModelConfig, device: torch.device) -> None:
        if cfg.loss_reduction not in LOSS_REDUCTIONS:
            raise ConfigError(f"task.loss_reduction={cfg.loss_reduction!r} is not one of {', '.join(LOSS_REDUCTIONS)}.")
        self.cfg = cfg
        self.data_cfg = data_cfg
        self.device = device
        corpus = load_ptb(
            data_cfg.data_dir, download=data_cfg.download, base_url=data_cfg.base_url, verify=data_cfg.verify
        )
        self.vocab_size = len(corpus.vocab)
        self.train_data = batchify(train_share(corpus.train, data_cfg.train_fraction), data_cfg.batch_size).to(device)
        self.valid_data = batchify(corpus.valid, data_cfg.eval_batch_size).to(device)
        self.test_data = batchify(corpus.test, data_cfg.eval_batch_size).to(device)
        self.test_stream = batchify(corpus.test, data_cfg.final_test_batch_size).to(device)
        self.model = LSTMLanguageModel(
            self.vocab_size, model.embedding_dim, model.hidden_size, model.num_layers, model.dropout, model.init_range
        ).to(device)
        self.hidden = self.model.init_hidden(data_cfg.batch_size)

    def batches_per_epoch(self) -> int:
        return (self.train_data.shape[0] - 1) // self.data_cfg.bptt

    def train_batches(self, epoch: int, start: int = 0) -> Iterator[tuple[Tensor, Tensor]]:
        bptt = self.data_cfg.bptt
        if start == 0:
            self.hidden = self.model.init_hidden(self.data_cfg.batch_size)
        for i in range(start, self.batches_per_epoch()):
            first = i * bptt
            yield self.train_data[first : first + bptt], self.train_data[first + 1 : first + 1 + bptt]

    def train_loss(self, batch: tuple[Tensor, Tensor]) -> tuple[Tensor, Tensor, int]:
        inputs, targets = batch
        logits, hidden = self.model(inputs, detach(self.hidden))
        self.hidden = hidden
        nll = F.cross_entropy(logits.reshape(-1, self.vocab_size).float(), targets.reshape(-1), reduction="sum")
        # Zaremba's loss: mean over the batch, sum over the bptt steps.
        divisor = inputs.shape[1] if self.cfg.loss_reduction == "sum_over_time" else targets.numel()
        return nll / divisor, nll.detach(), targets.numel()

    def state_dict(self) -> dict[str, Any]:
        return {"hidden": [h.detach().cpu() for h in self.hidden]}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        h, c = (t.to(self.device) for t in state["hidden"])
        self.hidden = (h, c)

    def _perplexity(self, data: Tensor) -> float:
        hidden = self.model.init_hidden(data.shape[1])
        total_nll = torch.zeros((), device=self.device, dtype=torch.float64)
        chunk = self.data_cfg.bptt
        for start in range(0, data.shape[0] - 1, chunk):
            inputs = data[start : start + chunk]
            targets = data[start + 1 : start + 1 + chunk]
            inputs = inputs[: targets.shape[0]]
            logits, hidden = self.model(inputs, hidden)
            total_nll += F.cross_entropy(
                logits.reshape(-1, self.vocab_size).float(), targets.reshape(-1), reduction="sum"
            ).double()
        return perplexity(total_nll.item(), (data.shape[0] - 1) * data.shape[1])

    def evaluate(self) -> dict[str, Any]:
        return {"valid_ppl": self._perplexity(self.valid_data), "test_ppl": self._perplexity(self.test_data)}

    def final_evaluation(self) -> dict[str, Any]:
        return {
            "test_ppl_stream": self._perplexity(self.test_stream),
            "test_ppl_stream_batch_size": self.data_cfg.final_test_batch_size,
        }
