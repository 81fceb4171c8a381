"""Hostile inputs: time and peak memory of `rescomp analyze` on expansion bombs and absurd sizes.

Usage:  .venv/bin/python benchmarks/bench_hostile.py [--out benchmarks/results/hostile.md]
Each case runs in a fresh process (peak RSS from os.wait4); every case must end with a clear error
(exit 1) or an answer (exit 0), fast, with bounded memory.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from measure import publish, run_fresh


def cases() -> dict[str, str]:
    laughs = ["name: bomb", "input: [3, 32, 32]", "a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    laughs += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 10)]
    laughs.append("layers: [{op: relu}]")
    merge = ["name: merge", "input: [3, 32, 32]", "m0: &m0 {k0: 1, k1: 2, k2: 3, k3: 4}"]
    merge += [
        f"m{i}: &m{i} {{<<: [*m{i - 1}, *m{i - 1}], x{i}: [*m{i - 1}, *m{i - 1}, *m{i - 1}]}}" for i in range(1, 24)
    ]
    merge.append("layers: [{op: relu}]")
    return {
        "billion laughs (10^10 values by aliases)": "\n".join(laughs) + "\n",
        "merge-key and alias bomb (3^23 values)": "\n".join(merge) + "\n",
        "nesting 10,000 deep": "name: deep\ninput: [3, 8, 8]\nlayers: " + "[" * 10000 + "]" * 10000 + "\n",
        "10^12 output channels": "name: wide\ninput: [3, 32, 32]\nlayers:\n  - {op: conv, out: 1000000000000}\n",
        "10^9-pixel input": "name: px\ninput: [3, 31623, 31623]\nlayers:\n  - {op: conv, out: 16}\n",
        "10^6 repeats": "name: rep\ninput: [3, 8, 8]\nlayers:\n  - {repeat: 1000000, layers: [{op: relu}]}\n",
        "exponent tower 10**10**10": "name: pow\ninput: [3, 8, 8]\nlayers:\n  - {op: conv, out: '10**10**10'}\n",
        "100 kB expression": "name: expr\ninput: [3, 8, 8]\nlayers:\n  - {op: conv, out: '" + "1+" * 50000 + "1'}\n",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    exe = Path(sys.executable).parent / "rescomp"
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for label, text in cases().items():
            spec = Path(tmp) / "case.yaml"
            spec.write_text(text)
            run = run_fresh([str(exe), "analyze", str(spec), "--json"])
            assert run is not None
            err = run.stderr.strip().replace(str(spec), "case.yaml")
            outcome = err.splitlines()[0][:110] if err else "answer"
            rows.append(f"| {label} | {run.code} | {run.wall_s:.2f} s | {run.rss_mib:.0f} MiB | {outcome} |")
    publish(
        "python benchmarks/bench_hostile.py",
        "whole `rescomp analyze --json` process per case.",
        "| case | exit | time | peak RSS | outcome |",
        rows,
        args.out,
    )


if __name__ == "__main__":
    main()
