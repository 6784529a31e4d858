"""OntoNotes from the Hugging Face hub (``conll2012_ontonotesv5``), or a folder of its Parquet files."""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

from adamomentum.data.ner.corpus import RawSentence, RawSplits
from adamomentum.data.ner.files import existing_dir
from adamomentum.errors import DataError

_LOCAL_OPTIONS = (
    "use a local copy instead: "
    "data.source=conll2012 data.data_dir=<folder of *gold_conll files with train/development/test "
    "sub-folders>, or data.source=columns data.data_dir=<folder with train.txt, dev.txt, test.txt>"
)

_HUB_SPLITS = {"train": "train", "valid": "validation", "test": "test"}


def read_hub(data_dir: str | Path | None, hub_dataset: str, hub_config: str) -> tuple[RawSplits, str]:
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
        folder = existing_dir(data_dir, "hub")
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
    raw: RawSplits = {}
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
        parquet = sorted(p.name for p in folder.glob("*.parquet"))
        text_files = sorted(p.name for p in folder.iterdir() if p.suffix in (".txt", ".tsv", ".bio", ".conll"))
        if not parquet and text_files:
            raise DataError(
                f"{folder} holds text files ({', '.join(text_files[:4])}), not the hub's Parquet files that "
                "data.source=hub (the default) reads: for token-and-tag column files such as MSRA pass "
                "data.source=columns, for the LDC's *gold_conll files data.source=conll2012"
            )
        raise DataError(
            f"{folder}: need train*.parquet and test*.parquet (validation*.parquet optional), "
            f"found {parquet or 'no Parquet files'}; save the splits with Dataset.to_parquet under those names"
        )
    return files


def _hub_sentences(dataset: Any, origin: str) -> list[RawSentence]:
    names = _named_entity_names(dataset.features, origin)
    sentences: list[RawSentence] = []
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
            sentences.append(RawSentence([sys.intern(w) for w in words], [names[label] for label in labels], where))
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
