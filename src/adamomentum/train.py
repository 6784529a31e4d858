"""Command line: ``python -m adamomentum.train task=<ptb|ner> optimizer=<name> [overrides]``.

Composes the config from conf/, trains (``adamomentum.run``), and writes into the run directory
(``outputs/<task>/<optimizer>/<time>/`` by default): TensorBoard event files, ``metrics.jsonl`` (one line
per evaluation), ``summary.json`` and ``train.log``. Argument checks that must come before Hydra makes a
run directory, and the printing of errors, live here; nothing imports this module.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

try:
    import hydra
    from hydra.core.hydra_config import HydraConfig
    from omegaconf import DictConfig
except ModuleNotFoundError as missing:  # a torch-only install: the optimizer works, the experiments do not
    sys.exit(
        f"error: {missing.name} is not installed, and the experiments need it: pip install "
        "'adamomentum[experiments]' (make venv installs everything); the optimizer alone needs only torch."
    )

from adamomentum.checkpoint import CHECKPOINT, PREVIOUS
from adamomentum.config import CONFIG_DIR, current_key, schema_keys
from adamomentum.errors import ConfigError, UserError
from adamomentum.process import bf16_refusal, resolve_device, threads_per_worker
from adamomentum.resume import config_for_resume, hydra_value, unquoted
from adamomentum.run import run, validate
from adamomentum.signals import Interrupted
from adamomentum.summary import METRICS, SUMMARY


@hydra.main(config_path=str(CONFIG_DIR), config_name="config", version_base=None)
def _hydra_main(cfg: DictConfig) -> None:
    hydra_cfg = HydraConfig.get()
    run_dir = Path(hydra_cfg.runtime.output_dir)
    checkpoint = None
    try:
        if cfg.resume is not None:
            cfg, checkpoint = config_for_resume(cfg, list(hydra_cfg.overrides.task))
            run_dir = Path(cfg.resume)
        if cfg.threads is None and "joblib" in str(hydra_cfg.launcher.get("_target_", "")):
            cfg.threads = threads_per_worker(hydra_cfg.launcher.n_jobs)
        run(cfg, run_dir, checkpoint)
    except Interrupted as e:
        print(str(e), file=sys.stderr)
        sys.exit(e.exit_code)
    except UserError as e:
        if os.environ.get("HYDRA_FULL_ERROR") == "1":
            raise
        _remove_if_nothing_ran(run_dir)
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)


# What a run directory holds once training has started; one without them is only a failed start's.
RUN_RECORDS = (CHECKPOINT, PREVIOUS, METRICS, SUMMARY)


def _remove_if_nothing_ran(run_dir: Path) -> None:
    """Remove the run directory Hydra made for a start that failed before training, so that mistakes leave no
    folders behind; a directory with a run's records in it (a resume's) is left alone."""
    if run_dir.is_dir() and not any((run_dir / name).exists() for name in RUN_RECORDS):
        shutil.rmtree(run_dir, ignore_errors=True)


def _resume_in_place(argv: list[str]) -> list[str]:
    """``resume=DIR`` logs into DIR itself and leaves DIR's .hydra record of the first launch alone. DIR may
    come in Hydra's quotes, as the command a stopped run prints has it (a sweep's directory names hold ``=``
    and ``,``)."""
    resume = [unquoted(a.split("=", 1)[1]) for a in argv if a.startswith("resume=")]
    if not resume or resume[-1] in ("null", "") or any(a.startswith("hydra.run.dir=") for a in argv):
        return argv
    run_dir = Path(resume[-1])
    if not run_dir.is_dir():
        raise ConfigError(f"resume={run_dir}: no such run directory; pass the folder that holds checkpoint.pt.")
    return [*argv, f"hydra.run.dir={hydra_value(run_dir)}", "hydra.output_subdir=null"]


def _check_output_dirs(argv: list[str]) -> None:
    """Fail before Hydra does (with a traceback) when run directories cannot be created."""
    targets = [a.split("=", 1)[1] for a in argv if a.startswith(("hydra.run.dir=", "hydra.sweep.dir="))]
    for target in targets or ["outputs"]:
        existing = Path(target)
        while not existing.exists() and existing != existing.parent:
            existing = existing.parent
        if not existing.is_dir() or not os.access(existing, os.W_OK):
            problem = "is not a directory" if not existing.is_dir() else "is not writable"
            raise ConfigError(
                f"cannot create run directories under {target}: {existing} {problem}; pass "
                "hydra.run.dir=<writable folder> (hydra.sweep.dir for --multirun) or start from a "
                "writable directory."
            )


def _check_appended_keys(argv: list[str]) -> None:
    """Refuse ``+key=value`` for a key the schema does not have: Hydra would add it, and a typo
    (``+optimizer.lrr=0.1``) would become a full run at the default. Constructor arguments without a field
    of their own go under ``optimizer.extra``."""
    for arg in argv:
        if not arg.startswith("+") or "=" not in arg:
            continue
        key = arg.lstrip("+").split("=", 1)[0]
        if key.startswith(("optimizer.extra.", "hydra.", "hydra/")) or "/" in key:
            continue
        parent, _, leaf = key.rpartition(".")
        known = schema_keys(parent)
        if known is not None and leaf not in known:
            raise ConfigError(
                f"{arg}: {key} is not a config key (and + adds keys, so a typo would be trained "
                f"at the default); {parent or 'the top level'} has: {', '.join(sorted(known))}."
            )


def _check_scale(argv: list[str]) -> None:
    """Refuse ``study.scale=...``: it records the scale group's choice, and setting it alone would label a
    full-size run small (or the reverse)."""
    for arg in argv:
        if arg.lstrip("+~").startswith("study.scale="):
            value = arg.split("=", 1)[1]
            raise ConfigError(
                f"{arg}: the scale is a config group now (conf/scale/), which sets study.scale and the values "
                f"it stands for; pass scale={value or 'small'} instead."
            )


def _check_moved_keys(argv: list[str]) -> None:
    """Refuse a key that has moved (``task.epochs=1``, now ``trainer.epochs=1``) with its new name, rather
    than Hydra's "Key 'epochs' is not in struct"."""
    for arg in argv:
        key, equals, value = arg.lstrip("+~").partition("=")
        if (new := current_key(key)) != key:
            # The schema has the new key, so neither + (add a key) nor ~ (delete one) applies to it.
            raise ConfigError(f"{arg}: {key} is {new} now; pass {new}={value if equals else '<value>'} instead.")


def _first_line(error: Exception) -> str:
    """Hydra's and OmegaConf's errors run over several lines (available options, full key, object type):
    the first, and the options where Hydra lists them."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    head = (lines[0] if lines else type(error).__name__).rstrip(".")
    options = getattr(error, "options", None)
    if options:
        return f"{head}; choose one of: {', '.join(options)}."
    cause = error.__cause__
    cause_lines = [line.strip() for line in str(cause).splitlines() if line.strip()] if cause else []
    return f"{head}: {cause_lines[0]}" if cause_lines else f"{head}."


def _check_composes(argv: list[str]) -> None:
    """Compose a single run's config as Hydra will, and check it, so that a mistake (an unknown config or
    key, a value of the wrong type, a value out of range) is one line and exit 2, before Hydra makes a run
    directory. A sweep (--multirun, or a value list) is checked by each of its runs."""
    if any(a in ("-m", "--multirun") or a.startswith("-") for a in argv) or any(_is_sweep(a) for a in argv):
        return
    from hydra import compose, initialize_config_dir
    from hydra.errors import HydraException
    from omegaconf import OmegaConf
    from omegaconf.errors import OmegaConfBaseException

    try:
        with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base=None):
            cfg = compose("config", overrides=argv)
        OmegaConf.resolve(cfg)
    except (HydraException, OmegaConfBaseException, ValueError) as e:
        raise ConfigError(_first_line(e)) from None
    if cfg.get("resume") is None:
        validate(cfg)


def _is_sweep(arg: str) -> bool:
    """Whether an override lists values (``optimizer=sgd,adagrad``) outside brackets and quotes."""
    value = arg.split("=", 1)[1] if "=" in arg else ""
    depth, quote = 0, ""
    for char in value:
        if quote:
            quote = "" if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char in "[{(":
            depth += 1
        elif char in "]})":
            depth -= 1
        elif char == "," and depth == 0:
            return True
    return value.startswith(("range(", "choice(", "glob("))


def _check_precision(argv: list[str]) -> None:
    """Refuse bf16 where the CPU cannot run it before Hydra makes a run directory (``validate`` checks the
    composed config again, for a precision an experiment config sets)."""
    if "precision=bf16" not in argv:
        return
    devices = [a.split("=", 1)[1] for a in argv if a.startswith("device=")]
    refusal = bf16_refusal(resolve_device(devices[-1] if devices else "auto"))
    if refusal:
        raise ConfigError(refusal)


def main() -> None:
    argv = sys.argv[1:]
    try:
        argv = _resume_in_place(argv)
        _check_output_dirs(argv)
        _check_moved_keys(argv)
        _check_appended_keys(argv)
        _check_scale(argv)
        _check_precision(argv)
        _check_composes(argv)
    except UserError as e:
        if os.environ.get("HYDRA_FULL_ERROR") == "1":
            raise
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)
    sys.argv = [sys.argv[0], *argv]
    _hydra_main()


if __name__ == "__main__":
    # Run the copy imported as adamomentum.train rather than this __main__ module: launchers that
    # pickle the task function (joblib, submitit) then pickle it by reference, not by value with
    # every global it touches (torch.backends.cudnn cannot be pickled).
    from adamomentum.train import main as imported_main

    imported_main()
