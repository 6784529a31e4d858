"""The normalisation every source goes through: type aliases, kept types, stray I- tags."""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Mapping, Sequence

from adamomentum.data.ner.corpus import RawSentence, Sentence

# Keys are type names as corpora spell them; values are the paper's OntoNotes names. PER is the
# MSRA/CoNLL spelling; NR/NS/NT are the People's Daily part-of-speech tags for person, place and
# organisation names, which some Chinese NER corpora reuse as entity types. The identity entries
# only document the targets: a type with no alias keeps its own name anyway. Lookup is exact
# (case-sensitive) so that an alias never captures a type it was not written for.
DEFAULT_TYPE_ALIASES: dict[str, str] = {
    "PER": "PERSON",
    "PERSON": "PERSON",
    "NR": "PERSON",
    "LOC": "LOC",
    "NS": "LOC",
    "ORG": "ORG",
    "NT": "ORG",
    "GPE": "GPE",
}


class Normaliser:
    """Maps types, drops unkept ones and repairs stray I- tags, counting what it changed."""

    def __init__(self, aliases: Mapping[str, str], kept_types: Sequence[str]) -> None:
        self.aliases = aliases
        self.kept = set(kept_types)
        self.dropped_entities: Counter[str] = Counter()
        self.repaired = 0
        self._parsed: dict[str, tuple[str, str]] = {}  # a corpus has few distinct tags

    def __call__(self, raw: RawSentence) -> Sentence:
        tags: list[str] = []
        previous = ""  # type of the previous tag after alias mapping, before dropping types
        for tag in raw.tags:
            if tag == "O":
                tags.append("O")
                previous = ""
                continue
            prefix, mapped = self._parse(tag)
            starts = prefix == "B" or previous != mapped
            previous = mapped
            if mapped not in self.kept:
                if starts:
                    self.dropped_entities[mapped] += 1
                tags.append("O")
            elif starts:
                # Judged before dropping types, so "B-NORP I-PERSON" counts as a repair too:
                # either way the source had an I- that continued no entity of its type.
                if prefix == "I":
                    self.repaired += 1
                tags.append(sys.intern(f"B-{mapped}"))
            else:
                tags.append(sys.intern(f"I-{mapped}"))
        return Sentence(raw.tokens, tags)

    def _parse(self, tag: str) -> tuple[str, str]:
        parsed = self._parsed.get(tag)
        if parsed is None:
            prefix, name = tag.split("-", 1)
            parsed = self._parsed[tag] = (prefix, self.aliases.get(name, name))
        return parsed


def count_entities(sentences: list[Sentence]) -> dict[str, int]:
    counts = Counter(tag[2:] for s in sentences for tag in s.tags if tag.startswith("B-"))
    return dict(sorted(counts.items()))
