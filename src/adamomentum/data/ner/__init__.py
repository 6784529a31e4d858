"""Chinese NER corpora in three formats, normalised to BIO over a chosen set of entity types.

The paper tags four OntoNotes types (GPE, LOC, ORG, PERSON) on sentences of 2 to 80 tokens.
OntoNotes is licensed, so the loader accepts it from the Hugging Face hub, from the CoNLL-2012
``*gold_conll`` release, or from any two-column corpus (such as MSRA). Every source goes through
the same normalisation, so a model trained on one sees exactly the same tag inventory and
filtering as on another:

1. tags are read into BIO over the source's own type names (BMES/BIOES and brackets converted);
2. type names pass through ``type_aliases`` (a type with no alias keeps its own name);
3. entities of types outside ``entity_types`` become ``O``;
4. an ``I-X`` that does not continue an ``X`` entity becomes ``B-X`` (counted, never silent);
5. sentences outside ``[min_length, max_length]`` tokens are dropped (counted per split);
6. train is capped at ``max_train_sentences`` by a seeded sample that keeps corpus order.

Counts in ``NERData.stats`` that describe the source (entities dropped, repairs) are taken over
the sentences as read, before the length filter, so they do not change with the length limits.

One module per source (``hub``, ``conll2012``, ``columns``), each returning the sentences as read;
``normalise`` applies steps 2-4 and ``loader.load_ner`` the rest.
"""

from adamomentum.data.ner.corpus import NERData, Sentence, build_vocab, sample_in_order
from adamomentum.data.ner.loader import DEFAULT_ENTITY_TYPES, SOURCES, SPLITS, load_ner
from adamomentum.data.ner.normalise import DEFAULT_TYPE_ALIASES

__all__ = [
    "DEFAULT_ENTITY_TYPES",
    "DEFAULT_TYPE_ALIASES",
    "SOURCES",
    "SPLITS",
    "NERData",
    "Sentence",
    "build_vocab",
    "load_ner",
    "sample_in_order",
]
