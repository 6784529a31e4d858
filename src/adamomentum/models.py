"""The paper's two networks: an LSTM language model and a BiLSTM tagger."""

from __future__ import annotations

import torch
from torch import Tensor, nn

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


def reverse_padded(x: Tensor, index: Tensor) -> Tensor:
    """``x`` ``[batch, steps, features]`` reordered along its steps by ``index`` (see ``reversal_index``)."""
    return x.gather(1, index.unsqueeze(-1).expand_as(x))


def reversal_index(lengths: Tensor, steps: int) -> Tensor:
    """Per row, the positions that reverse its first ``lengths[row]`` steps and leave the padding after them.

    The reordering is its own inverse: applying it twice gives the batch back.
    """
    position = torch.arange(steps, device=lengths.device)
    last = lengths.unsqueeze(1) - 1
    return torch.where(position <= last, last - position, position)


class BiLSTMTagger(nn.Module):
    """Embedding, stacked bidirectional LSTM, linear layer to the tag scores.

    Each layer runs its two directions as one-layer LSTMs over the padded batch:
    the forward one reads each sentence as it is, the backward one reads it
    reversed in place (real tokens reversed, padding left after them). Padding
    then only ever follows a sentence's real tokens, so it never reaches their
    states, and the outputs at real tokens are those of a packed bidirectional
    ``nn.LSTM``. Packing is avoided because on CPU it falls back to a per-step
    loop whose backward pass zero-fills the whole packed input at every step;
    the padded batch runs the fused kernel instead, in about half the time.
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
        inputs = [embedding_dim] + [2 * hidden_size] * (num_layers - 1)
        self.forward_layers = nn.ModuleList(nn.LSTM(n, hidden_size, batch_first=True) for n in inputs)
        self.backward_layers = nn.ModuleList(nn.LSTM(n, hidden_size, batch_first=True) for n in inputs)
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(2 * hidden_size, num_tags)
        init_uniform_(self, init_range)
        with torch.no_grad():
            self.embedding.weight[padding_idx].zero_()

    def forward(self, tokens: Tensor, lengths: Tensor) -> Tensor:
        """Tag scores ``[batch, max_len, num_tags]`` for ``tokens`` ``[batch, max_len]``; scores at padding are
        meaningless and must be masked."""
        index = reversal_index(lengths.to(tokens.device), tokens.shape[1])
        x = self.dropout(self.embedding(tokens))
        for depth, (forward, backward) in enumerate(zip(self.forward_layers, self.backward_layers)):
            if depth:
                x = self.dropout(x)  # between layers, as nn.LSTM's dropout
            ahead, _ = forward(x)
            behind, _ = backward(reverse_padded(x, index))
            x = torch.cat([ahead, reverse_padded(behind, index)], dim=-1)
        return self.classifier(self.dropout(x))
