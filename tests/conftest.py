"""Shared fixtures for the config, training and report tests.

``compose_config`` composes the Hydra config exactly as the command line does (same config
directory, same structured schemas); ``tiny_ptb`` and ``tiny_ner`` write corpora small enough
that a tiny model trains on them in well under a second per epoch.
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from hydra import compose, initialize_config_dir
from omegaconf import DictConfig

from adamomentum.config import CONFIG_DIR, MOVED_KEYS, flatten, register_configs

SCRIPTS = Path(__file__).resolve().parents[1] / "scripts"


def load_script(name: str) -> ModuleType:
    """scripts/<name>.py as a module, registered in sys.modules (dataclasses look their module up there)."""
    spec = importlib.util.spec_from_file_location(name, SCRIPTS / f"{name}.py")
    assert spec is not None and spec.loader is not None, f"no script {SCRIPTS / name}.py"
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


# The structured schemas the configs name (conf/*.yaml: /schema/...), as the command line registers them.
register_configs()

# `make test PTB_DIR=...` hands its command-line variables down to every make started below it, through these:
# a test that runs make must see only the variables it names.
MAKE_STATE = ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES")


@pytest.fixture(autouse=True, scope="session")
def make_sees_only_its_own_variables() -> Iterator[None]:
    with pytest.MonkeyPatch.context() as patch:
        for name in MAKE_STATE:
            patch.delenv(name, raising=False)
        yield


# scripts/gpu_check.sh runs the training tests on CUDA through this variable.
TEST_DEVICE = os.environ.get("ADAMOMENTUM_TEST_DEVICE", "cpu")

# Overrides that keep every run small and polite to the machine.
SMALL_PTB = [
    "threads=1",
    "progress=false",
    f"device={TEST_DEVICE}",
    "data.download=false",
    "data.verify=false",
    "model.embedding_dim=16",
    "model.hidden_size=16",
    "model.num_layers=1",
    "data.batch_size=4",
    "data.eval_batch_size=4",
    "data.bptt=5",
]
SMALL_NER = [
    "task=ner",
    "threads=1",
    "progress=false",
    f"device={TEST_DEVICE}",
    "data.source=columns",
    "model.embedding_dim=16",
    "model.hidden_size=16",
    "model.num_layers=1",
    "data.batch_size=4",
    "data.eval_batch_size=64",
]


def with_former_keys(config: dict[str, Any]) -> dict[str, Any]:
    """``config`` as a run stored it before the keys of ``MOVED_KEYS`` moved (the inverse of ``upgrade_stored``)."""
    former = {new: old for old, new in MOVED_KEYS.items()}
    stored: dict[str, Any] = {}
    for key, value in flatten(config).items():
        *parents, leaf = former.get(key, key).split(".")
        node = stored
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return stored


def compose_cfg(overrides: Sequence[str] = ()) -> DictConfig:
    """The config ``python -m adamomentum.train <overrides>`` would run with."""
    with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base=None):
        return compose("config", overrides=list(overrides))


@pytest.fixture
def compose_config() -> Callable[[Sequence[str]], DictConfig]:
    return compose_cfg


# ---------------------------------------------------------------- tiny PTB

PTB_WORDS = ["alpha", "beta", "gamma", "delta", "eps", "zeta", "eta"]
PTB_WORDS_PER_LINE = 4
PTB_LINES = {"train": 200, "valid": 40, "test": 40}


def ptb_lines(n: int, offset: int = 0) -> list[str]:
    """Line i is 4 consecutive words of a 7-word cycle starting at word i: after each word
    the next one is fully predictable, so a language model can learn the pattern quickly."""
    k = len(PTB_WORDS)
    return [" " + " ".join(PTB_WORDS[(i + offset + j) % k] for j in range(PTB_WORDS_PER_LINE)) + " " for i in range(n)]


def write_tiny_ptb(directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for index, (split, n) in enumerate(PTB_LINES.items()):
        text = "\n".join(ptb_lines(n, offset=3 * index)) + "\n"
        (directory / f"ptb.{split}.txt").write_text(text, encoding="utf-8")
    return directory


@pytest.fixture
def tiny_ptb(tmp_path: Path) -> Path:
    """A PTB-format corpus: 200/40/40 lines of 4 words (+ <eos>), 8 types in the vocabulary.

    With batch_size 4 and bptt 5 the 1000 training tokens give 250 rows and 49 batches an
    epoch; with batch_size 10 and bptt 4, 100 rows and 24 batches.
    """
    return write_tiny_ptb(tmp_path / "ptb")


# ---------------------------------------------------------------- tiny NER

NER_PEOPLE = ["张三", "李四", "王五", "赵六"]
NER_PLACES = ["北京", "上海", "广州"]
NER_ORGS = ["新华社", "国务院", "联合国"]
NER_FILLER = ["今天", "在", "会见", "了", "客人", "访问", "和", "说", "很", "好"]


def ner_sentence(i: int, length: int) -> list[tuple[str, str]]:
    """A deterministic sentence of ``length`` tokens: one person (PER, two tokens when there is
    room), a place (LOC) and an organisation (ORG), the rest filler words tagged O."""
    tokens: list[tuple[str, str]] = [(NER_PEOPLE[i % len(NER_PEOPLE)], "B-PER")]
    if length >= 6:
        tokens.append(("先生", "I-PER"))
    if length >= 3:
        tokens.append((NER_PLACES[i % len(NER_PLACES)], "B-LOC"))
    if length >= 4:
        tokens.append((NER_ORGS[i % len(NER_ORGS)], "B-ORG"))
    j = 0
    while len(tokens) < length:
        tokens.append((NER_FILLER[(i + j) % len(NER_FILLER)], "O"))
        j += 1
    return tokens[:length]


def write_ner_columns(path: Path, sentences: list[list[tuple[str, str]]]) -> None:
    blocks = ["\n".join(f"{token} {tag}" for token, tag in s) for s in sentences]
    path.write_text("\n\n".join(blocks) + "\n", encoding="utf-8")


def write_tiny_ner(directory: Path, train_lengths: Sequence[int], n_dev: int = 10, n_test: int = 10) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    write_ner_columns(directory / "train.txt", [ner_sentence(i, n) for i, n in enumerate(train_lengths)])
    write_ner_columns(directory / "dev.txt", [ner_sentence(i + 1, 5 + i % 4) for i in range(n_dev)])
    write_ner_columns(directory / "test.txt", [ner_sentence(i + 2, 4 + i % 5) for i in range(n_test)])
    return directory


NER_TRAIN_LENGTHS = [4 + (i * 3) % 9 for i in range(40)]  # 40 sentences of 4..12 tokens
# Very varied lengths, shuffled so that corpus order is not length order.
NER_VARIED_LENGTHS = [[2, 60, 3, 45, 5, 70, 2, 30, 8, 55, 4, 66, 3, 20, 50, 6][(i * 7) % 16] for i in range(64)]


@pytest.fixture
def tiny_ner(tmp_path: Path) -> Path:
    """Column files (train.txt/dev.txt/test.txt, BIO over PER/LOC/ORG): 40/10/10 sentences."""
    return write_tiny_ner(tmp_path / "ner", NER_TRAIN_LENGTHS)


@pytest.fixture
def varied_ner(tmp_path: Path) -> Path:
    """64 training sentences of 2 to 70 tokens in no length order."""
    return write_tiny_ner(tmp_path / "ner_varied", NER_VARIED_LENGTHS)


# ---------------------------------------------------------------- run directories


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def read_scalars(run_dir: Path) -> dict[str, list[tuple[int, float]]]:
    """Every TensorBoard scalar in ``run_dir`` as tag -> [(step, value)]."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(run_dir), size_guidance={"scalars": 0})
    acc.Reload()
    return {tag: [(e.step, e.value) for e in acc.Scalars(tag)] for tag in acc.Tags()["scalars"]}
