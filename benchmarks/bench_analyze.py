"""Benchmark: whole-process time and peak RSS of `rescomp analyze SPEC --json`, and in-process
definition-to-numbers time (load spec, build IR, run every pass).

Usage:  .venv/bin/python benchmarks/bench_analyze.py [--runs 5] [--all] [--out benchmarks/results/analyze.md]

``--all`` adds every bundled spec at its default input. Each whole-process run is a fresh
interpreter started through the installed console script; peak RSS comes from GNU time
(``measure.run_fresh``). Figures are medians. Timings depend on the machine: the output
names it and the date, and nothing here is asserted by the test suite.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

from measure import publish, run_fresh

CASES = [
    ("resnet50", []),
    ("resnet152", []),
    ("resnet_cifar", ["--set", "n=200"]),
]


def whole_process(exe: Path, spec: str, extra: list[str]) -> tuple[float, float]:
    """Wall seconds and peak RSS (MiB) of one `rescomp analyze --json` process."""
    run = run_fresh([str(exe), "analyze", spec, *extra, "--json"])
    assert run is not None
    if run.code != 0:
        raise SystemExit(f"rescomp analyze {spec} failed")
    return run.wall_s, run.rss_mib


def in_process(spec: str, extra: list[str]) -> float:
    from rescomp.errors import Loc
    from rescomp.lower import Overrides
    from rescomp.passes import analyze
    from rescomp.spec.load import build_graph

    params = {}
    if extra:
        key, _, value = extra[1].partition("=")
        params[key] = (int(value), Loc("<bench>"))
    start = time.perf_counter()
    analyze(build_graph(spec, Overrides(params)))
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--all", action="store_true", help="every bundled spec too")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    exe = Path(sys.executable).parent / "rescomp"
    parser_all = args.all
    cases = list(CASES)
    if parser_all:
        from rescomp.spec.library import ENTRIES

        cases += [(name, []) for name in ENTRIES if (name, []) not in cases]
    rows = []
    for spec, extra in cases:
        procs = [whole_process(exe, spec, extra) for _ in range(args.runs)]
        inproc = [in_process(spec, extra) for _ in range(args.runs)]
        label = " ".join([spec, *extra])
        rows.append(
            f"| `{label}` | {statistics.median(p[0] for p in procs):.3f} s "
            f"| {statistics.median(p[1] for p in procs):.0f} MiB "
            f"| {statistics.median(inproc) * 1000:.1f} ms |"
        )
    publish(
        f"python benchmarks/bench_analyze.py --runs {args.runs}{' --all' if parser_all else ''}",
        f"medians of {args.runs} runs.",
        "| spec | whole process (`rescomp analyze --json`) | peak RSS | in-process spec→numbers |",
        rows,
        args.out,
    )


if __name__ == "__main__":
    main()
