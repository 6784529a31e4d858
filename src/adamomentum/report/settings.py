"""Setting inference: which config values tell an optimizer's runs apart, said in words, and whether runs
are the paper's setting or one of its readings."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from adamomentum.config import MOVED_KEYS, flatten
from adamomentum.report.paper import (
    OPTIMIZER_ORDER,
    PAPER_DEFAULTS,
    PAPER_SCALE,
    PAPER_SETTING,
    PAPER_START,
    TABLE1_VALUES,
    Reading,
    optimizer_name,
)
from adamomentum.report.runs import Run

# A moved key's name before it moved: where its words stand in a label.
FORMER_NAMES = {new: old for old, new in MOVED_KEYS.items()}

# Keys that say where or how a run ran, or how often it was looked at, not what it computed: never part
# of a "setting" (evaluating more often leaves training bit-identical: tests/test_ptb_training.py).
ENVIRONMENT_KEYS = {
    "seed",
    "device",
    "threads",
    "keep_freed_memory",
    "progress",
    "resume",
    "trainer.log_interval",
    "checkpoint_interval",
    "data.data_dir",
    "data.download",
    "deterministic",
    "trainer.eval_interval",
}
# NER sources that hold OntoNotes, the paper's corpus; column files may hold any corpus (MSRA, say).
ONTONOTES_SOURCES = ("hub", "conll2012")
# Table 1 setting when nothing varies between an optimizer's runs.
TABLE1 = "Table 1"
# Named for an optimizer outside Table 1 (Adam, RMSprop) even when every run shares them: "Table 1" would claim
# a setting the paper does not have.
REFERENCE_KEYS = ("optimizer.lr", "trainer.lr_decay")


def _number(value: Any) -> str:
    return f"{value:g}" if isinstance(value, (int, float)) and not isinstance(value, bool) else str(value)


# A config value in words, by key; None is the constructor's or the task's default; "" goes unsaid.
WORDS: dict[str, Callable[[Any, str], str]] = {
    "trainer.lr_decay": lambda v, task: ("Zaremba's decay" if task == "ptb" else "lr decay") if v else "constant lr",
    "optimizer.initial_accumulator_value": lambda v, _: f"G_0 = {_number(v or 0)}",
    "optimizer.momentum": lambda v, _: "default mu" if v is None else f"mu = {_number(v)}",
    "trainer.momentum_schedule": lambda v, _: {
        "constant": "constant mu",
        "linear": "linear warm-up of mu",
        "sutskever": "Sutskever's ramp of mu",
    }.get(v, f"mu schedule {v}"),
    "trainer.momentum_warmup_steps": lambda v, _: f"mu warm-up over {_number(v)} batches",
    "optimizer.lr": lambda v, _: f"lr = {_number(v)}",
    "optimizer.eps": lambda v, _: "default eps" if v is None else f"eps = {_number(v)}",
    "study.lr_factor": lambda v, _: f"lr x {_number(v)}",
    "data.train_fraction": lambda v, _: f"{_number(100 * v)}% of the training set",
    "trainer.clip_grad_norm": lambda v, _: "no norm clipping" if v is None else f"norm clipped at {_number(v)}",
    "trainer.clip_grad_value": lambda v, _: (
        "no element clipping" if v is None else f"elements clipped to [-{_number(v)}, {_number(v)}]"
    ),
    "task.loss_reduction": lambda v, task: {
        ("ptb", "sum_over_time"): "loss summed over time",
        ("ptb", "mean"): "loss averaged over time",
        ("ner", "sum_over_time"): "loss summed over each sentence",
        ("ner", "mean"): "per-token mean loss",
    }.get((task, v), f"loss {v}"),
    "data.max_train_sentences": lambda v, _: "all training sentences" if v is None else f"{v:,} training sentences",
    "data.source": lambda v, _: {
        "hub": "OntoNotes (hub)",
        "conll2012": "OntoNotes (CoNLL-2012 files)",
        "columns": "column files",
    }.get(v, f"source {v}"),
    "trainer.max_batches": lambda v, _: "no batch limit" if v is None else f"{v:,} batches",
    "trainer.epochs": lambda v, _: f"{v} epochs",
    # float32 goes without saying: a label names bf16 only, so that runs in bf16 leave their float32 twins'
    # labels as they were.
    "precision": lambda v, _: {"fp32": "", "bf16": "bf16 autocast"}.get(v, f"precision {v}"),
}


def in_words(key: str, value: Any, task: str) -> str:
    """``optimizer.initial_accumulator_value``, 0.1 -> ``G_0 = 0.1``; a key without words: its last part."""
    if key in WORDS:
        return WORDS[key](value, task)
    return f"{key.rsplit('.', 1)[-1].replace('_', ' ')} = {_number(value)}"


def label_order(key: str) -> str:
    """The place of ``key``'s words in a label: by key (optimizer.*, then study.*, then task.*), a key that moved
    (``MOVED_KEYS``) under its old name, so that the labels of committed tables keep their order."""
    return FORMER_NAMES.get(key, key)


def _sort_key(value: Any, paper: Any = None) -> tuple[int, Any]:
    """Defaults (None) first, then a switch on (Table 1's lr decay) before off, numbers by size, then any other
    value: ``paper``'s (float32 before bf16), the rest by their text."""
    if value is None:
        return (0, 0)
    if isinstance(value, bool):
        return (1, not value)
    if isinstance(value, (int, float)):
        return (1, value)
    return (2, (value != paper, str(value)))


@dataclass
class Setting:
    """An optimizer's runs that share every config value that varies between that optimizer's runs."""

    optimizer: str
    # The varying values in words ("G_0 = 0.1, Sutskever's ramp of mu"), or "Table 1" when none vary.
    label: str
    # The varying keys and this setting's values of them.
    values: dict[str, Any]
    runs: list[Run] = field(default_factory=list)

    @property
    def name(self) -> str:
        """The optimizer, and the setting where it has more than one: a legend entry's words."""
        optimizer = optimizer_name(self.optimizer)
        return optimizer if self.label == TABLE1 else f"{optimizer}, {self.label}"

    def by_seed(self, value: Callable[[Run, str], float | None], key: str) -> dict[object, float]:
        """``value(run, key)`` of each seed, where the run has one."""
        return {r.summary.seed: v for r in self.runs if (v := value(r, key)) is not None}


def flat_config(run: Run) -> dict[str, Any]:
    """The run's config as command-line keys. A key added after a run was made is missing from its config; its
    default keeps the old behaviour (every committed summary records every key whose default changed)."""
    return flatten(run.summary.config)


def comparable_with_paper(run: Run) -> bool:
    """Whether a run trained on the paper's data at its scale (``PAPER_SCALE``): not a small study run, a share of
    the data, a batch limit, or (NER) a corpus other than OntoNotes."""
    config = flat_config(run)
    return all(config.get(key, value) == value for key, value in PAPER_SCALE.items()) and (
        run.task != "ner" or config.get("data.source", "hub") in ONTONOTES_SOURCES
    )


# Beside the scale (``PAPER_SCALE``), what every optimizer's runs are made under, whatever the optimizer: the
# multiple of Table 1's lr and the precision.
SHARED_CONDITIONS = ("study.lr_factor", "precision")


def in_paper_setting(run: Run) -> bool:
    """Whether a run is at the paper's scale (``comparable_with_paper``), at Table 1's lr and in float32, whatever
    its optimizer and schedule: the runs a task's figure draws, and Adam's reference row reads."""
    config = flat_config(run)
    return comparable_with_paper(run) and all(
        config.get(key, PAPER_SETTING[key]) == PAPER_SETTING[key] for key in SHARED_CONDITIONS
    )


def settings(runs: list[Run]) -> list[Setting]:
    """Runs grouped by optimizer and by the config values that vary between that optimizer's runs; in the
    paper's order of optimizers, each optimizer's settings by their values (defaults and small numbers first)."""
    by_optimizer: dict[str, list[Run]] = {}
    for run in runs:
        by_optimizer.setdefault(run.optimizer, []).append(run)
    rank = {name: i for i, name in enumerate(OPTIMIZER_ORDER)}
    groups: list[Setting] = []
    for optimizer in sorted(by_optimizer, key=lambda o: (rank.get(o, len(rank)), o)):
        members = by_optimizer[optimizer]
        configs = [flat_config(r) for r in members]
        keys = sorted({k for c in configs for k in c} - ENVIRONMENT_KEYS)
        # A key that older runs lack came with a later version, whose default keeps the old behaviour:
        # only the runs that record it can differ in it, or from the paper's value of it, which older runs had.
        varying = [
            k
            for k in keys
            if len({repr(c.get(k, PAPER_DEFAULTS.get(k))) for c in configs if k in c or k in PAPER_DEFAULTS}) > 1
        ]
        # A value away from the paper's is named even when every run shares it: "Table 1" would claim it.
        # (None is the constructor's default for the optimizer's values, a real value for the task's.)
        paper = {**TABLE1_VALUES.get(optimizer, {}), **PAPER_START.get(optimizer, {})}
        varying += [k for k, v in paper.items() if k not in varying and any(c.get(k) not in (None, v) for c in configs)]
        varying += [
            k for k, v in PAPER_SETTING.items() if k not in varying and any(k in c and c[k] != v for c in configs)
        ]
        if optimizer not in TABLE1_VALUES:
            varying += [k for k in REFERENCE_KEYS if k not in varying and any(k in c for c in configs)]
        varying.sort(key=label_order)
        own: dict[str, Setting] = {}
        for run, config in zip(members, configs):
            # A run made before a key existed ran with its default, the paper's value (see flat_config).
            values = {k: config.get(k, PAPER_DEFAULTS.get(k)) for k in varying}
            label = ", ".join(w for k, v in values.items() if (w := in_words(k, v, run.task))) or TABLE1
            own.setdefault(label, Setting(optimizer, label, values)).runs.append(run)
        groups += sorted(own.values(), key=lambda s: [_sort_key(v, PAPER_DEFAULTS.get(k)) for k, v in s.values.items()])
    for setting in groups:
        setting.runs.sort(key=lambda r: (_sort_key(r.summary.seed), str(r.path)))
    return groups


def runs_of(groups: list[Setting]) -> list[Run]:
    """The runs of ``groups``, setting by setting."""
    return [run for setting in groups for run in setting.runs]


def ner_corpora(runs: list[Run]) -> list[str]:
    """The corpora the NER runs trained on: OntoNotes, or the folder name of the column files."""

    def corpus(run: Run) -> str:
        config = flat_config(run)
        if config.get("data.source", "hub") in ONTONOTES_SOURCES:
            return "OntoNotes"
        return Path(str(config.get("data.data_dir"))).name or str(config.get("data.data_dir"))

    return sorted({corpus(r) for r in runs})


def _is_reading(setting: Setting, reading: Reading, at: Mapping[str, Any]) -> bool:
    """Whether every run of ``setting`` has Table 1's values and the rest of the paper's setting at its scale (a
    run that differs, an ablation such as the per-token NER loss of results/ner-msra, belongs to no reading), but
    for the values ``at`` gives instead, and, for the optimizers with an accumulator, the reading's G_0."""
    expected = TABLE1_VALUES.get(setting.optimizer)
    if expected is None:
        return False
    table1 = {key: value for key, value in expected.items() if key not in at}
    # A run made before a key of the paper's setting existed has the paper's value of it, not the one ``at`` asks
    # for; a key outside it (the decay) is Table 1's, checked above where ``at`` leaves it.
    rest = {**PAPER_DEFAULTS, **at}
    for run in setting.runs:
        config = flat_config(run)
        if any(config.get(key) != value for key, value in table1.items()):
            return False
        if any(config.get(key, PAPER_DEFAULTS.get(key, value)) != value for key, value in rest.items()):
            return False
        start = config.get("optimizer.initial_accumulator_value") or 0.0
        if setting.optimizer in reading.starts and start != reading.starts[setting.optimizer]:
            return False
    return True


def reading_settings(
    groups: list[Setting], reading: Reading, at: Mapping[str, Any] | None = None
) -> dict[str, Setting]:
    """Each optimizer's setting for ``reading``, where its runs have one; with ``at``, the setting that has these
    config values instead of the paper's (``{"data.train_fraction": 0.25}``: the reading on a quarter of the
    training data)."""
    found: dict[str, Setting] = {}
    for setting in groups:
        if setting.optimizer not in found and _is_reading(setting, reading, at or {}):
            found[setting.optimizer] = setting
    return found
