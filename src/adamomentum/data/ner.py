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
"""

from __future__ import annotations

import io
import logging
import random
import re
import sys
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from adamomentum.errors import ConfigError, DataError

log = logging.getLogger(__name__)

DEFAULT_ENTITY_TYPES: tuple[str, ...] = ("GPE", "LOC", "ORG", "PERSON")

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

SOURCES = ("hub", "conll2012", "columns")
SPLITS = ("train", "valid", "test")
# Only ASCII blanks separate fields: a Unicode space (U+3000) can be a Chinese token.
_FIELD_SEPARATOR = re.compile(r"[ \t]+")

_LOCAL_OPTIONS = (
    "use a local copy instead: "
    "task.source=conll2012 task.data_dir=<folder of *gold_conll files with train/development/test "
    "sub-folders>, or task.source=columns task.data_dir=<folder with train.txt, dev.txt, test.txt>"
)


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
class _RawSentence:
    """A sentence as read, with BIO tags over the source's own type names, and where it came from."""

    tokens: list[str]
    tags: list[str]
    origin: str  # "file:line" or "split/document/sentence", for error messages


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
    kept_types = _check_arguments(
        source, entity_types, min_length, max_length, max_train_sentences, dev_fraction
    )
    if source == "hub":
        raw, origin = _read_hub(data_dir, hub_dataset, hub_config)
    elif source == "conll2012":
        raw, origin = _read_conll2012(_existing_dir(data_dir, source))
    else:
        raw, origin = _read_columns(_existing_dir(data_dir, source))

    stats: dict[str, Any] = {"source": source, "origin": origin, "dev_from_train": raw["valid"] is None}
    if raw["valid"] is None:
        raw["train"], raw["valid"] = _carve_dev(raw["train"], dev_fraction, seed, origin)
        stats["dev_fraction"] = dev_fraction

    stats["read_sizes"] = {split: len(raw[split]) for split in SPLITS}
    splits: dict[str, list[Sentence]] = {}
    stats["dropped_by_length"] = {}
    stats["dropped_entities"] = {}
    stats["repaired_i_tags_by_split"] = {}
    for split in SPLITS:
        normaliser = _Normaliser(type_aliases, kept_types)
        sentences = [normaliser(sentence) for sentence in raw[split]]
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
    stats["entity_counts"] = {split: _count_entities(splits[split]) for split in SPLITS}

    _log_summary(stats, kept_types)
    tags = ["O"] + [f"{prefix}-{t}" for t in kept_types for prefix in ("B", "I")]
    return NERData(splits["train"], splits["valid"], splits["test"], tags, stats)


def build_vocab(sentences: Iterable[Sentence], min_count: int = 1) -> list[str]:
    """Token inventory with ``<pad>`` at 0 and ``<unk>`` at 1.

    Ordered by descending count, ties by token, so the ids are the same on every run and
    machine (a ``Counter``'s insertion order would tie them to corpus order).
    """
    counts = Counter(token for sentence in sentences for token in sentence.tokens)
    kept = sorted((t for t, c in counts.items() if c >= min_count), key=lambda t: (-counts[t], t))
    return ["<pad>", "<unk>"] + [t for t in kept if t not in ("<pad>", "<unk>")]


# --- arguments -----------------------------------------------------------------------------


def _check_arguments(
    source: str,
    entity_types: Sequence[str],
    min_length: int,
    max_length: int,
    max_train_sentences: int | None,
    dev_fraction: float,
) -> list[str]:
    if source not in SOURCES:
        raise ConfigError(f"task.source={source!r} is not a known NER source; use one of {', '.join(SOURCES)}")
    kept = list(entity_types)
    if not kept or len(set(kept)) != len(kept) or not all(kept):
        raise ConfigError(
            f"entity_types={kept!r} must be distinct, non-empty type names, e.g. ['GPE', 'LOC', 'ORG', 'PERSON']"
        )
    if not 1 <= min_length <= max_length:
        raise ConfigError(
            f"min_length={min_length}, max_length={max_length}: need 1 <= min_length <= max_length"
        )
    if max_train_sentences is not None and max_train_sentences < 1:
        raise ConfigError(f"max_train_sentences={max_train_sentences} must be a positive number or null")
    if not 0.0 < dev_fraction < 1.0:
        raise ConfigError(f"dev_fraction={dev_fraction} must lie strictly between 0 and 1, e.g. 0.1")
    return kept


def _existing_dir(data_dir: str | Path | None, source: str) -> Path:
    if data_dir is None:
        raise ConfigError(f"task.source={source} reads local files: set task.data_dir=<folder>")
    path = Path(data_dir).expanduser()
    if not path.is_dir():
        raise DataError(f"task.data_dir={str(data_dir)!r} is not a folder; point it at the corpus folder")
    return path


# --- normalisation -------------------------------------------------------------------------


class _Normaliser:
    """Maps types, drops unkept ones and repairs stray I- tags, counting what it changed."""

    def __init__(self, aliases: Mapping[str, str], kept_types: Sequence[str]) -> None:
        self.aliases = aliases
        self.kept = set(kept_types)
        self.dropped_entities: Counter[str] = Counter()
        self.repaired = 0
        self._parsed: dict[str, tuple[str, str]] = {}  # a corpus has few distinct tags

    def __call__(self, raw: _RawSentence) -> Sentence:
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


def _count_entities(sentences: list[Sentence]) -> dict[str, int]:
    counts = Counter(tag[2:] for s in sentences for tag in s.tags if tag.startswith("B-"))
    return dict(sorted(counts.items()))


def _carve_dev(
    train: list[_RawSentence], dev_fraction: float, seed: int, origin: str
) -> tuple[list[_RawSentence], list[_RawSentence]]:
    size = round(len(train) * dev_fraction)
    if size < 1 or size >= len(train):
        raise DataError(
            f"{origin}: no dev split, and dev_fraction={dev_fraction} of {len(train)} train sentences "
            "leaves no dev or no train; add a dev file or change task.dev_fraction"
        )
    chosen = set(random.Random(seed).sample(range(len(train)), size))
    dev = [s for i, s in enumerate(train) if i in chosen]
    rest = [s for i, s in enumerate(train) if i not in chosen]
    return rest, dev


def sample_in_order(sentences: list[Sentence], size: int, seed: int) -> list[Sentence]:
    """A seeded sample that keeps corpus order, so a cap does not also shuffle documents."""
    chosen = sorted(random.Random(seed).sample(range(len(sentences)), size))
    return [sentences[i] for i in chosen]


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
        "dropped by length %s; repaired %d I- tags that continued no entity %s; "
        "entities of types not kept %s",
        stats["dropped_by_length"],
        stats["repaired_i_tags"],
        stats["repaired_i_tags_by_split"],
        stats["dropped_entities"],
    )
    seen = {t for counts in stats["entity_counts"].values() for t in counts}
    missing = [t for t in kept_types if t not in seen]
    if missing:
        log.warning(
            "entity types %s never occur in %s; check task.entity_types and the type aliases",
            missing,
            stats["origin"],
        )


# --- hub / parquet -------------------------------------------------------------------------

_HUB_SPLITS = {"train": "train", "valid": "validation", "test": "test"}


def _read_hub(
    data_dir: str | Path | None, hub_dataset: str, hub_config: str
) -> tuple[dict[str, list[_RawSentence] | None], str]:
    # Imported here: `datasets` takes seconds to import and the local sources do not need it.
    import datasets

    if data_dir is None:
        origin = f"{hub_dataset} ({hub_config})"
        try:
            loaded = datasets.load_dataset(hub_dataset, hub_config)
        except Exception as error:  # network, gated access, renamed repo, scripts: all end here
            raise DataError(
                f"could not load the Hugging Face dataset {hub_dataset!r}, config {hub_config!r} "
                f"({type(error).__name__}: {error}); {_LOCAL_OPTIONS}"
            ) from error
    else:
        folder = _existing_dir(data_dir, "hub")
        origin = str(folder)
        files = _parquet_files(folder)
        try:
            loaded = datasets.load_dataset("parquet", data_files=files)
        except Exception as error:
            raise DataError(
                f"{folder}: could not read the Parquet files {files} ({type(error).__name__}: {error}); "
                "re-export them with datasets' to_parquet, or " + _LOCAL_OPTIONS
            ) from error

    missing = [name for name in ("train", "test") if name not in loaded]
    if missing:
        raise DataError(
            f"{origin}: no {'/'.join(missing)} split (splits found: {sorted(loaded)}); "
            "the loader needs train and test, and validation if there is one"
        )
    raw: dict[str, list[_RawSentence] | None] = {}
    for split, hub_split in _HUB_SPLITS.items():
        raw[split] = _hub_sentences(loaded[hub_split], f"{origin} {hub_split}") if hub_split in loaded else None
    return raw, origin


def _parquet_files(folder: Path) -> dict[str, list[str]]:
    """Accepts ``<split>*.parquet`` (the layout of a downloaded repo) and ``<split>/*.parquet``
    (the hub's refs/convert/parquet layout)."""
    files: dict[str, list[str]] = {}
    for hub_split in _HUB_SPLITS.values():
        found = sorted(folder.glob(f"{hub_split}*.parquet")) + sorted(folder.glob(f"{hub_split}/*.parquet"))
        if found:
            files[hub_split] = [str(path) for path in found]
    if "train" not in files or "test" not in files:
        raise DataError(
            f"{folder}: need train*.parquet and test*.parquet (validation*.parquet optional), "
            f"found {sorted(p.name for p in folder.glob('*.parquet')) or 'no Parquet files'}; "
            "save the splits with Dataset.to_parquet under those names"
        )
    return files


def _hub_sentences(dataset: Any, origin: str) -> list[_RawSentence]:
    names = _named_entity_names(dataset.features, origin)
    sentences: list[_RawSentence] = []
    for row_index, row in enumerate(dataset):
        document = row.get("document_id") or f"row {row_index}"
        for index, record in enumerate(row["sentences"]):
            where = f"{origin}, document {document}, sentence {index}"
            words, labels = record["words"], record["named_entities"]
            if len(words) != len(labels):
                raise DataError(
                    f"{where}: {len(words)} words but {len(labels)} named_entities labels; "
                    "the dataset is corrupt, download or export it again"
                )
            if min(labels, default=0) < 0:  # -1 is datasets' "no label"; names[-1] would hide it
                raise DataError(
                    f"{where}: named_entities {labels} has a missing label (-1); "
                    "the dataset is corrupt, download or export it again"
                )
            sentences.append(_RawSentence([sys.intern(w) for w in words], [names[label] for label in labels], where))
    return sentences


def _named_entity_names(features: Any, origin: str) -> list[str]:
    """Tag names from the schema, since the label ids mean nothing without them.

    With datasets >= 4 ``features["sentences"]`` is a ``List`` whose ``.feature`` is the record
    dict; older versions stored ``[dict]`` (a Python list) for the same schema.
    """
    from datasets import ClassLabel

    try:
        record = features["sentences"]
        record = record[0] if isinstance(record, list) else record.feature
        label = record["named_entities"]
        label = label[0] if isinstance(label, list) else label.feature
    except (KeyError, AttributeError, IndexError, TypeError) as error:
        raise DataError(
            f"{origin}: no sentences[].named_entities column in the schema {features}; "
            "expected the conll2012_ontonotesv5 layout"
        ) from error
    if not isinstance(label, ClassLabel):
        raise DataError(
            f"{origin}: sentences[].named_entities holds {label}, not a ClassLabel with tag names; "
            "expected the conll2012_ontonotesv5 layout"
        )
    wrong = [name for name in label.names if name != "O" and not _BIO_TAG.match(name)]
    if wrong:
        raise DataError(
            f"{origin}: named_entities label names {wrong} are not O, B-TYPE or I-TYPE; "
            "expected the BIO names of conll2012_ontonotesv5"
        )
    return list(label.names)


_BIO_TAG = re.compile(r"^[BI]-\S+$")


# --- CoNLL-2012 ----------------------------------------------------------------------------

_CONLL_SPLITS = {"train": "train", "valid": "development", "test": "test"}
_CONLL_WORD, _CONLL_NE, _CONLL_MIN_COLUMNS = 3, 10, 12
_NE_OPEN = re.compile(r"^\(([^()*\s]+)(\)|\*\)?)$")  # (TYPE)  (TYPE*  (TYPE*)
_LANGUAGES = ("arabic", "chinese", "english")


def _read_conll2012(folder: Path) -> tuple[dict[str, list[_RawSentence] | None], str]:
    raw: dict[str, list[_RawSentence] | None] = {}
    for split, sub in _CONLL_SPLITS.items():
        files = sorted((folder / sub).rglob("*gold_conll")) if (folder / sub).is_dir() else []
        if not files:
            raise DataError(
                f"{folder / sub}: no *gold_conll files; task.data_dir must hold train/, development/ "
                "and test/ sub-folders with the CoNLL-2012 *_gold_conll files (made by skeleton2conll)"
            )
        _check_one_language(files, folder / sub)
        raw[split] = [s for path in files for s in _conll_file_sentences(path)]
    return raw, str(folder)


def _check_one_language(files: list[Path], folder: Path) -> None:
    """The CoNLL-2012 release puts all languages under one data/<split>/ tree; mixing them would
    silently train a Chinese tagger on English and Arabic too."""
    languages = {part for path in files for part in path.relative_to(folder).parts if part in _LANGUAGES}
    if len(languages) > 1:
        raise DataError(
            f"{folder}: *gold_conll files of several languages ({', '.join(sorted(languages))}); "
            "point task.data_dir at a folder whose train/development/test hold one language only, "
            "e.g. links to data/<split>/data/chinese"
        )


def _conll_file_sentences(path: Path) -> list[_RawSentence]:
    sentences: list[_RawSentence] = []
    tokens: list[str] = []
    tags: list[str] = []
    start = 0
    open_type: str | None = None
    open_line = 0

    def flush(line_number: int) -> None:
        nonlocal tokens, tags
        if open_type is not None:
            raise DataError(
                f"{path}:{open_line}: NE bracket ({open_type}* is never closed before the sentence ends "
                f"at line {line_number}; add the closing *) or fix the NE column"
            )
        if tokens:
            sentences.append(_RawSentence(tokens, tags, f"{path}:{start}"))
        tokens, tags = [], []

    number = 0
    for number, line in enumerate(_read_lines(path), start=1):
        stripped = line.strip(" \t")
        if not stripped or line.startswith("#"):  # sentence break, #begin/#end document
            flush(number)
            continue
        columns = _FIELD_SEPARATOR.split(stripped)  # ASCII blanks only, as in the column format
        if len(columns) < _CONLL_MIN_COLUMNS:
            raise DataError(
                f"{path}:{number}: {len(columns)} columns in {stripped!r}, CoNLL-2012 token lines "
                f"have at least {_CONLL_MIN_COLUMNS} (word in column 4, named entities in column 11); "
                "regenerate the file with skeleton2conll"
            )
        if not tokens:
            start = number
        cell = columns[_CONLL_NE]
        opened = _NE_OPEN.match(cell)
        if opened:
            if open_type is not None:
                raise DataError(
                    f"{path}:{number}: NE {cell!r} opens while ({open_type}* from line {open_line} is "
                    "still open; OntoNotes entities do not nest, fix the NE column"
                )
            name, closes = opened.group(1), opened.group(2) != "*"
            tags.append(sys.intern(f"B-{name}"))
            if not closes:
                open_type, open_line = name, number
        elif cell == "*":
            tags.append(sys.intern(f"I-{open_type}") if open_type else "O")
        elif cell == "*)":
            if open_type is None:
                raise DataError(
                    f"{path}:{number}: NE '*)' closes an entity but none is open; fix the NE column"
                )
            tags.append(sys.intern(f"I-{open_type}"))
            open_type = None
        else:
            raise DataError(
                f"{path}:{number}: NE cell {cell!r} is not '(TYPE)', '(TYPE*', '*' or '*)'; "
                "fix the NE column (column 11)"
            )
        tokens.append(sys.intern(columns[_CONLL_WORD]))
    flush(number + 1)
    return sentences


# --- columns -------------------------------------------------------------------------------

_COLUMN_TAG = re.compile(r"^([BIMES])-(\S+)$")
_TO_BIO = {"B": "B", "I": "I", "M": "I", "E": "I", "S": "B"}


def _read_columns(folder: Path) -> tuple[dict[str, list[_RawSentence] | None], str]:
    raw: dict[str, list[_RawSentence] | None] = {}
    for split, exact, patterns, required in (
        ("train", "train.txt", ("train",), True),
        ("valid", "dev.txt", ("dev", "valid"), False),
        ("test", "test.txt", ("test",), True),
    ):
        path = _find_column_file(folder, exact, patterns, required)
        raw[split] = _column_file_sentences(path) if path else None
    return raw, str(folder)


def _find_column_file(folder: Path, exact: str, patterns: tuple[str, ...], required: bool) -> Path | None:
    """``train.txt`` if present, else the one ``*train*.txt`` (MSRA ships ``msra_train.txt``)."""
    if (folder / exact).is_file():
        return folder / exact
    candidates = sorted(
        path
        for path in folder.glob("*.txt")
        if path.is_file() and any(p in path.name.lower() for p in patterns)
    )
    if len(candidates) == 1:
        return candidates[0]
    wanted = " or ".join(f"*{p}*.txt" for p in patterns)
    if len(candidates) > 1:
        raise DataError(
            f"{folder}: several files match {wanted}: {', '.join(p.name for p in candidates)}; "
            f"keep one, or name it {exact}"
        )
    if required:
        raise DataError(
            f"{folder}: no {exact} (nor one {wanted}); put the {exact[:-4]} split there as {exact}, "
            "one token and its tag a line, a blank line between sentences"
        )
    return None


def _column_file_sentences(path: Path) -> list[_RawSentence]:
    sentences: list[_RawSentence] = []
    tokens: list[str] = []
    tags: list[str] = []
    start = 0
    bio: dict[str, str] = {"O": "O"}  # converted tags; a corpus has few distinct ones
    for number, line in enumerate(_read_lines(path), start=1):
        fields = line.split(" ")
        if len(fields) != 2 or "" in fields or "\t" in line:  # not the common "token tag" layout
            stripped = line.strip(" \t")
            if not stripped:
                if tokens:
                    sentences.append(_RawSentence(tokens, tags, f"{path}:{start}"))
                tokens, tags = [], []
                continue
            fields = _FIELD_SEPARATOR.split(stripped)
            if len(fields) != 2:
                raise DataError(
                    f"{path}:{number}: {len(fields)} fields in {line!r}; each line must be one token "
                    "and its tag separated by a space or tab, with a blank line between sentences"
                )
        token, tag = fields
        if tag not in bio:
            bio[tag] = _column_tag_to_bio(tag, path, number)
        if not tokens:
            start = number
        tokens.append(sys.intern(token))
        tags.append(bio[tag])
    if tokens:
        sentences.append(_RawSentence(tokens, tags, f"{path}:{start}"))
    return sentences


def _column_tag_to_bio(tag: str, path: Path, number: int) -> str:
    scheme = _COLUMN_TAG.match(tag)
    if not scheme:
        raise DataError(
            f"{path}:{number}: tag {tag!r} is not O or PREFIX-TYPE with prefix B, I, M, E or S "
            "(BIO, BIOES or BMES); fix the tag or convert the file"
        )
    return f"{_TO_BIO[scheme.group(1)]}-{scheme.group(2)}"


def _read_lines(path: Path) -> Iterator[str]:
    """Lines without their LF or CRLF ending, one at a time: a list of a corpus's millions of
    lines would outweigh the sentences built from it.

    Split on "\\n" only: ``str.splitlines`` also breaks on U+2028, U+0085 and other characters
    that may legitimately be tokens. ``utf-8-sig`` drops a byte-order mark Windows tools add.
    """
    data = path.read_bytes()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        raise DataError(
            f"{path}:{line}: byte {data[error.start:error.start + 1]!r} is not UTF-8; "
            "convert the file to UTF-8 (e.g. iconv -f GB18030 -t UTF-8)"
        ) from error
    del data
    for line in io.StringIO(text, newline="\n"):
        if line.endswith("\r\n"):
            yield line[:-2]
        elif line.endswith("\n"):
            yield line[:-1]
        else:
            yield line
