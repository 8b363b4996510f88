"""Run every benchmark module in turn: ``python -m bench [module ...]``."""

from __future__ import annotations

import importlib
import sys

MODULES = [
    "bench.layers",
    "bench.train",
    "bench.compile",
    "bench.batches",
    "bench.explorer",
    "bench.app",
    "bench.notebooks",
]


def main(argv: list[str]) -> None:
    for name in argv or MODULES:
        importlib.import_module(name if name.startswith("bench.") else f"bench.{name}").main()


if __name__ == "__main__":
    main(sys.argv[1:])
