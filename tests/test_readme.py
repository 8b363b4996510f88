"""The README's package example runs as printed (a README that lies is a broken product)."""

from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)


def test_the_package_example_runs(capsys):
    blocks = [b for b in python_blocks() if "import bel" in b]
    assert blocks, "README.md has no python example that imports bel"
    for block in blocks:
        exec(compile(block, str(README), "exec"), {"__name__": "readme"})
    printed = capsys.readouterr().out.split("\n")
    assert printed[0].startswith("4 ")  # the model knows its member count
    assert printed[1] == "BatchEnsembleConv (4, 2, 10)"
    # bel.describe's table: only the head is per member, the conv stays shared (not selected)
    title = "BatchEnsemble of 4 members: 1 of 2 modules per member"
    assert any(line.startswith(title) for line in printed), printed
    assert any(line.startswith("conv  Conv ") and "shared" in line for line in printed), printed
