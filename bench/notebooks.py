"""Run time and peak memory of every notebook, top to bottom in a fresh kernel.

Each notebook runs in a child process of its own; the peak resident memory reported is the
kernel's (``ru_maxrss`` of that process's reaped children). Targets: <= 30 s, <= 1.5 GB.
"""

from __future__ import annotations

import json
import subprocess
import sys

from tools.notebooks import NOTEBOOKS, stems

_CHILD = """
import json, resource, sys
from pathlib import Path
from tools.notebooks import execute
_, seconds = execute(Path(sys.argv[1]))
peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
print(json.dumps({"seconds": seconds, "peak_mb": peak_kb / 1024}))
"""


def measure(name: str) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, "-c", _CHILD, str(NOTEBOOKS / f"{name}.py")],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    for name in stems():
        figures = measure(name)
        print(f"notebook_seconds_{name}: {figures['seconds']:.1f}")
        print(f"notebook_peak_mb_{name}: {figures['peak_mb']:.0f}")


if __name__ == "__main__":
    main()
