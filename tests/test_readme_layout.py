"""The README's Layout section names what is in the tree, and the tree holds nothing it leaves out."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def layout_paths() -> list[str]:
    """The paths of the Layout block, nested entries joined to the folder above them."""
    block = ROOT.joinpath("README.md").read_text(encoding="utf-8").split("## Layout", 1)[1].split("```")[1]
    paths, parent = [], ""
    for line in block.splitlines():
        match = re.match(r"^( *)(\S+)", line)
        if not match or not match.group(2).endswith(("/", ".py")):
            continue
        indent, name = match.groups()
        path = (parent + name) if indent else name
        if not indent:
            parent = name
        paths.append(path)
    return paths


def test_every_path_the_layout_names_exists():
    paths = layout_paths()
    assert "src/adamomentum/report/" in paths
    missing = [p for p in paths if not (ROOT / p).exists()]
    assert not missing, missing


def test_every_module_and_package_of_src_is_in_the_layout():
    named = set(layout_paths())
    package = ROOT / "src" / "adamomentum"
    parts = [
        p
        for p in package.iterdir()
        if p.name != "__init__.py" and not p.name.startswith((".", "__")) and (p.suffix == ".py" or p.is_dir())
    ]
    unnamed = [p.name for p in parts if f"src/adamomentum/{p.name}{'/' if p.is_dir() else ''}" not in named]
    assert not unnamed, unnamed


def test_the_readme_verdict_is_what_the_report_makes_of_the_committed_runs():
    """No verdict word, mean or interval in the README's verdict is typed by hand: the block is generated
    (``python -m adamomentum.report.headline README.md``) from the verdict folders' runs."""
    from adamomentum.report.headline import verdict_block

    assert verdict_block(ROOT) in ROOT.joinpath("README.md").read_text(encoding="utf-8")
