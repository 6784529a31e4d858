"""Golden snapshot of the composed configs: what every study's jobs and every single run train with.

The config groups are being reorganised (task -> model/data/trainer, a scale group in place of the
``${by_scale:FULL,SMALL}`` resolver). Each step of that must leave every run as it was, and this test proves it
against tests/fixtures/config_snapshot.json:

- for each study (conf/experiment/*.yaml x scale=full|small), every job its sweeper launches, in launch
  order: the job's own overrides, its run directory below ``hydra.sweep.dir`` (``hydra.sweep.subdir`` as Hydra's
  launcher resolves it) and its resolved, flattened config without ``hydra``. The fixture stores one base config
  per study (the study composed without a job's overrides) and, per job, only the keys whose values differ from
  it (``differs``) and the keys it lacks (``absent``), which keeps it small;
- for each task x optimizer, the resolved, flattened config of ``task=<task> optimizer=<optimizer>``.

Machine-dependent values: every ``${oc.env:NAME,default}`` in conf/ (today PTB_DIR in data.data_dir) is composed
with NAME unset, so the snapshot holds the default written in conf/ on every machine and in CI. ``device`` and
``threads`` need nothing: the config holds ``auto`` and ``null``, which only a run resolves.

Regenerate the fixture deliberately, never to make the test pass:
    ADAMOMENTUM_UPDATE_SNAPSHOT=1 .venv/bin/pytest tests/test_config_snapshot.py -p no:cacheprovider
A regenerated fixture goes into its own commit, whose message says why the configs changed.

The study cases compose 722 jobs, each by Hydra as its sweep would (about a minute in all, at most 5 s a study,
on a 2-core machine busy with two trainings), so they are marked slow: run them at each checkpoint of the
migration, not between edits.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any, cast

import pytest
from hydra._internal.callbacks import Callbacks
from hydra._internal.config_loader_impl import ConfigLoaderImpl
from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
from hydra._internal.utils import create_config_search_path
from hydra.core.hydra_config import HydraConfig
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.plugins import Plugins
from hydra.types import HydraContext
from omegaconf import DictConfig, OmegaConf, open_dict

from adamomentum.config import CONFIG_DIR, flatten
from conftest import compose_cfg
from test_config import EXPERIMENTS, OPTIMIZER_NAMES, TASK_NAMES, compose_study

SNAPSHOT = Path(__file__).parent / "fixtures" / "config_snapshot.json"
UPDATE_VARIABLE = "ADAMOMENTUM_UPDATE_SNAPSHOT"
SCALES = ("full", "small")
SINGLE_RUNS = [f"task={task} optimizer={optimizer}" for task in TASK_NAMES for optimizer in OPTIMIZER_NAMES]
# The environment variables conf/ reads: unset while composing, so that the snapshot holds their defaults.
CONF_ENV_VARIABLES = sorted(
    {name for path in CONFIG_DIR.rglob("*.yaml") for name in re.findall(r"\$\{oc\.env:(\w+)", path.read_text())}
)
# Lines of differences shown when the test fails; a changed default shows up in every job.
SHOWN_DIFFERENCES = 40


def as_json(config: dict[str, Any], key: str) -> str:
    """A value as JSON text, the fixture's form, which tells 1 from 1.0 and from true (== does not)."""
    return json.dumps(config[key]) if key in config else "(absent)"


def resolved(cfg: DictConfig) -> dict[str, Any]:
    """The config's keys as written on the command line, with their resolved values."""
    return flatten(cast(dict[str, Any], OmegaConf.to_container(cfg, resolve=True)))


def without_hydra(cfg: DictConfig) -> dict[str, Any]:
    """``resolved`` of what the app receives: Hydra's launcher deletes the hydra node (hydra.core.utils.run_job)."""
    with open_dict(cfg):
        del cfg["hydra"]
    return resolved(cfg)


def run_subdir(job: DictConfig) -> str:
    """The job's run directory below the sweep's, resolved as Hydra's launcher does: with the job's config set as
    HydraConfig, which ``${hydra:job.override_dirname}`` reads (Hydra itself built that name from the job's
    overrides when it composed the job)."""
    hydra_config = HydraConfig.instance()
    previous = hydra_config.cfg
    hydra_config.set_config(job)
    try:
        return str(OmegaConf.select(job, "hydra.sweep.subdir"))
    finally:
        hydra_config.cfg = previous  # later compositions must not see this job as the running one


def sweep_jobs(study: DictConfig, arguments: list[str]) -> list[list[str]]:
    """Each job's overrides, in launch order, from the sweeper the study names, built as a multirun builds it."""
    loader = ConfigLoaderImpl(config_search_path=create_config_search_path(str(CONFIG_DIR)))
    sweeper = Plugins.instance().instantiate_sweeper(
        hydra_context=HydraContext(config_loader=loader, callbacks=Callbacks()),
        task_function=lambda _: None,
        config=study,
    )
    # Hydra loads plugin classes apart from sys.modules, so isinstance cannot tell the sweepers apart: the run_list
    # sweeper is the one that lists its jobs itself.
    job_overrides = getattr(sweeper, "job_overrides", None)
    if job_overrides is not None:
        return job_overrides(arguments)
    assert type(sweeper).__name__ == BasicSweeper.__name__, f"no job list for {type(sweeper)}"
    # BasicSweeper.sweep up to its launch: its params, then the command line, as a Cartesian product.
    basic = cast(BasicSweeper, sweeper)
    overrides = OverridesParser.create(config_loader=loader).parse_overrides([*basic._parse_config(), *arguments])
    return [job for batch in basic.split_arguments(overrides, basic.max_batch_size) for job in batch]


@cache  # ADAMOMENTUM_UPDATE_SNAPSHOT=1 composes every study first; the tests then compare what it wrote with this
def study_snapshot(experiment: str, scale: str) -> dict[str, Any]:
    """The fixture's entry for a study: its sweep directory, base config and jobs."""
    arguments = [f"experiment={experiment}", f"scale={scale}"]  # the study's command line
    study = compose_study(*arguments)
    sweep_dir = str(study.hydra.sweep.dir)
    jobs = sweep_jobs(study, arguments)
    base = without_hydra(study)
    entries = []
    for overrides in jobs:
        # Both sweepers append the command line to each job's own overrides.
        assert overrides[-len(arguments) :] == arguments, overrides
        job = compose_study(*overrides)
        subdir = run_subdir(job)
        config = without_hydra(job)
        entries.append(
            {
                "overrides": " ".join(overrides[: -len(arguments)]),
                "run_dir": subdir,
                "differs": {key: value for key, value in config.items() if as_json(base, key) != as_json(config, key)},
                "absent": sorted(base.keys() - config.keys()),
            }
        )
    return {"sweep_dir": sweep_dir, "base": base, "jobs": entries}


def today() -> dict[str, Any]:
    """What the fixture holds, composed from today's conf/."""
    return {
        "single_runs": {overrides: resolved(compose_cfg(overrides.split())) for overrides in SINGLE_RUNS},
        "studies": {f"{e}/{scale}": study_snapshot(e, scale) for e in EXPERIMENTS for scale in SCALES},
    }


@pytest.fixture(scope="module")
def snapshot() -> Iterator[dict[str, Any]]:
    """The fixture's contents, with conf/'s environment variables unset while the module's tests compose."""
    with pytest.MonkeyPatch.context() as patch:
        for name in CONF_ENV_VARIABLES:
            patch.delenv(name, raising=False)
        if os.environ.get(UPDATE_VARIABLE) == "1":
            SNAPSHOT.write_text(json.dumps(today(), indent=1, sort_keys=True) + "\n")
        yield json.loads(SNAPSHOT.read_text())


def job_config(base: dict[str, Any], job: dict[str, Any]) -> dict[str, Any]:
    """A job's whole flattened config from its study's base and the job's differences."""
    return {key: value for key, value in base.items() if key not in job["absent"]} | job["differs"]


def config_differences(where: str, snapshot: dict[str, Any], now: dict[str, Any]) -> list[str]:
    """One line per key whose value differs."""
    return [
        f"{where}: {key}: snapshot {as_json(snapshot, key)}, now {as_json(now, key)}"
        for key in sorted(snapshot.keys() | now.keys())
        if as_json(snapshot, key) != as_json(now, key)
    ]


def report(differences: list[str]) -> str:
    more = len(differences) - SHOWN_DIFFERENCES
    return "\n".join(differences[:SHOWN_DIFFERENCES] + ([f"... and {more} more"] if more > 0 else []))


def test_the_snapshot_covers_every_study_and_single_run(snapshot: dict[str, Any]) -> None:
    assert sorted(snapshot["single_runs"]) == sorted(SINGLE_RUNS)
    assert sorted(snapshot["studies"]) == sorted(f"{e}/{scale}" for e in EXPERIMENTS for scale in SCALES)


@pytest.mark.parametrize("overrides", SINGLE_RUNS)
def test_a_single_run_composes_as_in_the_snapshot(snapshot: dict[str, Any], overrides: str) -> None:
    differences = config_differences(
        overrides, snapshot["single_runs"][overrides], resolved(compose_cfg(overrides.split()))
    )
    assert not differences, report(differences)


@pytest.mark.slow
@pytest.mark.parametrize("scale", SCALES)
@pytest.mark.parametrize("experiment", EXPERIMENTS)
def test_every_job_of_a_study_composes_as_in_the_snapshot(
    snapshot: dict[str, Any], experiment: str, scale: str
) -> None:
    study = f"{experiment}/{scale}"
    before, now = snapshot["studies"][study], study_snapshot(experiment, scale)
    differences = []
    if before["sweep_dir"] != now["sweep_dir"]:
        differences.append(f"{study}: sweep dir: snapshot {before['sweep_dir']!r}, now {now['sweep_dir']!r}")
    listed_before = [job["overrides"] for job in before["jobs"]]
    listed_now = [job["overrides"] for job in now["jobs"]]
    if listed_before != listed_now:
        gone = [j for j in listed_before if j not in listed_now]
        new = [j for j in listed_now if j not in listed_before]
        differences.append(f"{study}: the jobs or their order changed; only in the snapshot: {gone}, only now: {new}")
    jobs_now = {job["overrides"]: job for job in now["jobs"]}
    for job in before["jobs"]:
        twin = jobs_now.get(job["overrides"])
        if twin is None:
            continue
        where = f"{study}, job {job['overrides']!r}"
        if job["run_dir"] != twin["run_dir"]:
            differences.append(f"{where}: run dir: snapshot {job['run_dir']!r}, now {twin['run_dir']!r}")
        differences += config_differences(where, job_config(before["base"], job), job_config(now["base"], twin))
    assert not differences, report(differences)
