"""A Hydra sweeper that launches an explicit list of runs instead of a Cartesian product.

A study whose runs do not form a grid (the Penn Treebank verdict: Table 1's four
optimizers at seeds 0-2, AdaMomentum and AdaGrad with the authors' accumulator
start at seeds 0-2, one run at another start) lists them in its experiment config:

    defaults:
      - override /hydra/sweeper: run_list
    hydra:
      sweeper:
        runs:
          - optimizer=adamomentum optimizer.initial_accumulator_value=0.1 seed=0
          - optimizer=sgd seed=1

Each entry is one run's overrides, written as on the command line. Overrides
given on the command line apply to every run. The runs go to the launcher in
the listed order and in one batch, so that a parallel launcher
(``hydra/launcher=joblib hydra.launcher.n_jobs=2``) starts the next run as soon
as a worker frees up.

Hydra loads sweepers only from the ``hydra_plugins`` namespace package, hence
this package's place beside ``adamomentum``.
"""

# No `from __future__ import annotations`: Hydra imports plugin modules without registering them in
# sys.modules, and dataclasses cannot resolve string annotations then.
import logging
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hydra.core.config_store import ConfigStore
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.plugins import Plugins
from hydra.errors import HydraException
from hydra.plugins.sweeper import Sweeper
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig, OmegaConf

log = logging.getLogger(__name__)


@dataclass
class RunListSweeperConf:
    _target_: str = "hydra_plugins.adamomentum_run_list.RunListSweeper"
    runs: list[str] = field(default_factory=list)


ConfigStore.instance().store(group="hydra/sweeper", name="run_list", node=RunListSweeperConf, provider="adamomentum")


class RunListSweeper(Sweeper):
    def __init__(self, runs: list[str]) -> None:
        self.runs = list(runs)
        self.hydra_context: HydraContext | None = None
        self.config: DictConfig | None = None
        self.launcher: Any = None

    def setup(self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig) -> None:
        self.hydra_context = hydra_context
        self.config = config
        self.launcher = Plugins.instance().instantiate_launcher(
            hydra_context=hydra_context, task_function=task_function, config=config
        )

    def job_overrides(self, arguments: list[str]) -> list[list[str]]:
        """Each run's overrides followed by the command line's, which therefore win."""
        if not self.runs:
            raise HydraException(
                "hydra/sweeper=run_list has no runs: list them under hydra.sweeper.runs in the experiment config."
            )
        parser = OverridesParser.create(config_loader=self.hydra_context.config_loader)
        sweeps = [o.input_line for o in parser.parse_overrides(arguments) if o.is_sweep_override()]
        if sweeps:
            raise HydraException(
                f"hydra/sweeper=run_list runs the listed runs only, but the command line sweeps {', '.join(sweeps)}; "
                "give single values there, or add the runs to hydra.sweeper.runs."
            )
        jobs = []
        for entry in self.runs:
            overrides = shlex.split(entry)
            bad = [o.input_line for o in parser.parse_overrides(overrides) if o.is_sweep_override()]
            if bad:
                raise HydraException(
                    f"hydra.sweeper.runs entry {entry!r} sweeps {', '.join(bad)}; each entry is one run: "
                    "write one entry per value."
                )
            jobs.append([*overrides, *arguments])
        return jobs

    def sweep(self, arguments: list[str]) -> Any:
        jobs = self.job_overrides(arguments)
        sweep_dir = Path(self.config.hydra.sweep.dir)
        sweep_dir.mkdir(parents=True, exist_ok=True)
        OmegaConf.save(self.config, sweep_dir / "multirun.yaml")
        self.validate_batch_is_legal(jobs)
        log.info("run_list: launching %d runs into %s", len(jobs), sweep_dir)
        returns = self.launcher.launch(jobs, initial_job_idx=0)
        for r in returns:
            _ = r.return_value  # raises the run's exception, as Hydra's basic sweeper does
        return [returns]
