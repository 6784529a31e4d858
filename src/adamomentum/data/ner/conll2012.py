"""The CoNLL-2012 release: ``*gold_conll`` files, the word in column 4, bracketed entities in column 11."""

from __future__ import annotations

import re
import sys
from pathlib import Path

from adamomentum.data.ner.corpus import RawSentence, RawSplits
from adamomentum.data.ner.files import FIELD_SEPARATOR, read_lines
from adamomentum.errors import DataError

_CONLL_SPLITS = {"train": "train", "valid": "development", "test": "test"}
_CONLL_WORD, _CONLL_NE, _CONLL_MIN_COLUMNS = 3, 10, 12
_NE_OPEN = re.compile(r"^\(([^()*\s]+)(\)|\*\)?)$")  # (TYPE)  (TYPE*  (TYPE*)
_LANGUAGES = ("arabic", "chinese", "english")


def read_conll2012(folder: Path) -> tuple[RawSplits, str]:
    raw: RawSplits = {}
    for split, sub in _CONLL_SPLITS.items():
        files = sorted((folder / sub).rglob("*gold_conll")) if (folder / sub).is_dir() else []
        if not files:
            raise DataError(
                f"{folder / sub}: no *gold_conll files; data.data_dir must hold train/, development/ "
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
            "point data.data_dir at a folder whose train/development/test hold one language only, "
            "e.g. links to data/<split>/data/chinese"
        )


def _conll_file_sentences(path: Path) -> list[RawSentence]:
    sentences: list[RawSentence] = []
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
            sentences.append(RawSentence(tokens, tags, f"{path}:{start}"))
        tokens, tags = [], []

    number = 0
    for number, line in enumerate(read_lines(path), start=1):
        stripped = line.strip(" \t")
        if not stripped or line.startswith("#"):  # sentence break, #begin/#end document
            flush(number)
            continue
        columns = FIELD_SEPARATOR.split(stripped)  # ASCII blanks only, as in the column format
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
                raise DataError(f"{path}:{number}: NE '*)' closes an entity but none is open; fix the NE column")
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
