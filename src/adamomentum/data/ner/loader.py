"""The one loader: reads a source, carves dev if it has none, normalises, filters and caps."""

from __future__ import annotations

import logging
import random
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from adamomentum.data.ner.columns import read_columns
from adamomentum.data.ner.conll2012 import read_conll2012
from adamomentum.data.ner.corpus import NERData, RawSentence, Sentence, sample_in_order
from adamomentum.data.ner.files import existing_dir
from adamomentum.data.ner.hub import read_hub
from adamomentum.data.ner.normalise import DEFAULT_TYPE_ALIASES, Normaliser, count_entities
from adamomentum.errors import ConfigError, DataError

# The package's name, as before the split into modules, so logging set up for it still applies.
log = logging.getLogger("adamomentum.data.ner")

DEFAULT_ENTITY_TYPES: tuple[str, ...] = ("GPE", "LOC", "ORG", "PERSON")

SOURCES = ("hub", "conll2012", "columns")
SPLITS = ("train", "valid", "test")


def load_ner(
    source: str,
    data_dir: str | Path | None = None,
    *,
    entity_types: Sequence[str] = DEFAULT_ENTITY_TYPES,
    type_aliases: Mapping[str, str] = DEFAULT_TYPE_ALIASES,
    min_length: int = 2,
    max_length: int = 80,
    max_train_sentences: int | None = None,
    dev_fraction: float = 0.1,
    seed: int = 0,
    hub_dataset: str = "ontonotes/conll2012_ontonotesv5",
    hub_config: str = "chinese_v4",
) -> NERData:
    """Load an NER corpus and normalise it the same way whatever its format (see module docstring).

    ``source`` is ``"hub"`` (the Hugging Face dataset, or with ``data_dir`` a local folder of its
    Parquet files), ``"conll2012"`` (a folder with ``train/``, ``development/``, ``test/``
    holding ``*gold_conll`` files) or ``"columns"`` (``train.txt``, optional ``dev.txt``,
    ``test.txt`` with one token and its tag a line). When the source has no dev split, a seeded
    ``dev_fraction`` of train becomes dev before any filtering, so which sentences are dev does
    not depend on the length limits.
    """
    kept_types = _check_arguments(source, entity_types, min_length, max_length, max_train_sentences, dev_fraction)
    if source == "hub":
        raw, origin = read_hub(data_dir, hub_dataset, hub_config)
    elif source == "conll2012":
        raw, origin = read_conll2012(existing_dir(data_dir, source))
    else:
        raw, origin = read_columns(existing_dir(data_dir, source))

    train, valid, test = raw["train"], raw["valid"], raw["test"]
    assert train is not None and test is not None, "every reader refuses a corpus without train or test"
    stats: dict[str, Any] = {"source": source, "origin": origin, "dev_from_train": valid is None}
    if valid is None:
        train, valid = _carve_dev(train, dev_fraction, seed, origin)
        stats["dev_fraction"] = dev_fraction
    read = {"train": train, "valid": valid, "test": test}

    stats["read_sizes"] = {split: len(read[split]) for split in SPLITS}
    splits: dict[str, list[Sentence]] = {}
    stats["dropped_by_length"] = {}
    stats["dropped_entities"] = {}
    stats["repaired_i_tags_by_split"] = {}
    for split in SPLITS:
        normaliser = Normaliser(type_aliases, kept_types)
        sentences = [normaliser(sentence) for sentence in read[split]]
        kept = [s for s in sentences if min_length <= len(s.tokens) <= max_length]
        stats["dropped_by_length"][split] = {
            "too_short": sum(len(s.tokens) < min_length for s in sentences),
            "too_long": sum(len(s.tokens) > max_length for s in sentences),
        }
        stats["dropped_entities"][split] = dict(sorted(normaliser.dropped_entities.items()))
        stats["repaired_i_tags_by_split"][split] = normaliser.repaired
        splits[split] = kept
    stats["repaired_i_tags"] = sum(stats["repaired_i_tags_by_split"].values())

    stats["train_before_cap"] = len(splits["train"])
    if max_train_sentences is not None and len(splits["train"]) > max_train_sentences:
        splits["train"] = sample_in_order(splits["train"], max_train_sentences, seed)
    stats["sizes"] = {split: len(splits[split]) for split in SPLITS}
    stats["entity_counts"] = {split: count_entities(splits[split]) for split in SPLITS}

    _log_summary(stats, kept_types)
    tags = ["O"] + [f"{prefix}-{t}" for t in kept_types for prefix in ("B", "I")]
    return NERData(splits["train"], splits["valid"], splits["test"], tags, stats)


def _check_arguments(
    source: str,
    entity_types: Sequence[str],
    min_length: int,
    max_length: int,
    max_train_sentences: int | None,
    dev_fraction: float,
) -> list[str]:
    if source not in SOURCES:
        raise ConfigError(f"data.source={source!r} is not a known NER source; use one of {', '.join(SOURCES)}")
    kept = list(entity_types)
    if not kept or len(set(kept)) != len(kept) or not all(kept):
        raise ConfigError(
            f"entity_types={kept!r} must be distinct, non-empty type names, e.g. ['GPE', 'LOC', 'ORG', 'PERSON']"
        )
    if not 1 <= min_length <= max_length:
        raise ConfigError(f"min_length={min_length}, max_length={max_length}: need 1 <= min_length <= max_length")
    if max_train_sentences is not None and max_train_sentences < 1:
        raise ConfigError(f"max_train_sentences={max_train_sentences} must be a positive number or null")
    if not 0.0 < dev_fraction < 1.0:
        raise ConfigError(f"dev_fraction={dev_fraction} must lie strictly between 0 and 1, e.g. 0.1")
    return kept


def _carve_dev(
    train: list[RawSentence], dev_fraction: float, seed: int, origin: str
) -> tuple[list[RawSentence], list[RawSentence]]:
    size = round(len(train) * dev_fraction)
    if size < 1 or size >= len(train):
        raise DataError(
            f"{origin}: no dev split, and dev_fraction={dev_fraction} of {len(train)} train sentences "
            "leaves no dev or no train; add a dev file or change data.dev_fraction"
        )
    chosen = set(random.Random(seed).sample(range(len(train)), size))
    dev = [s for i, s in enumerate(train) if i in chosen]
    rest = [s for i, s in enumerate(train) if i not in chosen]
    return rest, dev


def _log_summary(stats: dict[str, Any], kept_types: Sequence[str]) -> None:
    sizes = stats["sizes"]
    log.info(
        "NER %s (%s): train %d, valid %d, test %d sentences%s",
        stats["source"],
        stats["origin"],
        sizes["train"],
        sizes["valid"],
        sizes["test"],
        " (dev carved from train)" if stats["dev_from_train"] else "",
    )
    if stats["train_before_cap"] != sizes["train"]:
        log.info("train capped from %d to %d sentences", stats["train_before_cap"], sizes["train"])
    log.info(
        "dropped by length %s; repaired %d I- tags that continued no entity %s; entities of types not kept %s",
        stats["dropped_by_length"],
        stats["repaired_i_tags"],
        stats["repaired_i_tags_by_split"],
        stats["dropped_entities"],
    )
    seen = {t for counts in stats["entity_counts"].values() for t in counts}
    missing = [t for t in kept_types if t not in seen]
    if missing:
        log.warning(
            "entity types %s never occur in %s; check data.entity_types and the type aliases",
            missing,
            stats["origin"],
        )
