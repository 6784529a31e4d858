"""Two-column files, such as MSRA: a token and its BIO, BIOES or BMES tag a line."""

from __future__ import annotations

import re
import sys
from pathlib import Path

from adamomentum.data.ner.corpus import RawSentence, RawSplits
from adamomentum.data.ner.files import FIELD_SEPARATOR, read_lines
from adamomentum.errors import DataError

_COLUMN_TAG = re.compile(r"^([BIMES])-(\S+)$")
_TO_BIO = {"B": "B", "I": "I", "M": "I", "E": "I", "S": "B"}


def read_columns(folder: Path) -> tuple[RawSplits, str]:
    raw: RawSplits = {}
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
        path for path in folder.glob("*.txt") if path.is_file() and any(p in path.name.lower() for p in patterns)
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


def _column_file_sentences(path: Path) -> list[RawSentence]:
    sentences: list[RawSentence] = []
    tokens: list[str] = []
    tags: list[str] = []
    start = 0
    bio: dict[str, str] = {"O": "O"}  # converted tags; a corpus has few distinct ones
    for number, line in enumerate(read_lines(path), start=1):
        fields = line.split(" ")
        if len(fields) != 2 or "" in fields or "\t" in line:  # not the common "token tag" layout
            stripped = line.strip(" \t")
            if not stripped:
                if tokens:
                    sentences.append(RawSentence(tokens, tags, f"{path}:{start}"))
                tokens, tags = [], []
                continue
            fields = FIELD_SEPARATOR.split(stripped)
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
        sentences.append(RawSentence(tokens, tags, f"{path}:{start}"))
    return sentences


def _column_tag_to_bio(tag: str, path: Path, number: int) -> str:
    scheme = _COLUMN_TAG.match(tag)
    if not scheme:
        raise DataError(
            f"{path}:{number}: tag {tag!r} is not O or PREFIX-TYPE with prefix B, I, M, E or S "
            "(BIO, BIOES or BMES); fix the tag or convert the file"
        )
    return f"{_TO_BIO[scheme.group(1)]}-{scheme.group(2)}"
