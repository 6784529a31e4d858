"""Penn Treebank loader: parsing on a tiny corpus, checksums, download against a local server."""

from __future__ import annotations

import hashlib
import http.server
import os
import threading
from pathlib import Path

import pytest
import torch

from adamomentum.data import ptb
from adamomentum.data.ptb import batchify, download_ptb, load_ptb
from adamomentum.errors import DataError

TINY = {
    "train": " the cat sat on the mat \n the dog sat \n <unk> ran \n",
    "valid": " the cat ran \n the dog sat on <unk> \n",
    "test": " the mat \n",
}


def write_tiny(directory: Path, **overrides: str) -> None:
    files = {**TINY, **overrides}
    for split, text in files.items():
        (directory / f"ptb.{split}.txt").write_text(text)


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name.endswith(".part"))


# ---------------------------------------------------------------- parsing


def test_tiny_corpus_vocab_and_round_trip(tmp_path: Path) -> None:
    write_tiny(tmp_path)
    corpus = load_ptb(tmp_path, download=False, verify=False)

    # Descending frequency, ties by first appearance in train.
    assert corpus.vocab == ["the", "<eos>", "sat", "cat", "on", "mat", "dog", "<unk>", "ran"]
    assert corpus.word_to_id == {w: i for i, w in enumerate(corpus.vocab)}
    for split in ptb.PTB_SPLITS:
        ids = getattr(corpus, split)
        assert ids.dtype == torch.int64 and ids.dim() == 1
    for split in ptb.PTB_SPLITS:
        expected = [w for line in TINY[split].splitlines() for w in line.split() + ["<eos>"]]
        assert [corpus.vocab[i] for i in getattr(corpus, split).tolist()] == expected
    assert (corpus.train == corpus.word_to_id["<eos>"]).sum().item() == 3  # one per line


def test_oov_word_names_file_line_and_word(tmp_path: Path) -> None:
    write_tiny(tmp_path, test=" the mat \n a mat \n")  # "a" is not in train
    with pytest.raises(DataError) as info:
        load_ptb(tmp_path, download=False, verify=False)
    message = str(info.value)
    assert "ptb.test.txt" in message and "line 2" in message and "'a'" in message


@pytest.mark.parametrize("content", ["", "  \n\n"])
def test_empty_file_is_rejected(tmp_path: Path, content: str) -> None:
    write_tiny(tmp_path, valid=content)
    with pytest.raises(DataError, match=r"ptb\.valid\.txt is empty"):
        load_ptb(tmp_path, download=False, verify=False)


def test_missing_file_without_download_says_where(tmp_path: Path) -> None:
    write_tiny(tmp_path)
    (tmp_path / "ptb.test.txt").unlink()
    with pytest.raises(DataError) as info:
        load_ptb(tmp_path, download=False, verify=False)
    message = str(info.value)
    assert "ptb.test.txt" in message and str(tmp_path.resolve()) in message
    assert ptb.DEFAULT_BASE_URL in message


def test_sha_mismatch_is_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_tiny(tmp_path)
    hashes = {f"ptb.{s}.txt": sha((tmp_path / f"ptb.{s}.txt").read_bytes()) for s in ptb.PTB_SPLITS}
    good_valid = hashes["ptb.valid.txt"]
    hashes["ptb.valid.txt"] = "0" * 64
    monkeypatch.setattr(ptb, "PTB_SHA256", hashes)
    with pytest.raises(DataError) as info:
        load_ptb(tmp_path, download=False, verify=True)
    message = str(info.value)
    assert "ptb.valid.txt" in message and "0" * 64 in message and good_valid in message
    assert "verify=False" in message and "data.verify=false" in message and "Delete it" in message


def test_verify_checks_token_counts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_tiny(tmp_path)
    hashes = {f"ptb.{s}.txt": sha((tmp_path / f"ptb.{s}.txt").read_bytes()) for s in ptb.PTB_SPLITS}
    monkeypatch.setattr(ptb, "PTB_SHA256", hashes)
    monkeypatch.setattr(ptb, "PTB_VOCAB_SIZE", 9)
    with pytest.raises(DataError, match=r"ptb\.train\.txt has 14 tokens .*expected 929589"):
        load_ptb(tmp_path, download=False, verify=True)


# ---------------------------------------------------------------- batchify


def test_batchify_columns_are_contiguous_text() -> None:
    ids = torch.arange(23)
    batched = batchify(ids, 4)
    assert batched.shape == (5, 4)
    for j in range(4):
        assert batched[:, j].tolist() == list(range(j * 5, (j + 1) * 5))


def test_batchify_rejects_short_stream() -> None:
    with pytest.raises(DataError, match="too short for batch_size 4"):
        batchify(torch.arange(7), 4)


# ---------------------------------------------------------------- real data

PTB_DIR = os.environ.get("PTB_DIR")


@pytest.mark.skipif(not PTB_DIR, reason="set PTB_DIR to a folder holding ptb.{train,valid,test}.txt")
def test_real_ptb_counts_and_vocab() -> None:
    corpus = load_ptb(PTB_DIR, download=False, verify=True)
    assert {s: len(getattr(corpus, s)) for s in ptb.PTB_SPLITS} == {
        "train": 929_589,
        "valid": 73_760,
        "test": 82_430,
    }
    assert len(corpus.vocab) == 10_000
    assert "<unk>" in corpus.word_to_id and "<eos>" in corpus.word_to_id


# ---------------------------------------------------------------- download

FAKE = {f"ptb.{s}.txt": text.encode() for s, text in TINY.items()}


@pytest.fixture
def server(request: pytest.FixtureRequest) -> tuple[str, dict[str, tuple[int, bytes, int | None]]]:
    """A local HTTP server; tests fill ``routes``: path -> (status, body, Content-Length)."""
    routes: dict[str, tuple[int, bytes, int | None]] = {}

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            status, body, length = routes.get(self.path, (404, b"not found", None))
            self.send_response(status)
            self.send_header("Content-Length", str(len(body) if length is None else length))
            self.end_headers()
            self.wfile.write(body)
            self.close_connection = True  # with a long Content-Length this is a dropped connection

        def log_message(self, *args: object) -> None:
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()

    def stop() -> None:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)

    request.addfinalizer(stop)
    return f"http://127.0.0.1:{httpd.server_address[1]}/data", routes


@pytest.fixture
def fake_hashes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ptb, "PTB_SHA256", {name: sha(body) for name, body in FAKE.items()})
    for var in ("http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)


def serve_all(routes: dict, **bodies: tuple[int, bytes, int | None]) -> None:
    for name, body in FAKE.items():
        routes[f"/data/{name}"] = bodies.get(name.split(".")[1], (200, body, None))


@pytest.mark.usefixtures("fake_hashes")
class TestDownload:
    def test_success(self, tmp_path: Path, server) -> None:
        base_url, routes = server
        serve_all(routes)
        target = tmp_path / "new" / "ptb"
        download_ptb(target, base_url=base_url, progress=False, timeout=5)
        for name, body in FAKE.items():
            assert (target / name).read_bytes() == body
            assert (target / name).stat().st_mode & 0o444 == 0o444
        assert leftovers(target) == []

    def test_corrupt_body(self, tmp_path: Path, server) -> None:
        base_url, routes = server
        serve_all(routes, valid=(200, b" the cat \n", None))
        with pytest.raises(DataError, match="SHA-256 mismatch") as info:
            download_ptb(tmp_path, base_url=base_url, progress=False, timeout=5)
        assert f"{base_url}/ptb.valid.txt" in str(info.value)
        assert f"put them in {tmp_path.resolve()}" in str(info.value)
        assert not (tmp_path / "ptb.valid.txt").exists() and leftovers(tmp_path) == []

    def test_dropped_connection(self, tmp_path: Path, server) -> None:
        base_url, routes = server
        serve_all(routes, train=(200, FAKE["ptb.train.txt"], 10_000))
        with pytest.raises(DataError, match="ptb.train.txt") as info:
            download_ptb(tmp_path, base_url=base_url, progress=False, timeout=5)
        assert f"got {len(FAKE['ptb.train.txt'])} of 10000 bytes" in str(info.value)
        assert not (tmp_path / "ptb.train.txt").exists() and leftovers(tmp_path) == []

    def test_http_404_names_url(self, tmp_path: Path, server) -> None:
        base_url, routes = server
        with pytest.raises(DataError, match="HTTP Error 404") as info:
            download_ptb(tmp_path, base_url=base_url, progress=False, timeout=5)
        assert f"{base_url}/ptb.train.txt" in str(info.value)
        assert list(tmp_path.iterdir()) == []

    def test_load_downloads_into_empty_dir(self, tmp_path: Path, server, monkeypatch) -> None:
        base_url, routes = server
        serve_all(routes)
        monkeypatch.setattr(ptb, "PTB_VOCAB_SIZE", 9)
        monkeypatch.setattr(ptb, "PTB_TOKEN_COUNTS", {"train": 14, "valid": 10, "test": 3})
        corpus = load_ptb(tmp_path, download=True, base_url=base_url, verify=True)
        assert corpus.vocab[0] == "the" and len(corpus.test) == 3
        assert sorted(p.name for p in tmp_path.iterdir()) == sorted(FAKE)
