"""Setting inference: which config values tell a run's setting apart, and whether it is the paper's."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from adamomentum.config import flatten
from adamomentum.report.runs import Run

# Keys that say where or how a run ran, not what it computed: never part of a "setting".
ENVIRONMENT_KEYS = {"seed", "device", "threads", "keep_freed_memory", "progress", "resume", "log_interval",
                    "checkpoint_interval", "task.data_dir", "task.download", "deterministic"}
# NER sources that hold OntoNotes, the paper's corpus; column files may hold any corpus (MSRA, say).
ONTONOTES_SOURCES = ("hub", "conll2012")


def flat_config(run: Run) -> dict[str, Any]:
    return flatten(run.summary.get("config", {}))


def comparable_with_paper(run: Run) -> bool:
    """Whether a run trained on the paper's data at its scale: not a small study run, a share of the data,
    a batch limit, or (NER) a corpus other than OntoNotes."""
    config = flat_config(run)
    return (
        config.get("study.scale", "full") == "full"
        and config.get("task.train_fraction", 1.0) == 1.0
        and config.get("task.max_batches") is None
        and (run.task != "ner" or config.get("task.source", "hub") in ONTONOTES_SOURCES)
    )


def settings(runs: list[Run]) -> dict[tuple[str, str], list[Run]]:
    """Runs grouped by optimizer and by the config values that vary between that optimizer's runs."""
    by_optimizer: dict[str, list[Run]] = {}
    for run in runs:
        by_optimizer.setdefault(run.optimizer, []).append(run)
    groups: dict[tuple[str, str], list[Run]] = {}
    for optimizer, members in by_optimizer.items():
        configs = [flat_config(r) for r in members]
        keys = sorted({k for c in configs for k in c} - ENVIRONMENT_KEYS)
        # A key that older runs lack came with a later version, whose default keeps the old behaviour:
        # only the runs that record it can differ in it.
        varying = [k for k in keys if len({repr(c[k]) for c in configs if k in c}) > 1]
        for run, config in zip(members, configs):
            label = ", ".join(f"{k}={config.get(k)}" for k in varying) or "Table 1"
            groups.setdefault((optimizer, label), []).append(run)
    return groups


def setting_labels(runs: list[Run]) -> dict[int, str]:
    """Each run's setting label, by ``id(run)``."""
    return {id(run): setting for (_, setting), members in settings(runs).items() for run in members}


def ner_corpora(runs: list[Run]) -> list[str]:
    """The corpora the NER runs trained on: OntoNotes, or the folder name of the column files."""

    def corpus(run: Run) -> str:
        config = flat_config(run)
        if config.get("task.source", "hub") in ONTONOTES_SOURCES:
            return "OntoNotes"
        return Path(str(config.get("task.data_dir"))).name or str(config.get("task.data_dir"))

    return sorted({corpus(r) for r in runs})
