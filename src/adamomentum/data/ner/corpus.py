"""What the NER loader hands out (sentences, the three splits) and what its readers hand in."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Sentence:
    """Tokens (words or characters, as the corpus segments them) and their BIO tags.

    The readers intern both (``sys.intern``): a corpus repeats a few thousand distinct tokens and
    a handful of tags millions of times; one string object each cuts the resident memory that
    loading MSRA adds from 398 to 133 MiB.
    """

    tokens: list[str]
    tags: list[str]


@dataclass
class NERData:
    """The three splits, the tag inventory the model predicts over, and what loading changed.

    ``tags`` is ``"O"`` then ``B-``/``I-`` for each kept type in ``entity_types`` order, whether
    or not a type occurs, so tag ids do not depend on the corpus. ``stats`` holds: ``source``,
    ``origin`` (folder or dataset), ``dev_from_train`` (and ``dev_fraction`` when true),
    ``read_sizes`` (sentences per split as read, after any dev carving), ``dropped_by_length``
    (``too_short``/``too_long`` per split), ``dropped_entities`` (per split, per type not kept),
    ``repaired_i_tags`` (total) and ``repaired_i_tags_by_split``, ``train_before_cap``,
    ``sizes`` (final sentences per split) and ``entity_counts`` (final entities per split and type).
    """

    train: list[Sentence]
    valid: list[Sentence]
    test: list[Sentence]
    tags: list[str]
    stats: dict[str, Any] = field(default_factory=dict)


@dataclass
class RawSentence:
    """A sentence as read, with BIO tags over the source's own type names, and where it came from."""

    tokens: list[str]
    tags: list[str]
    origin: str  # "file:line" or "split/document/sentence", for error messages


# Each reader returns its splits by the loader's names (``train``, ``valid``, ``test``), ``None``
# for a split the source does not have, and the origin (folder or dataset) for messages.
RawSplits = dict[str, list[RawSentence] | None]


def build_vocab(sentences: Iterable[Sentence], min_count: int = 1) -> list[str]:
    """Token inventory with ``<pad>`` at 0 and ``<unk>`` at 1.

    Ordered by descending count, ties by token, so the ids are the same on every run and
    machine (a ``Counter``'s insertion order would tie them to corpus order).
    """
    counts = Counter(token for sentence in sentences for token in sentence.tokens)
    kept = sorted((t for t, c in counts.items() if c >= min_count), key=lambda t: (-counts[t], t))
    return ["<pad>", "<unk>"] + [t for t in kept if t not in ("<pad>", "<unk>")]


def sample_in_order(sentences: list[Sentence], size: int, seed: int) -> list[Sentence]:
    """A seeded sample that keeps corpus order, so a cap does not also shuffle documents."""
    chosen = sorted(random.Random(seed).sample(range(len(sentences)), size))
    return [sentences[i] for i in chosen]
