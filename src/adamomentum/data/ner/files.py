"""Reading the local corpus files: the folder, the text lines, the fields of a line."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from pathlib import Path

from adamomentum.errors import ConfigError, DataError

# Only ASCII blanks separate fields: a Unicode space (U+3000) can be a Chinese token.
FIELD_SEPARATOR = re.compile(r"[ \t]+")


def existing_dir(data_dir: str | Path | None, source: str) -> Path:
    if data_dir is None:
        raise ConfigError(f"data.source={source} reads local files: set data.data_dir=<folder>")
    path = Path(data_dir).expanduser()
    if not path.is_dir():
        raise DataError(f"data.data_dir={str(data_dir)!r} is not a folder; point it at the corpus folder")
    return path


def read_lines(path: Path) -> Iterator[str]:
    """Lines without their LF or CRLF ending, one at a time: a list of a corpus's millions of
    lines would outweigh the sentences built from it.

    Split on "\\n" only: ``str.splitlines`` also breaks on U+2028, U+0085 and other characters
    that may legitimately be tokens. ``utf-8-sig`` drops a byte-order mark Windows tools add.
    """
    data = path.read_bytes()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line_number = data.count(b"\n", 0, error.start) + 1
        raise DataError(
            f"{path}:{line_number}: byte {data[error.start : error.start + 1]!r} is not UTF-8; "
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
