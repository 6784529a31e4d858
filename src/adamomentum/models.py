"""The paper's two networks: an LSTM language model and a BiLSTM tagger."""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

Hidden = tuple[Tensor, Tensor]


def init_uniform_(module: nn.Module, init_range: float) -> None:
    """Every weight and bias uniform in [-init_range, init_range], as Zaremba et al."""
    for p in module.parameters():
        nn.init.uniform_(p, -init_range, init_range)


class LSTMLanguageModel(nn.Module):
    """Embedding, stacked LSTM, linear decoder to the vocabulary (untied weights).

    Inputs are time-major, ``[steps, batch]``, as the truncated-backpropagation
    batches of the Penn Treebank task are.
    """

    def __init__(
        self,
        vocab_size: int,
        embedding_dim: int = 256,
        hidden_size: int = 256,
        num_layers: int = 2,
        dropout: float = 0.0,
        init_range: float = 0.1,
    ) -> None:
        super().__init__()
        self.num_layers = num_layers
        self.hidden_size = hidden_size
        self.embedding = nn.Embedding(vocab_size, embedding_dim)
        self.lstm = nn.LSTM(embedding_dim, hidden_size, num_layers, dropout=dropout if num_layers > 1 else 0.0)
        self.dropout = nn.Dropout(dropout)
        self.decoder = nn.Linear(hidden_size, vocab_size)
        init_uniform_(self, init_range)

    def init_hidden(self, batch_size: int) -> Hidden:
        weight = self.decoder.weight
        shape = (self.num_layers, batch_size, self.hidden_size)
        return weight.new_zeros(shape), weight.new_zeros(shape)

    def forward(self, tokens: Tensor, hidden: Hidden) -> tuple[Tensor, Hidden]:
        """Logits ``[steps, batch, vocab]`` and the hidden state after the last step."""
        output, hidden = self.lstm(self.dropout(self.embedding(tokens)), hidden)
        return self.decoder(self.dropout(output)), hidden


class BiLSTMTagger(nn.Module):
    """Embedding, stacked bidirectional LSTM, linear layer to the tag scores.

    Padding is packed away, so the LSTM never reads pad tokens and the backward
    direction starts at each sentence's real last token.
    """

    def __init__(
        self,
        vocab_size: int,
        num_tags: int,
        embedding_dim: int = 256,
        hidden_size: int = 256,
        num_layers: int = 2,
        dropout: float = 0.0,
        init_range: float = 0.1,
        padding_idx: int = 0,
    ) -> None:
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embedding_dim, padding_idx=padding_idx)
        self.lstm = nn.LSTM(
            embedding_dim,
            hidden_size,
            num_layers,
            batch_first=True,
            bidirectional=True,
            dropout=dropout if num_layers > 1 else 0.0,
        )
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(2 * hidden_size, num_tags)
        init_uniform_(self, init_range)
        with torch.no_grad():
            self.embedding.weight[padding_idx].zero_()

    def forward(self, tokens: Tensor, lengths: Tensor) -> Tensor:
        """Tag scores ``[batch, max_len, num_tags]`` for ``tokens`` ``[batch, max_len]``."""
        embedded = self.dropout(self.embedding(tokens))
        packed = pack_padded_sequence(embedded, lengths.cpu(), batch_first=True, enforce_sorted=False)
        output, _ = self.lstm(packed)
        output, _ = pad_packed_sequence(output, batch_first=True, total_length=tokens.shape[1])
        return self.classifier(self.dropout(output))
