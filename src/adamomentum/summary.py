"""summary.json: the record a run directory keeps of its run, one schema for every writer (a run, the report's
view of a run still training, the tests' synthetic runs) and every reader (the report, rerun, the scripts)."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from adamomentum.config import upgrade_stored

# The records of a run directory: this summary, one line per evaluation (run_log.RunLog), and the log Hydra
# writes for the job named train (adamomentum.train).
SUMMARY = "summary.json"
METRICS = "metrics.jsonl"
TRAIN_LOG = "train.log"
# How a run ended: trained to its end, or stopped at a non-finite loss or gradient. Anything else is a run
# still training (the report's "unfinished (step ..., epoch ...)").
FINISHED = ("completed", "diverged")


@dataclass
class RunSummary:
    """A run's numbers and provenance. Optional fields a run did not produce stay out of the file."""

    task: str
    optimizer: str
    seed: int | None
    # completed | diverged | unfinished (step s, epoch e)
    status: str
    # The whole config, resolved, as the run trained it.
    config: dict[str, Any]
    steps: int | None = None
    epochs_completed: int | None = None
    wall_time_s: float | None = None
    train_time_s: float | None = None
    eval_time_s: float | None = None
    peak_rss_mb: float | None = None
    minor_faults_per_batch: float | None = None
    diverged_at_step: int | None = None
    # The last evaluation (metrics.jsonl's record), and the one of best validation score.
    final: dict[str, Any] = field(default_factory=dict)
    best_valid: dict[str, Any] = field(default_factory=dict)
    # What the task computes once after training (PTB: the test split as one stream; NER: the data's sizes).
    task_numbers: dict[str, Any] = field(default_factory=dict)
    # The device of the launch (a CPU's model, instruction sets, bf16 and threads), and every device and commit
    # that trained it where a resume changed them.
    device: str | None = None
    devices: list[str | None] | None = None
    torch: str | None = None
    git_commit: str | None = None
    git_commits: list[str | None] | None = None
    command: str | None = None

    @property
    def completed(self) -> bool:
        return self.status == "completed"

    @property
    def finished(self) -> bool:
        return self.status in FINISHED

    def to_dict(self) -> dict[str, Any]:
        """The file's content: the fields in their order, the task's numbers after the evaluations, the
        config last, optional fields a run did not produce left out."""
        data = {k: v for k, v in asdict(self).items() if v is not None and k not in ("task_numbers", "config")}
        ordered: dict[str, Any] = {}
        for key, value in data.items():
            ordered[key] = value
            if key == "best_valid" or (key == "final" and "best_valid" not in data):
                ordered.update(self.task_numbers)
        if "final" not in data:
            ordered.update(self.task_numbers)
        return {**ordered, "config": self.config}

    def write(self, run_dir: Path) -> Path:
        path = run_dir / SUMMARY
        path.write_text(json.dumps(self.to_dict(), indent=2) + "\n", encoding="utf-8")
        return path

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunSummary:
        """A summary as a file holds it: keys of the schema to their fields, the rest are the task's numbers; the
        config in today's keys."""
        known = {f.name for f in fields(cls)} - {"task_numbers"}
        return cls(
            **{k: v for k, v in data.items() if k in known and k != "config"},
            config=upgrade_stored(data["config"]),
            task_numbers={k: v for k, v in data.items() if k not in known},
        )

    @classmethod
    def read(cls, run_dir: Path) -> RunSummary:
        return cls.from_dict(json.loads((run_dir / SUMMARY).read_text(encoding="utf-8")))
