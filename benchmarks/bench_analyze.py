"""Benchmark: whole-process time and peak RSS of `rescomp analyze SPEC --json`, and in-process
definition-to-numbers time (load spec, build IR, run every pass).

Usage:  .venv/bin/python benchmarks/bench_analyze.py [--runs 5] [--out benchmarks/results/analyze.md]

Each whole-process run is a fresh interpreter started through the installed console script; peak
RSS comes from os.wait4 on that child. Figures are medians. Timings depend on the machine: the output
names it and the date, and nothing here is asserted by the test suite.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

CASES = [
    ("resnet50", []),
    ("resnet152", []),
    ("resnet_cifar", ["--set", "n=200"]),
]


def whole_process(exe: Path, spec: str, extra: list[str]) -> tuple[float, int]:
    start = time.perf_counter()
    proc = subprocess.Popen([str(exe), "analyze", spec, *extra, "--json"], stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"rescomp analyze {spec} failed")
    return elapsed, usage.ru_maxrss * 1024  # Linux reports KiB


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


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}, {platform.system()}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    exe = Path(sys.executable).parent / "rescomp"
    rows = []
    for spec, extra in CASES:
        procs = [whole_process(exe, spec, extra) for _ in range(args.runs)]
        inproc = [in_process(spec, extra) for _ in range(args.runs)]
        label = " ".join([spec, *extra])
        rows.append(
            f"| `{label}` | {statistics.median(p[0] for p in procs):.3f} s "
            f"| {statistics.median(p[1] for p in procs) / 2**20:.0f} MiB "
            f"| {statistics.median(inproc) * 1000:.1f} ms |"
        )
    text = "\n".join(
        [
            f"Command: `python benchmarks/bench_analyze.py --runs {args.runs}`  ",
            f"Machine: {machine()}  ",
            f"Date: {dt.date.today().isoformat()}; medians of {args.runs} runs.",
            "",
            "| spec | whole process (`rescomp analyze --json`) | peak RSS | in-process spec→numbers |",
            "| --- | --- | --- | --- |",
            *rows,
            "",
        ]
    )
    sys.stdout.write(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text)


if __name__ == "__main__":
    main()
