"""The optimizer installs and imports with torch alone; the experiment stack is an extra that declares
everything the code imports; the wheel carries every package under src/; the README's drop-in
example runs as written."""

from __future__ import annotations

import ast
import importlib.metadata
import json
import re
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
# What a user who installs only the optimizer must not pay for (import names).
EXPERIMENT_STACK = (
    "hydra",
    "omegaconf",
    "datasets",
    "pyarrow",
    "tensorboard",
    "matplotlib",
    "seqeval",
    "scipy",
    "tqdm",
)


def distribution_name(requirement: str) -> str:
    """The normalised project name of a PEP 508 requirement (PEP 503 normalisation)."""
    name = re.match(r"[A-Za-z0-9._-]+", requirement).group(0)
    return re.sub(r"[-_.]+", "-", name).lower()


def top_level_imports(path: Path) -> set[str]:
    """Top-level module names a file imports absolutely."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_importing_the_optimizer_imports_no_third_party_module_beyond_torch():
    # torch itself imports tqdm (torch/hub.py) and numpy when they are installed, so the probe
    # imports torch first and looks at what the package adds on top.
    probe = (
        "import json, sys\n"
        "import torch\n"
        "loaded_by_torch = set(sys.modules)\n"
        "from adamomentum import AdaMomentum\n"
        "print(json.dumps(sorted({m.split('.')[0] for m in set(sys.modules) - loaded_by_torch})))\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    added = set(json.loads(result.stdout))
    assert "adamomentum" in added
    third_party = sorted(m for m in added - {"adamomentum"} if m not in sys.stdlib_module_names)
    assert third_party == [], (
        f"`from adamomentum import AdaMomentum` imports {third_party}; src/adamomentum/__init__.py and "
        "src/adamomentum/optim/ must need torch alone (move the import into the module that uses it)"
    )
    assert not added & set(EXPERIMENT_STACK)


def test_the_experiments_without_their_extra_fail_with_the_install_command():
    """A torch-only install (simulated by hiding hydra) gets the command that installs the experiments."""
    probe = (
        "import runpy, sys; sys.modules['hydra'] = None; sys.argv = ['adamomentum-train']; "
        "runpy.run_module('adamomentum.train', run_name='__main__')"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert result.returncode == 1
    assert result.stderr.strip() == (
        "error: hydra is not installed, and the experiments need it: pip install 'adamomentum[experiments]' "
        "(make venv installs everything); the optimizer alone needs only torch."
    )


def test_the_core_dependency_is_torch_alone():
    assert [distribution_name(r) for r in PYPROJECT["project"]["dependencies"]] == ["torch"]


def test_every_imported_package_is_declared():
    declared = {distribution_name(r) for r in PYPROJECT["project"]["dependencies"]}
    for requirements in PYPROJECT["project"]["optional-dependencies"].values():
        declared |= {distribution_name(r) for r in requirements}
    files = [*ROOT.glob("src/**/*.py"), *ROOT.glob("scripts/*.py"), *ROOT.glob("tests/*.py")]
    # tests/ and scripts/ run with their own folder on sys.path, so their files import each other by name.
    local = {p.name for p in (ROOT / "src").iterdir()} | {
        f.stem for f in files if f.parent.name in ("tests", "scripts")
    }
    distributions = importlib.metadata.packages_distributions()
    undeclared = {}
    for path in files:
        for module in top_level_imports(path) - local - set(sys.stdlib_module_names):
            providers = {distribution_name(d) for d in distributions.get(module, [])}
            if not providers & declared:
                undeclared.setdefault(module, []).append(str(path.relative_to(ROOT)))
    assert undeclared == {}, f"imported but declared nowhere in pyproject.toml (add each to an extra): {undeclared}"


def test_the_wheel_carries_every_package_under_src():
    packaged = {Path(p).name for p in PYPROJECT["tool"]["hatch"]["build"]["targets"]["wheel"]["packages"]}
    on_disk = {p.name for p in (ROOT / "src").iterdir() if p.is_dir() and any(p.rglob("*.py"))}
    missing = ", ".join(f"src/{name}" for name in sorted(on_disk - packaged))
    assert not missing, f"add {missing} to [tool.hatch.build.targets.wheel] packages in pyproject.toml"


def readme_example() -> str:
    """The Python block of the README section "AdaMomentum in your own training loop"."""
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## AdaMomentum in your own training loop\n", 1)[1].split("\n## ", 1)[0]
    return re.search(r"```python\n(.*?)```", section, re.DOTALL).group(1)


def test_the_readme_example_trains_with_an_explicit_accumulator_start():
    code = readme_example()
    # G_0 = 0, the constructor's default, blows up the Penn Treebank model: the example must show the choice.
    assert "initial_accumulator_value=" in code
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    first, last = map(float, re.search(r"mse ([\d.]+) -> ([\d.]+)", result.stdout).groups())
    assert last < first / 10, result.stdout
