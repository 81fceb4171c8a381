"""Cross-check every bundled spec against every installed peer counter: the residual of each tool's
total after its census formula (rescomp/crosscheck.py) must be zero.

    PYTHONPATH=/path/to/peers .venv/bin/python scripts/crosscheck_library.py [--size 64] [names...]

Runs at ``--size`` x ``--size`` (default 64, small enough for every bundled net on 2 CPU cores; the
census is exact at any size) and batch 1. Prints one Markdown row per spec and exits 1 on any non-zero
residual or failed tool. Peers that are not installed are listed as skipped.
"""

from __future__ import annotations

import argparse
import datetime
import importlib.metadata
import platform
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import rescomp
from rescomp.crosscheck import FORMULAS, crosscheck
from rescomp.passes import analyze
from rescomp.spec.library import ENTRIES

PACKAGES = {"flopcounter": "torch", "fvcore": "fvcore", "ptflops": "ptflops", "thop": "thop", "torchinfo": "torchinfo"}


def version(package: str) -> str:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("names", nargs="*", help="bundled names (default: all)")
    parser.add_argument("--size", type=int, default=64)
    args = parser.parse_args()
    names = args.names or list(ENTRIES)
    tools = list(FORMULAS)
    peers = ", ".join(f"{p} {version(p)}" for p in dict.fromkeys(PACKAGES.values()))
    print(f"{datetime.date.today()}, {platform.machine()}, Python {platform.python_version()}; {peers}")
    print(f"input {args.size}x{args.size}, batch 1; cell: the tool's residual after its formula\n")
    print("| spec | " + " | ".join(tools) + " | seconds |")
    print("| --- | " + " | ".join("---:" for _ in tools) + " | ---: |")
    bad = 0
    for name in names:
        start = time.perf_counter()
        side = args.size
        graph = rescomp.graph(name, input_shape=(3, side, side))
        results = {r.tool: r for r in crosscheck(graph, analyze(graph), tools)}
        cells = []
        for tool in tools:
            r = results[tool]
            if r.total is None:
                skipped = r.note.startswith("skipped")
                cells.append("skipped" if skipped else f"failed: {r.note[:40]}")
                bad += not skipped
            else:
                cells.append(f"{r.residual:,}")
                bad += r.residual != 0
        print(f"| {name} | " + " | ".join(cells) + f" | {time.perf_counter() - start:.1f} |", flush=True)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
